// Package git fetches one commit of a remote repository with the git CLI, and
// confines paths to the checkout it made.
package git
