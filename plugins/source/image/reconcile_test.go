package image

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"

	"github.com/tinyforge/tinyforge/internal/docker"
	"github.com/tinyforge/tinyforge/internal/docker/dockertest"
	"github.com/tinyforge/tinyforge/plugins"
)

// Reconcile re-publishes routes, recreates a container removed by hand or
// stopped, and removes containers of other revisions.
func TestReconcile(t *testing.T) {
	e := newEnv(t)
	ref, id := e.build("v1", dockertest.WithVersion("v1"))
	key := plugins.RouteKey{Host: "web.test", PathPrefix: "/"}
	w := e.workload("web", ref)
	res, err := e.src.Deploy(e.ctx, e.deps, w, plugins.DeploymentIntent{Rollout: "web-g1"})
	if err != nil {
		t.Fatalf("Deploy: %v", err)
	}
	w.CurrentRevision = res.Revision
	c1 := e.only("web")

	// A restarted proxy has an empty table.
	deployed := e.routes.backend(key)
	_ = e.routes.RemoveRoute(e.ctx, key)
	rr, err := e.src.Reconcile(e.ctx, e.deps, w)
	if err != nil {
		t.Fatalf("Reconcile: %v", err)
	}
	if !rr.Healthy || len(rr.Recreated) > 0 || !slices.Equal(rr.Endpoints, res.Endpoints) {
		t.Errorf("Reconcile() = %+v, want healthy with endpoints %v", rr, res.Endpoints)
	}
	// Worked out from the listing rather than from the inspect after the
	// start, the backend is the same: the proxy keeps its target.
	if b, want := e.routes.backend(key), dockertest.NetworkAddr(t, e.cli, c1.ID, "bridge", "8080"); b != deployed || b.Address != want {
		t.Errorf("route = %+v, want it back on %+v at %s", b, deployed, want)
	}

	// Removed by hand.
	if err := e.cli.ContainerRemove(e.ctx, c1.ID, container.RemoveOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	rr, err = e.src.Reconcile(e.ctx, e.deps, w)
	if err != nil {
		t.Fatalf("Reconcile: %v", err)
	}
	t.Logf("recreating a removed container took %v: %s", time.Since(start).Round(time.Millisecond), rr.Message)
	c2 := e.only("web")
	if !rr.Healthy || len(rr.Recreated) != 1 || rr.Recreated[0] != strings.TrimPrefix(c2.Names[0], "/") {
		t.Errorf("Reconcile() = %+v, want %s recreated", rr, c2.Names[0])
	}
	if c2.Labels[docker.LabelRevision] != id || c2.Labels[LabelConfigHash] != c1.Labels[LabelConfigHash] {
		t.Errorf("recreated container labels = %v", c2.Labels)
	}
	b := e.routes.backend(key)
	if want := dockertest.NetworkAddr(t, e.cli, c2.ID, "bridge", "8080"); len(rr.Endpoints) != 1 || b.Address != want ||
		rr.Endpoints[0] != dockertest.HostAddr(t, e.cli, c2.ID, "8080") {
		t.Errorf("route = %+v, endpoints %v; want the route on %s", b, rr.Endpoints, want)
	}
	dockertest.WaitHTTP(t, "http://"+b.Address+"/", "version=v1", 5*time.Second)

	// A stray of another revision, running.
	stray := e.create("web", id, "sha256:"+strings.Repeat("2", 64), true)
	rr, err = e.src.Reconcile(e.ctx, e.deps, w)
	if err != nil {
		t.Fatalf("Reconcile: %v", err)
	}
	if c := e.only("web"); c.ID != c2.ID || len(rr.Recreated) > 0 || !strings.Contains(rr.Message, stray) {
		t.Errorf("after removing a stray: container %s (want %s), result %+v", c.ID, c2.ID, rr)
	}

	// Stopped (for good, as Docker does not restart a stopped container).
	if err := e.cli.ContainerStop(e.ctx, c2.ID, container.StopOptions{}); err != nil {
		t.Fatal(err)
	}
	rr, err = e.src.Reconcile(e.ctx, e.deps, w)
	if err != nil {
		t.Fatalf("Reconcile: %v", err)
	}
	c3 := e.only("web")
	if c3.ID == c2.ID || len(rr.Recreated) != 1 || !rr.Healthy || !strings.Contains(rr.Message, "Exited") {
		t.Errorf("after a stop: container %s (was %s), result %+v", c3.ID, c2.ID, rr)
	}
}

// A recreated container that does not get healthy is reported, not hidden.
func TestReconcileUnhealthy(t *testing.T) {
	e := newEnv(t)
	ref, id := e.build("v1", dockertest.WithEnv("EXIT_AFTER", "200ms"))
	w := e.workload("web", ref, withoutHealthPath(), withCurrent(id), withConfig(map[string]any{"restartPolicy": "no"}))
	rr, err := e.src.Reconcile(e.ctx, e.deps, w)
	if err != nil {
		t.Fatalf("Reconcile: %v", err)
	}
	if rr.Healthy || len(rr.Recreated) != 1 || !strings.Contains(rr.Message, "exited with code 1") {
		t.Errorf("Reconcile() = %+v, want unhealthy, recreated, with the exit", rr)
	}
	// The exited container stays for people to look at, until the next try.
	if list := e.containers("web"); len(list) != 1 || list[0].State != "exited" {
		t.Errorf("containers = %v, want the exited one", describe(list))
	}
	if _, err := e.src.Reconcile(e.ctx, e.deps, w); err != nil {
		t.Fatalf("Reconcile: %v", err)
	}
	if list := e.containers("web"); len(list) != 1 {
		t.Errorf("containers after a second try = %v, want one", describe(list))
	}

	// Before any deploy there is nothing to do.
	w.CurrentRevision = ""
	if rr, err := e.src.Reconcile(e.ctx, e.deps, w); err != nil || rr.Healthy {
		t.Errorf("Reconcile(nothing deployed) = %+v, %v", rr, err)
	}
}
