package docker

import (
	"fmt"

	"github.com/docker/docker/client"
)

// New returns a client for the daemon the environment names (DOCKER_HOST,
// DOCKER_TLS_VERIFY, DOCKER_CERT_PATH, DOCKER_API_VERSION; the local socket
// by default), with opts applied after the environment. It always negotiates
// the API version with the daemon: the client library speaks a newer API
// than the daemons it meets (Debian's speaks 1.41). Setting
// DOCKER_API_VERSION, or passing client.WithVersion, pins the version
// instead.
//
// New does not contact the daemon; call Ping to check it is reachable.
func New(opts ...client.Opt) (*client.Client, error) {
	all := make([]client.Opt, 0, len(opts)+2)
	all = append(all, client.FromEnv)
	all = append(all, opts...)
	all = append(all, client.WithAPIVersionNegotiation())
	c, err := client.NewClientWithOpts(all...)
	if err != nil {
		return nil, fmt.Errorf("creating docker client: %w", err)
	}
	return c, nil
}
