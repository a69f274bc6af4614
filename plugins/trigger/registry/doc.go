// Package registry is the "registry" trigger plugin: it deploys the digest a container registry serves for the tag its policy (exact, glob, regex or semver) picks, on a push notification, a manual request, a cron tick or a poll.
package registry
