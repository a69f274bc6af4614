// Package app builds the tinyforge command: `server` runs every component in
// one process, and `apiserver` and `controllers` run the parts alone.
package app
