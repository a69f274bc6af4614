package dockertest_test

import (
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/go-connections/nat"

	"github.com/tinyforge/tinyforge/internal/docker"
	"github.com/tinyforge/tinyforge/internal/docker/dockertest"
)

// A test that runs the test app on the real daemon, in the shape the other
// tests here follow: a namespace of its own, cleanup by its label, a
// HEALTHCHECK image, a random loopback port, and waits with deadlines.
func Example() {
	var t *testing.T // the test's own t

	cli := dockertest.Client(t)
	ns := "mytest-1234" // unique per test run
	dockertest.CleanupContainers(t, cli, docker.LabelNamespace+"="+ns)
	img := dockertest.BuildTestApp(t, cli, "tinyforge-testapp:"+ns,
		dockertest.WithVersion("v1"), dockertest.WithHealthcheck(200*time.Millisecond))

	port := nat.Port(dockertest.TestAppPort)
	created, err := cli.ContainerCreate(t.Context(),
		&container.Config{Image: img, ExposedPorts: nat.PortSet{port: {}}, Labels: map[string]string{docker.LabelNamespace: ns}},
		&container.HostConfig{PortBindings: nat.PortMap{port: {{HostIP: "127.0.0.1"}}}},
		nil, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := cli.ContainerStart(t.Context(), created.ID, container.StartOptions{}); err != nil {
		t.Fatal(err)
	}
	base := "http://" + dockertest.HostAddr(t, cli, created.ID, dockertest.TestAppPort)
	dockertest.WaitHealth(t, cli, created.ID, container.Healthy, 30*time.Second)
	dockertest.WaitHTTP(t, base+"/", "version=v1", 10*time.Second)
}
