package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"

	"github.com/tinyforge/tinyforge/internal/docker"
	"github.com/tinyforge/tinyforge/internal/docker/dockertest"
)

// webWorkload is an image Workload served through the proxy.
func webWorkload(name, image, extra string) string {
	return workloadManifest(name, image, "healthCheck: {path: /healthz, interval: 200ms, timeout: 1s}", extra)
}

// workloadManifest is an image Workload with the given healthCheck line.
func workloadManifest(name, image, healthCheck, extra string) string {
	return fmt.Sprintf(`apiVersion: tinyforge.dev/v1alpha1
kind: Workload
metadata: {name: %s, namespace: default}
spec:
  source:
    kind: image
    config:
      image: %s
      ports: [{containerPort: 8080}]
  routes: [{port: 8080}]
  %s
  strategy: {drainTimeout: 5s, progressDeadline: 40s}
%s`, name, image, healthCheck, extra)
}

// mustApply applies manifest or fails the test.
func (s *server) mustApply(t *testing.T, manifest string) {
	t.Helper()
	if out, errOut, err := s.apply(manifest); err != nil {
		t.Fatalf("apply: %v\n%s%s", err, out, errOut)
	}
}

// get fetches path through the proxy for host.
func (s *server) get(host, path string) (int, string, error) {
	req, _ := http.NewRequest(http.MethodGet, "http://"+s.ProxyAddr+path, nil)
	req.Host = host
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), nil
}

// waitServes polls the proxy until host answers 200 with want in the body.
func (s *server) waitServes(t *testing.T, host, want string) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	var last string
	for time.Now().Before(deadline) {
		code, body, err := s.get(host, "/")
		if err == nil && code == 200 && strings.Contains(body, want) {
			return
		}
		last = fmt.Sprintf("%d %q %v", code, body, err)
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s never served %q; last answer %s\nworkload:\n%s", host, want, last, s.forgectl(t, "get", "wl", "-o", "yaml"))
}

// running lists the running containers of a workload.
func running(t *testing.T, cli docker.API, ns, workload string) []container.Summary {
	t.Helper()
	f := docker.WorkloadFilter(ns, workload)
	f.Add("status", "running")
	list, err := cli.ContainerList(context.Background(), container.ListOptions{Filters: f})
	if err != nil {
		t.Fatal(err)
	}
	return list
}

