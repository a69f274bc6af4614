package image

import (
	"testing"

	"github.com/docker/docker/api/types/volume"

	"github.com/tinyforge/tinyforge/internal/docker"
	"github.com/tinyforge/tinyforge/plugins"
)

// Teardown removes routes and containers, keeps volumes unless asked, and
// can run again.
func TestTeardown(t *testing.T) {
	e := newEnv(t)
	ref, _ := e.build("v1")
	key := plugins.RouteKey{Host: "db.test", PathPrefix: "/"}
	w := e.workload("db", ref, withConfig(map[string]any{
		"volumes": []map[string]any{{"name": "data", "mountPath": "/data"}},
	}))
	if _, err := e.src.Deploy(e.ctx, e.deps, w, plugins.DeploymentIntent{}); err != nil {
		t.Fatalf("Deploy: %v", err)
	}
	e.only("db")
	vol := "tf-" + e.ns + "-db-data"
	if got := e.volumes(); len(got) != 1 || got[0] != vol {
		t.Fatalf("volumes = %v, want %s", got, vol)
	}
	// A stray of the workload goes too.
	e.create("db", "tinyforge-image-test:"+e.ns+"-v1", "sha256:0000000000000000000000000000000000000000000000000000000000000000", false)

	if err := e.src.Teardown(e.ctx, e.deps, w); err != nil {
		t.Fatalf("Teardown: %v", err)
	}
	if list := e.containers("db"); len(list) != 0 {
		t.Errorf("containers left: %v", describe(list))
	}
	if _, ok := e.routes.has(key); ok {
		t.Error("route left")
	}
	if got := e.volumes(); len(got) != 1 {
		t.Errorf("volumes = %v, want %s kept", got, vol)
	}

	// Again, now removing volumes; a broken config does not matter.
	w.RemoveVolumes = true
	w.Config = []byte(`{"imag":`)
	if err := e.src.Teardown(e.ctx, e.deps, w); err != nil {
		t.Fatalf("Teardown: %v", err)
	}
	if got := e.volumes(); len(got) != 0 {
		t.Errorf("volumes = %v, want none", got)
	}
}

// volumes lists the test namespace's volumes.
func (e *env) volumes() []string {
	e.t.Helper()
	list, err := e.cli.VolumeList(e.ctx, volume.ListOptions{Filters: docker.WorkloadFilter(e.ns, "db")})
	if err != nil {
		e.t.Fatal(err)
	}
	var names []string
	for _, v := range list.Volumes {
		names = append(names, v.Name)
	}
	return names
}
