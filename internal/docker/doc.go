// Package docker is TinyForge's narrow view of the Docker Engine API: the
// client methods sources use, a constructor with the options every caller
// needs, the labels that make Docker the record of what runs, and the
// removal and pull helpers the sources share.
package docker
