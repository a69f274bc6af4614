package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"sigs.k8s.io/controller-runtime/pkg/client"

	tinyforgev1alpha1 "github.com/tinyforge/tinyforge/api/v1alpha1"
	"github.com/tinyforge/tinyforge/internal/docker"
	"github.com/tinyforge/tinyforge/internal/docker/dockertest"
)

func shopWorkload(db, web, greeting string) string {
	return fmt.Sprintf(`apiVersion: tinyforge.dev/v1alpha1
kind: Workload
metadata: {name: shop, namespace: default}
spec:
  source:
    kind: compose
    config:
      compose: |
        services:
          db:
            image: %s
            healthcheck: {test: ["CMD", "/testapp", "-healthcheck"], interval: 200ms, timeout: 5s, retries: 3, start_period: 1m}
          web:
            image: %s
            environment:
              GREETING: ${GREETING}
              SLOW_START: 3s
            depends_on:
              db: {condition: service_healthy}
  env: [{name: GREETING, value: %s}]
  routes: [{port: 8080, service: web}]
  healthCheck: {path: /healthz, interval: 200ms, timeout: 1s, startPeriod: 20s}
  strategy: {drainTimeout: 2s, progressDeadline: 90s}
`, db, web, greeting)
}

// stack lists the running containers of compose project default-shop by
// service.
func stack(t *testing.T, cli docker.API) map[string][]container.Summary {
	t.Helper()
	list, err := cli.ContainerList(context.Background(), container.ListOptions{Filters: filters.NewArgs(
		filters.Arg("label", "com.docker.compose.project=default-shop"), filters.Arg("status", "running"))})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]container.Summary{}
	for _, c := range list {
		s := c.Labels["com.docker.compose.service"]
		out[s] = append(out[s], c)
	}
	return out
}

// TestComposeStack: a compose Workload through the real server: services
// started in depends_on order with the labels docker compose reads, a route
// to a service, logs of one service, and a restart of tinyforge server in
// the middle of a redeploy that converges to one container per service.
func TestComposeStack(t *testing.T) {
	if testing.Short() {
		t.Skip("needs Docker")
	}
	cli := dockertest.Client(t)
	dockertest.CleanupContainers(t, cli, docker.LabelNamespace+"=default", docker.LabelWorkload+"=shop")
	s := startServer(t, "")
	c := s.client(t)
	tag := fmt.Sprintf("tinyforge-e2e/shop-%d", time.Now().UnixNano())
	dockertest.BuildTestApp(t, cli, tag+":db", dockertest.WithVersion("db"))
	dockertest.BuildTestApp(t, cli, tag+":web", dockertest.WithVersion("web"))
	t.Cleanup(s.stop) // before the images go

	s.mustApply(t, shopWorkload(tag+":db", tag+":web", "hello"))
	host := "shop.default.localhost"
	s.waitServes(t, host, "web")
	var last string
	pollCond(t, "GREETING=hello through the route", time.Minute, func() bool {
		code, body, err := s.get(host, "/env?key=GREETING")
		last = fmt.Sprintf("%d %q %v", code, body, err)
		return err == nil && code == 200 && strings.TrimSpace(body) == "hello"
	})
	t.Logf("GET /env?key=GREETING: %s", last)
	st := stack(t, cli)
	if len(st["db"]) != 1 || len(st["web"]) != 1 {
		t.Fatalf("stack runs %d db and %d web containers, want one each", len(st["db"]), len(st["web"]))
	}
	db := st["db"][0]
	for _, svc := range []container.Summary{db, st["web"][0]} {
		l := svc.Labels
		if l["com.docker.compose.oneoff"] != "False" || l["com.docker.compose.config-hash"] == "" || l["com.docker.compose.container-number"] == "" ||
			l["com.docker.compose.project.working_dir"] == "" || l["com.docker.compose.project.config_files"] == "" {
			t.Errorf("container %s lacks labels docker compose ls/ps read: %v", svc.Names, l)
		}
	}
	// db was healthy before web started.
	dbInfo, err := cli.ContainerInspect(context.Background(), db.ID)
	if err != nil {
		t.Fatal(err)
	}
	webInfo, err := cli.ContainerInspect(context.Background(), st["web"][0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if dbInfo.State.Health == nil || webInfo.State.StartedAt < dbInfo.State.StartedAt {
		t.Errorf("web started at %s, db at %s with health %v: web must wait for db to be healthy", webInfo.State.StartedAt, dbInfo.State.StartedAt, dbInfo.State.Health)
	}
	if _, errOut, err := s.tryForgectl(nil, "logs", "workload/shop", "--service", "web"); err != nil {
		t.Errorf("forgectl logs --service web: %v\n%s", err, errOut)
	}

	// Change web's environment, and restart the server while it deploys.
	s.mustApply(t, shopWorkload(tag+":db", tag+":web", "bye"))
	pollCond(t, "the redeploy to start", time.Minute, func() bool {
		var ros tinyforgev1alpha1.RolloutList
		if err := c.List(context.Background(), &ros, client.InNamespace("default"), client.MatchingLabels{"tinyforge.dev/workload": "shop"}); err != nil {
			return false
		}
		for _, ro := range ros.Items {
			if ro.Name == "shop-g2" && ro.Status.Phase == tinyforgev1alpha1.RolloutPhaseDeploying {
				return true
			}
		}
		return false
	})
	if err := s.terminate(); err != nil {
		t.Fatalf("stopping the server mid-deploy: %v", err)
	}
	s2 := runServer(t, s.DataDir, s.Args)
	t.Cleanup(s2.stop)
	pollCond(t, "GREETING=bye after the restart", 2*time.Minute, func() bool {
		code, body, err := s2.get(host, "/env?key=GREETING")
		return err == nil && code == 200 && strings.TrimSpace(body) == "bye"
	})
	pollCond(t, "one container per service", time.Minute, func() bool {
		st := stack(t, cli)
		return len(st["db"]) == 1 && len(st["web"]) == 1
	})
	if st := stack(t, cli); st["db"][0].ID != db.ID {
		t.Errorf("db was recreated (%s → %s) although only web's environment changed", db.ID[:12], st["db"][0].ID[:12])
	}
	var w tinyforgev1alpha1.Workload
	waitObj(t, c, &w, "shop", time.Minute, "Ready after the restart", func() bool {
		for _, cond := range w.Status.Conditions {
			if cond.Type == "Ready" && cond.Status == "True" && w.Status.ObservedGeneration == w.Generation {
				return true
			}
		}
		return false
	})
	var ro tinyforgev1alpha1.Rollout
	waitObj(t, c, &ro, "shop-g2", time.Minute, "the redeploy's rollout Succeeded", func() bool {
		return ro.Status.Phase == tinyforgev1alpha1.RolloutPhaseSucceeded
	})
	if !strings.Contains(fmt.Sprint(ro.Status.Services), "web") {
		t.Errorf("rollout services %v do not say what happened to web", ro.Status.Services)
	}
}
