// Package docker is TinyForge's narrow view of the Docker Engine API: the
// client methods sources use, a constructor with the options every caller
// needs, and the labels that make Docker the record of what runs.
package docker
