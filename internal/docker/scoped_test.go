package docker

import (
	"context"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/volume"
)

// TestScopedSeesOnlyItsCluster: two clusters on one daemon do not see each
// other's containers or volumes.
func TestScopedSeesOnlyItsCluster(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cli, err := New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cli.Close() })
	namespace := "test-" + randomHex(t, 6)
	t.Cleanup(func() { removeByLabel(t, cli, WorkloadFilter(namespace, "web")) })
	img := buildScratchImage(ctx, t, cli, namespace, "web")

	a, b := Scoped(cli, "cluster-a-"+namespace), Scoped(cli, "cluster-b-"+namespace)
	labels := Labels(namespace, "web", "rev", "")
	created, err := a.ContainerCreate(ctx, &container.Config{Image: img, Cmd: []string{"/x"}, Labels: labels}, nil, nil, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := labels[LabelCluster]; ok {
		t.Error("Scoped changed the caller's label map")
	}
	list := func(api API) int {
		l, err := api.ContainerList(ctx, container.ListOptions{All: true, Filters: WorkloadFilter(namespace, "web")})
		if err != nil {
			t.Fatal(err)
		}
		return len(l)
	}
	if got := list(a); got != 1 {
		t.Errorf("cluster a sees %d containers, want 1", got)
	}
	if got := list(b); got != 0 {
		t.Errorf("cluster b sees %d containers of cluster a", got)
	}
	inspect, err := cli.ContainerInspect(ctx, created.ID)
	if err != nil {
		t.Fatal(err)
	}
	if inspect.Config.Labels[LabelCluster] != "cluster-a-"+namespace {
		t.Errorf("labels = %v, want the cluster label", inspect.Config.Labels)
	}

	vol, err := a.VolumeCreate(ctx, volume.CreateOptions{Name: "tf-" + namespace, Labels: labels})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cli.VolumeRemove(context.Background(), vol.Name, true) })
	vols, err := b.VolumeList(ctx, volume.ListOptions{Filters: WorkloadFilter(namespace, "web")})
	if err != nil {
		t.Fatal(err)
	}
	if len(vols.Volumes) != 0 {
		t.Errorf("cluster b sees %d volumes of cluster a", len(vols.Volumes))
	}
}
