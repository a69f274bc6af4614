package compose

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"

	"github.com/tinyforge/tinyforge/internal/docker/dockertest"
	"github.com/tinyforge/tinyforge/plugins"
)

// Reconcile recreates a stopped web and a killed db of the deployed
// revision, re-publishes the route to the new web, leaves the completed
// migration alone, and repairs nothing while the spec is ahead of the
// deployed revision.
func TestReconcile(t *testing.T) {
	e := newEnv(t)
	dbRef, _ := e.app("db", dockertest.WithVersion("db"))
	appRef, _ := e.app("app", dockertest.WithVersion("app"))
	jobRef := e.job("job")
	doc := `
services:
  db:
    image: ` + dbRef + `
    healthcheck: ` + dbHealth + `
  migrate:
    image: ` + jobRef + `
    depends_on: [db]
  web:
    image: ` + appRef + `
    environment:
      GREETING: ${GREETING:-hello}
    depends_on:
      db: {condition: service_healthy}
      migrate: {condition: service_completed_successfully}
`
	key := plugins.RouteKey{Host: "fix.test", PathPrefix: "/"}
	w := e.workload("fix", doc, withRoute("fix.test", "web", 8080))
	res, err := e.src.Deploy(e.ctx, e.deps, w, plugins.DeploymentIntent{Rollout: "fix-g1"})
	if err != nil {
		t.Fatalf("Deploy: %v", err)
	}
	w.CurrentRevision = res.Revision
	v1 := e.services("fix")

	rec, err := e.src.Reconcile(e.ctx, e.deps, w)
	if err != nil || !rec.Healthy || len(rec.Recreated) != 0 {
		t.Fatalf("Reconcile(nothing wrong) = %+v, %v", rec, err)
	}
	t.Log(rec.Message)

	// web stopped by hand (it exits 0: a routed service did not complete
	// anything), db killed.
	if err := e.cli.ContainerStop(e.ctx, v1["web"].ID, container.StopOptions{}); err != nil {
		t.Fatal(err)
	}
	if code := e.inspect(v1["web"].ID).State.ExitCode; code != 0 {
		t.Fatalf("stopped web exited with %d, want 0", code)
	}
	if err := e.cli.ContainerKill(e.ctx, v1["db"].ID, "KILL"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "db to exit", func() bool { return !e.inspect(v1["db"].ID).State.Running })
	start := time.Now()
	rec, err = e.src.Reconcile(e.ctx, e.deps, w)
	if err != nil {
		t.Fatalf("Reconcile: %v", err)
	}
	t.Logf("repair took %v: %s", time.Since(start).Round(time.Millisecond), rec.Message)
	if !rec.Healthy || strings.Join(rec.Recreated, ",") != "db,web" {
		t.Errorf("Reconcile = %+v, want db and web recreated, healthy", rec)
	}
	v2 := e.services("fix")
	if v2["db"].ID == v1["db"].ID || v2["web"].ID == v1["web"].ID || v2["db"].State != "running" || v2["web"].State != "running" {
		t.Errorf("after the repair: %v", describe(e.containers("fix")))
	}
	if v2["migrate"].ID != v1["migrate"].ID || v2["migrate"].State != "exited" {
		t.Errorf("migrate after the repair: %s %s, want the completed %s untouched", v2["migrate"].ID, v2["migrate"].State, v1["migrate"].ID)
	}
	b := e.routes.backend(key)
	if want := dockertest.NetworkAddr(t, e.cli, v2["web"].ID, e.ns+"-fix_default", "8080"); b.Address != want || b.Revision != res.Revision ||
		!slices.Contains(rec.Endpoints, dockertest.HostAddr(t, e.cli, v2["web"].ID, "8080")) {
		t.Errorf("route = %+v, endpoints %v: want the new web on %s", b, rec.Endpoints, want)
	}
	dockertest.WaitHTTP(t, "http://"+b.Address+"/", "version=app", 5*time.Second)
	for svc, c := range v2 {
		if c.Labels["tinyforge.dev/revision"] != res.Revision {
			t.Errorf("%s's revision label = %q, want %s", svc, c.Labels["tinyforge.dev/revision"], res.Revision)
		}
	}

	// The spec moved on without a deploy: web gone is reported, not
	// repaired with a config that was never deployed.
	if err := e.cli.ContainerRemove(e.ctx, v2["web"].ID, container.RemoveOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
	ahead := w
	ahead.Env = []plugins.EnvVar{{Name: "GREETING", Value: "not deployed"}}
	rec, err = e.src.Reconcile(e.ctx, e.deps, ahead)
	if err != nil {
		t.Fatalf("Reconcile(spec ahead): %v", err)
	}
	if rec.Healthy || len(rec.Recreated) != 0 || !strings.Contains(rec.Message, "deploy it to apply it") || !strings.Contains(rec.Message, "service web has no running container") {
		t.Errorf("Reconcile(spec ahead) = %+v, want unhealthy, nothing recreated", rec)
	}
	if _, ok := e.services("fix")["web"]; ok {
		t.Error("Reconcile recreated web from a spec that was not deployed")
	}
}
