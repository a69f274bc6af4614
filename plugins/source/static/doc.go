// Package static is the "static" source plugin: it serves a website from a
// folder of a git repository, built into an image and deployed blue-green.
package static
