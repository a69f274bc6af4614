package dockertest

import (
	"context"
	"testing"
	"time"

	"github.com/docker/docker/client"

	"github.com/tinyforge/tinyforge/internal/docker"
)

// Client returns a client for the real daemon (the environment's DOCKER_HOST,
// else the local socket), negotiating the API version, and closes it when
// the test ends. Tests that need Docker fail rather than skip when no daemon
// answers: a skipped end-to-end test is a green build that tested nothing.
func Client(t testing.TB) *client.Client {
	t.Helper()
	cli, err := docker.New()
	if err != nil {
		t.Fatalf("dockertest: %v", err)
	}
	t.Cleanup(func() { _ = cli.Close() })
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if _, err := cli.Ping(ctx); err != nil {
		t.Fatalf("dockertest: no Docker daemon answers at %s: %v\n"+
			"Run hack/test-env.sh to install and start dockerd.", cli.DaemonHost(), err)
	}
	return cli
}