// pollCond polls cond with a deadline.
func pollCond(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestImageWorkloadLifecycle(t *testing.T) {
	cli := dockertest.Client(t)
	dockertest.CleanupContainers(t, cli, docker.LabelWorkload+"=web", docker.LabelNamespace+"=default")
	dockertest.CleanupContainers(t, cli, docker.LabelWorkload+"=ghost")
	tag := fmt.Sprintf("tinyforge-e2e/web-%d", time.Now().UnixNano())
	dockertest.BuildTestApp(t, cli, tag+":v1", dockertest.WithVersion("v1"))
	dockertest.BuildTestApp(t, cli, tag+":v2", dockertest.WithVersion("v2"))
	dockertest.BuildTestApp(t, cli, tag+":v3", dockertest.WithVersion("v3"), dockertest.WithEnv("FAIL_HEALTH", "1"))

	s := startServer(t, "", "--resync-period=3s")
	host := "web.default.localhost"

	t.Run("bad config is refused at apply", func(t *testing.T) {
		_, errOut, err := s.apply(webWorkload("bad", "", ""))
		if err == nil {
			t.Fatal("a workload without an image was accepted")
		}
		mustContain(t, "apply bad", errOut, "spec.source.config.image")
	})

	t.Run("apply serves through the proxy", func(t *testing.T) {
		if _, errOut, err := s.apply(webWorkload("web", tag+":v1", "")); err != nil {
			t.Fatalf("apply: %v %s", err, errOut)
		}
		s.forgectl(t, "wait", "--for=condition=Ready", "wl/web", "--timeout=120s")
		s.waitServes(t, host, "version=v1")
		mustContain(t, "status.url", s.forgectl(t, "get", "wl/web", "-o", "jsonpath={.status.url}"), "http://"+host+":")
		if n := len(running(t, cli, "default", "web")); n != 1 {
			t.Errorf("%d running containers, want 1", n)
		}
		if code, body, _ := s.get("nobody.example", "/"); code != 404 || !strings.Contains(body, "nobody.example") {
			t.Errorf("unknown host: %d %q, want 404 naming the host", code, body)
		}
	})

	t.Run("blue-green switch drops no request", func(t *testing.T) {
		var ok, failed atomic.Int64
		var firstErr atomic.Value
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for i := 0; i < 4; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-stop:
						return
					default:
					}
					code, body, err := s.get(host, "/")
					if err != nil || code != 200 {
						failed.Add(1)
						firstErr.CompareAndSwap(nil, fmt.Sprintf("%d %q %v", code, body, err))
						continue
					}
					ok.Add(1)
				}
			}()
		}
		s.mustApply(t, webWorkload("web", tag+":v2", ""))
		s.waitServes(t, host, "version=v2")
		pollCond(t, "one running container", 30*time.Second, func() bool { return len(running(t, cli, "default", "web")) == 1 })
		close(stop)
		wg.Wait()
		if failed.Load() > 0 {
			t.Errorf("%d of %d requests failed during the switch; first: %v", failed.Load(), ok.Load()+failed.Load(), firstErr.Load())
		}
		t.Logf("%d requests during the blue-green switch, none failed", ok.Load())
	})

	t.Run("an unhealthy revision leaves the old one serving", func(t *testing.T) {
		s.mustApply(t, webWorkload("web", tag+":v3", ""))
		pollCond(t, "Stalled", 90*time.Second, func() bool {
			out, _, _ := s.tryForgectl(nil, "get", "wl/web", "-o", `jsonpath={.status.conditions[?(@.type=="Stalled")].status}`)
			return out == "True"
		})
		msg := s.forgectl(t, "get", "wl/web", "-o", `jsonpath={.status.conditions[?(@.type=="Stalled")].message}`)
		mustContain(t, "stalled message", msg, "still serving")
		s.waitServes(t, host, "version=v2")
		if n := len(running(t, cli, "default", "web")); n != 1 {
			t.Errorf("%d running containers after a failed deploy, want 1", n)
		}
		mustContain(t, "rollouts", s.forgectl(t, "get", "ro", "-l", "tinyforge.dev/workload=web"), "Failed", "Succeeded")
	})

	t.Run("a container removed by hand comes back", func(t *testing.T) {
		s.mustApply(t, webWorkload("web", tag+":v2", ""))
		s.forgectl(t, "wait", "--for=condition=Ready", "wl/web", "--timeout=120s")
		before := running(t, cli, "default", "web")
		if len(before) != 1 {
			t.Fatalf("%d running containers", len(before))
		}
		if err := cli.ContainerRemove(context.Background(), before[0].ID, container.RemoveOptions{Force: true}); err != nil {
			t.Fatal(err)
		}
		pollCond(t, "a new container", 60*time.Second, func() bool {
			now := running(t, cli, "default", "web")
			return len(now) == 1 && now[0].ID != before[0].ID
		})
		s.waitServes(t, host, "version=v2")
	})

	t.Run("a labelled orphan is removed", func(t *testing.T) {
		ctx := context.Background()
		// Only this cluster's containers are its business.
		labels := docker.Labels("default", "ghost", "sha256:0", "")
		labels[docker.LabelCluster] = s.forgectl(t, "get", "ns", "tinyforge-system", "-o", "jsonpath={.metadata.uid}")
		created, err := cli.ContainerCreate(ctx, &container.Config{Image: tag + ":v1", Labels: labels}, nil, nil, nil, "")
		if err != nil {
			t.Fatal(err)
		}
		pollCond(t, "the orphan removed", 60*time.Second, func() bool {
			f := filters.NewArgs(filters.Arg("id", created.ID))
			list, err := cli.ContainerList(ctx, container.ListOptions{All: true, Filters: f})
			return err == nil && len(list) == 0
		})
	})

	t.Run("rollout undo goes back to the previous revision", func(t *testing.T) {
		// v1 then v2 succeeded (v3 failed): undo deploys v1 again.
		s.forgectl(t, "rollout", "undo", "workload/web")
		s.waitServes(t, host, "version=v1")
		mustContain(t, "history", s.forgectl(t, "rollout", "history", "workload/web"), "Rollback")
	})

	t.Run("manual approval holds a deploy until approved", func(t *testing.T) {
		// The spec still names v2 after the undo: a config change (env)
		// makes the new Rollout, which waits.
		s.mustApply(t, webWorkload("web", tag+":v2", "  approval: Manual\n  env: [{name: MODE, value: gated}]\n"))
		pollCond(t, "AwaitingApproval", 60*time.Second, func() bool {
			out, _, _ := s.tryForgectl(nil, "get", "ro", "-l", "tinyforge.dev/workload=web")
			return strings.Contains(out, "AwaitingApproval")
		})
		if _, body, _ := s.get(host, "/"); !strings.Contains(body, "version=v1") {
			t.Errorf("serving %q before approval, want v1", body)
		}
		s.forgectl(t, "rollout", "approve", "workload/web")
		s.waitServes(t, host, "version=v2")
	})

	t.Run("delete tears down", func(t *testing.T) {
		s.forgectl(t, "delete", "wl/web", "--timeout=120s")
		if n := len(running(t, cli, "default", "web")); n != 0 {
			t.Errorf("%d containers left after delete", n)
		}
		if code, _, _ := s.get(host, "/"); code != 404 {
			t.Errorf("route answers %d after delete, want 404", code)
		}
	})
}

