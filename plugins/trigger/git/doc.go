// Package git is the "git" trigger plugin: it redeploys a workload when a
// watched branch or tag of a git repository moves, resolving refs with git
// ls-remote when an event carries no commit.
package git
