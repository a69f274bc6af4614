package dockertest

import (
	"context"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/volume"

	"github.com/tinyforge/tinyforge/internal/docker"
)

// CleanupContainers force-removes the containers, then the networks and
// volumes, carrying every one of labels ("key=value", or "key" for any
// value), now (leftovers of an interrupted run) and when the test ends, such as
// docker.LabelNamespace+"="+testNamespace. At least one label is required:
// none would select every container on the machine.
//
// Pick labels no other test shares: tests of other packages run at the same
// time against the same daemon.
func CleanupContainers(t testing.TB, cli docker.API, labels ...string) {
	t.Helper()
	if len(labels) == 0 {
		t.Fatal("dockertest: CleanupContainers needs at least one label; none would select every container")
	}
	f := filters.NewArgs()
	for _, l := range labels {
		f.Add("label", l)
	}
	// Leftovers of an interrupted earlier run would confuse this one.
	removeLabelled(t, cli, f)
	t.Cleanup(func() { removeLabelled(t, cli, f) })
}

// removeLabelled runs after the test, when t.Context is done, so it has its
// own deadline. Objects already gone, or being removed by someone else, are
// not errors.
func removeLabelled(t testing.TB, cli docker.API, f filters.Args) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	gone := func(err error) bool { return err == nil || cerrdefs.IsNotFound(err) || cerrdefs.IsConflict(err) }

	containers, err := cli.ContainerList(ctx, container.ListOptions{All: true, Filters: f})
	if err != nil {
		t.Errorf("dockertest: listing containers to remove: %v", err)
	}
	for _, c := range containers {
		err := cli.ContainerRemove(ctx, c.ID, container.RemoveOptions{Force: true, RemoveVolumes: true})
		if !gone(err) {
			t.Errorf("dockertest: removing container %.12s: %v", c.ID, err)
		}
	}

	// Networks and volumes go after the containers that use them.
	networks, err := cli.NetworkList(ctx, network.ListOptions{Filters: f})
	if err != nil {
		t.Errorf("dockertest: listing networks to remove: %v", err)
	}
	for _, n := range networks {
		if err := cli.NetworkRemove(ctx, n.ID); !gone(err) {
			t.Errorf("dockertest: removing network %s: %v", n.Name, err)
		}
	}
	volumes, err := cli.VolumeList(ctx, volume.ListOptions{Filters: f})
	if err != nil {
		t.Errorf("dockertest: listing volumes to remove: %v", err)
	}
	for _, v := range volumes.Volumes {
		if err := cli.VolumeRemove(ctx, v.Name, true); !gone(err) {
			t.Errorf("dockertest: removing volume %s: %v", v.Name, err)
		}
	}
	if n := len(containers) + len(networks) + len(volumes.Volumes); n > 0 {
		t.Logf("dockertest: removed %d containers, %d networks, %d volumes labelled %v",
			len(containers), len(networks), len(volumes.Volumes), f.Get("label"))
	}
}
