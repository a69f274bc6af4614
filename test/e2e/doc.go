// Package e2e drives the real binaries the way a user does: it builds
// tinyforge and forgectl, starts `tinyforge server` on temp data dirs and free
// ports, and talks to it with forgectl and client-go over HTTPS.
package e2e