// TestRestartMidDeploy stops the server while a slow revision deploys; the
// restarted server converges to exactly one running revision.
func TestRestartMidDeploy(t *testing.T) {
	cli := dockertest.Client(t)
	dockertest.CleanupContainers(t, cli, docker.LabelWorkload+"=slow", docker.LabelNamespace+"=default")
	tag := fmt.Sprintf("tinyforge-e2e/slow-%d", time.Now().UnixNano())
	dockertest.BuildTestApp(t, cli, tag+":v1", dockertest.WithVersion("v1"))
	dockertest.BuildTestApp(t, cli, tag+":v2", dockertest.WithVersion("v2"), dockertest.WithEnv("SLOW_START", "6s"))

	s := startServer(t, "")
	host := "slow.default.localhost"
	s.mustApply(t, webWorkload("slow", tag+":v1", ""))
	s.forgectl(t, "wait", "--for=condition=Ready", "wl/slow", "--timeout=120s")
	// The start period lets v2 take its time to listen.
	s.mustApply(t, workloadManifest("slow", tag+":v2", "healthCheck: {path: /healthz, interval: 200ms, timeout: 1s, startPeriod: 30s}", ""))
	pollCond(t, "the v2 deploy to start", 60*time.Second, func() bool {
		out, _, _ := s.tryForgectl(nil, "get", "ro", "-l", "tinyforge.dev/workload=slow")
		return strings.Contains(out, "Deploying")
	})
	if err := s.terminate(); err != nil {
		t.Fatalf("SIGTERM mid-deploy: %v", err)
	}
	s2 := runServer(t, s.DataDir, s.Args)
	s2.waitServes(t, host, "version=v2")
	pollCond(t, "exactly one running container", 60*time.Second, func() bool {
		return len(running(t, cli, "default", "slow")) == 1
	})
	// The old container is stopped before it is removed: wait for both.
	deadline := time.Now().Add(30 * time.Second)
	for {
		all, err := cli.ContainerList(context.Background(), container.ListOptions{All: true, Filters: docker.WorkloadFilter("default", "slow")})
		if err != nil {
			t.Fatal(err)
		}
		if len(all) == 1 {
			return
		}
		if time.Now().After(deadline) {
			for _, c := range all {
				t.Logf("container %s %s %s revision=%s rollout=%s", c.Names, c.State, c.Status, c.Labels[docker.LabelRevision], c.Labels[docker.LabelRollout])
			}
			t.Fatalf("%d containers (running or not) 30s after the restart, want 1", len(all))
		}
		time.Sleep(100 * time.Millisecond)
	}
}
