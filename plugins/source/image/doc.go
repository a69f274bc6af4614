// Package image is the "image" source plugin: it runs one container of a
// container image per workload on Docker, publishes its ports on loopback,
// routes the TinyForge proxy to it, and replaces it blue-green (or
// recreate) when a new image digest, or a new config, is deployed. The
// proxy reaches the container on its Docker network address, or on the
// published ports with plugins.Deps.PublishedUpstreams.
//
// The revision of an image workload is the image's content identity: the
// registry digest (sha256:…) of the configured repository when the image
// came from a registry, else the local image ID. Docker labels on the
// containers and volumes are the plugin's only state (see internal/docker),
// so any controller replica can pick up where another left off.
package image
