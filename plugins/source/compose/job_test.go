package compose

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tinyforge/tinyforge/internal/docker/dockertest"
	"github.com/tinyforge/tinyforge/plugins"
)

// jobDoc is a stack whose web service waits for a one-shot migration to
// complete; the migration's exit code comes from spec.env.
func jobDoc(jobRef, appRef string) string {
	return `
services:
  migrate:
    image: ` + jobRef + `
    environment:
      JOB_DURATION: 1500ms
      JOB_EXIT: ${MIGRATE_EXIT:-0}
  web:
    image: ` + appRef + `
    depends_on:
      migrate:
        condition: service_completed_successfully
`
}

// A one-shot migration runs to completion before its dependant starts; a
// repeated deploy and Reconcile do not run it again; a failing one fails
// the deploy, and a dependant that waits for it never starts.
func TestDeployOneShotJob(t *testing.T) {
	e := newEnv(t)
	jobRef := e.job("job")
	appRef, _ := e.app("app", dockertest.WithVersion("app"))
	doc := jobDoc(jobRef, appRef)

	res, err := e.src.Deploy(e.ctx, e.deps, e.workload("jobs", doc), plugins.DeploymentIntent{Rollout: "jobs-g1"})
	if err != nil {
		t.Fatalf("Deploy: %v", err)
	}
	t.Log(res.Message)
	want := map[string]plugins.ServiceAction{"migrate": plugins.ServiceCreated, "web": plugins.ServiceCreated}
	if got := actions(res); !equalActions(got, want) {
		t.Errorf("services = %v, want %v", got, want)
	}
	v1 := e.services("jobs")
	migrate, web := e.inspect(v1["migrate"].ID), e.inspect(v1["web"].ID)
	if migrate.State.Status != "exited" || migrate.State.ExitCode != 0 {
		t.Fatalf("migrate is %s with code %d, want exited 0", migrate.State.Status, migrate.State.ExitCode)
	}
	finished, _ := time.Parse(time.RFC3339Nano, migrate.State.FinishedAt)
	started, _ := time.Parse(time.RFC3339Nano, web.State.StartedAt)
	if !web.State.Running || started.Before(finished) {
		t.Errorf("web started at %v (running %t), migrate finished at %v: want web after", started, web.State.Running, finished)
	}
	if got := v1["web"].Labels[LabelDependsOn]; got != "migrate:service_completed_successfully:false" {
		t.Errorf("web depends_on label = %q", got)
	}

	// Neither a repeated deploy nor Reconcile runs it again.
	w := e.workload("jobs", doc, withCurrent(res.Revision))
	res, err = e.src.Deploy(e.ctx, e.deps, w, plugins.DeploymentIntent{Rollout: "jobs-g2"})
	want = map[string]plugins.ServiceAction{"migrate": plugins.ServiceUnchanged, "web": plugins.ServiceUnchanged}
	if err != nil || !equalActions(actions(res), want) {
		t.Fatalf("Deploy(again) = %v, %v; want all Unchanged", actions(res), err)
	}
	rec, err := e.src.Reconcile(e.ctx, e.deps, w)
	if err != nil || !rec.Healthy || len(rec.Recreated) != 0 {
		t.Errorf("Reconcile = %+v, %v; want healthy, nothing recreated", rec, err)
	}
	v2 := e.services("jobs")
	if again := e.inspect(v2["migrate"].ID); v2["migrate"].ID != v1["migrate"].ID || again.State.StartedAt != migrate.State.StartedAt {
		t.Error("the completed migration ran again")
	}

	// A failing migration fails the deploy with its exit code and log.
	_, err = e.src.Deploy(e.ctx, e.deps, e.workload("jobs", doc, withEnv("MIGRATE_EXIT", "3"), withCurrent(res.Revision)), plugins.DeploymentIntent{})
	if !errors.Is(err, ErrExited) || !strings.Contains(err.Error(), "service migrate") || !strings.Contains(err.Error(), "exited with code 3") ||
		!strings.Contains(err.Error(), "job: done, exiting with code 3") {
		t.Errorf("Deploy(failing migration) = %v, want ErrExited naming migrate, its code and log", err)
	}

	// A new stack's web never starts after a failed migration.
	_, err = e.src.Deploy(e.ctx, e.deps, e.workload("fresh", doc, withEnv("MIGRATE_EXIT", "3")), plugins.DeploymentIntent{})
	if !errors.Is(err, ErrExited) || !strings.Contains(err.Error(), "service web: dependency migrate (service_completed_successfully)") {
		t.Errorf("Deploy(fresh, failing migration) = %v, want web's dependency failure", err)
	}
	if got := e.containers("fresh"); len(got) != 1 || got[0].Labels[LabelService] != "migrate" {
		t.Errorf("containers of the fresh stack = %v, want the failed migration only", describe(got))
	}
}
