package image

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/go-connections/nat"

	"github.com/tinyforge/tinyforge/internal/docker"
	"github.com/tinyforge/tinyforge/internal/docker/dockertest"
	"github.com/tinyforge/tinyforge/plugins"
	"github.com/tinyforge/tinyforge/plugins/internal/plugintest"
	"github.com/tinyforge/tinyforge/plugins/source/internal/health"
)

// A first deploy, a blue-green switch under load with no failed request,
// and an unhealthy revision that leaves the serving one alone.
func TestDeployBlueGreen(t *testing.T) {
	e := newEnv(t)
	ref1, id1 := e.build("v1", dockertest.WithVersion("v1"))
	ref2, id2 := e.build("v2", dockertest.WithVersion("v2"))
	ref3, id3 := e.build("v3", dockertest.WithVersion("v3"))
	key := plugins.RouteKey{Host: "web.test", PathPrefix: "/"}

	start := time.Now()
	res, err := e.src.Deploy(e.ctx, e.deps, e.workload("web", ref1), plugins.DeploymentIntent{Rollout: "web-g1"})
	if err != nil {
		t.Fatalf("Deploy(v1): %v", err)
	}
	t.Logf("deploy of v1 took %v: %s", time.Since(start).Round(time.Millisecond), res.Message)
	if res.Revision != id1 {
		t.Errorf("revision = %q, want the image ID %q", res.Revision, id1)
	}
	if len(res.Services) != 1 || res.Services[0].Action != plugins.ServiceCreated {
		t.Errorf("services = %+v, want one Created", res.Services)
	}
	c1 := e.only("web")
	wantLabels := map[string]string{
		docker.LabelNamespace: e.ns, docker.LabelWorkload: "web", docker.LabelRevision: id1,
		docker.LabelRollout: "web-g1", docker.LabelManagedBy: docker.ManagedByValue,
	}
	for k, v := range wantLabels {
		if c1.Labels[k] != v {
			t.Errorf("label %s = %q, want %q", k, c1.Labels[k], v)
		}
	}
	if len(c1.Labels[LabelConfigHash]) != 16 {
		t.Errorf("config hash label = %q", c1.Labels[LabelConfigHash])
	}
	if name, prefix := c1.Names[0], "/tf-"+e.ns+"-web-"+shortID(id1)+"-"; !strings.HasPrefix(name, prefix) || len(name) != len(prefix)+5 {
		t.Errorf("container name = %q, want %s<5 random>", name, prefix)
	}
	// The proxy reaches the container on the bridge network, skipping
	// docker-proxy; people reach it on its published loopback port.
	b1 := e.routes.backend(key)
	if want := dockertest.NetworkAddr(t, e.cli, c1.ID, "bridge", "8080"); b1.Revision != id1 || b1.Address != want {
		t.Fatalf("route = %+v, want the v1 container's network address %s", b1, want)
	}
	if want := dockertest.HostAddr(t, e.cli, c1.ID, "8080"); len(res.Endpoints) != 1 || res.Endpoints[0] != want || !strings.HasPrefix(want, "127.0.0.1:") {
		t.Fatalf("endpoints = %v, want the v1 container's published %s", res.Endpoints, want)
	}
	dockertest.WaitHTTP(t, "http://"+b1.Address+"/", "version=v1", 5*time.Second)
	dockertest.WaitHTTP(t, "http://"+res.Endpoints[0]+"/", "version=v1", 5*time.Second)

	// Blue-green to v2 while clients hammer the route through a proxy.
	proxy := e.routes.serve(t, key)
	h := plugintest.StartHammer(proxy+"/", 4, hammerVersion)
	waitFor(t, "requests served by v1", func() bool { return h.OK() > 20 })
	start = time.Now()
	res, err = e.src.Deploy(e.ctx, e.deps, e.workload("web", ref2, withCurrent(id1)), plugins.DeploymentIntent{Rollout: "web-g2"})
	took := time.Since(start)
	if err != nil {
		h.Halt()
		t.Fatalf("Deploy(v2): %v", err)
	}
	sets := e.routes.setCalls()
	switched := sets[len(sets)-1].at.Sub(start)
	served := h.OK()
	waitFor(t, "requests served by v2", func() bool { return h.OK() > served+20 })
	h.Halt()
	t.Logf("deploy of v2 took %v, route switched after %v: %s", took.Round(time.Millisecond), switched.Round(time.Millisecond), res.Message)
	t.Logf("hammer: %v", h)
	if n := h.Failures(); n > 0 {
		t.Errorf("%d requests failed during the switch: %v", n, h.Errors())
	}
	if h.Seen("v1") == 0 || h.Seen("v2") == 0 || len(h.Keys()) != 2 {
		t.Errorf("versions seen = %v, want v1 then v2", h.Keys())
	}
	if res.Revision != id2 || len(res.Services) != 1 || res.Services[0].Action != plugins.ServiceReplaced {
		t.Errorf("result = %+v, want revision %s Replaced", res, id2)
	}
	c2 := e.only("web")
	b2 := e.routes.backend(key)
	if c2.ID == c1.ID || c2.Labels[docker.LabelRevision] != id2 || b2.Revision != id2 || b2.Address == b1.Address {
		t.Errorf("after v2: container %s (%s), route %+v", c2.ID, c2.Labels[docker.LabelRevision], b2)
	}
	drains := e.routes.drainCalls()
	if len(drains) != 1 || drains[0].backend != b1 || drains[0].err != nil {
		t.Errorf("drains = %+v, want one of %+v", drains, b1)
	} else {
		t.Logf("drain of v1 waited %v for %d requests in flight", drains[0].took.Round(time.Millisecond), drains[0].inFlight)
	}

	// v3 never gets healthy: v2 keeps serving, v3 leaves nothing behind.
	start = time.Now()
	res, err = e.src.Deploy(e.ctx, e.deps, e.workload("web", ref3, withEnv("FAIL_HEALTH", "1"), withCurrent(id2)),
		plugins.DeploymentIntent{Rollout: "web-g3"})
	t.Logf("failed deploy of v3 took %v: %v", time.Since(start).Round(time.Millisecond), err)
	if !errors.Is(err, ErrUnhealthy) || !strings.Contains(err.Error(), "keep serving") {
		t.Errorf("Deploy(unhealthy v3) = %v, want ErrUnhealthy saying the previous containers keep serving", err)
	}
	if res.Revision != id3 {
		t.Errorf("failed deploy's revision = %q, want %q", res.Revision, id3)
	}
	if c := e.only("web"); c.ID != c2.ID {
		t.Errorf("running container = %s, want v2's %s", c.ID, c2.ID)
	}
	if b := e.routes.backend(key); b != b2 {
		t.Errorf("route = %+v, want v2's %+v", b, b2)
	}
	dockertest.WaitHTTP(t, "http://"+b2.Address+"/", "version=v2", 5*time.Second)
}

// With PublishedUpstreams the proxy and the health check go through the
// published loopback port, as for a daemon whose networks the host cannot
// reach.
func TestDeployPublishedUpstreams(t *testing.T) {
	e := newEnv(t)
	e.deps.PublishedUpstreams = true
	ref, _ := e.build("v1", dockertest.WithVersion("v1"))
	key := plugins.RouteKey{Host: "pub.test", PathPrefix: "/"}
	w := e.workload("pub", ref)
	res, err := e.src.Deploy(e.ctx, e.deps, w, plugins.DeploymentIntent{Rollout: "pub-g1"})
	if err != nil {
		t.Fatalf("Deploy: %v", err)
	}
	c := e.only("pub")
	want := dockertest.HostAddr(t, e.cli, c.ID, "8080")
	if b := e.routes.backend(key); b.Address != want || len(res.Endpoints) != 1 || res.Endpoints[0] != want {
		t.Fatalf("route = %+v, endpoints %v; want both on the published %s", b, res.Endpoints, want)
	}
	w.CurrentRevision = res.Revision
	if _, err := e.src.Reconcile(e.ctx, e.deps, w); err != nil {
		t.Fatalf("Reconcile: %v", err)
	}
	if b := e.routes.backend(key); b.Address != want {
		t.Errorf("route after Reconcile = %+v, want %s", b, want)
	}
	dockertest.WaitHTTP(t, "http://"+want+"/", "version=v1", 5*time.Second)
}

// A repeated deploy of the same intent reuses the container and removes
// leftovers; a config change of the same image is a new container.
func TestDeployIsIdempotent(t *testing.T) {
	e := newEnv(t)
	ref, id := e.build("v1", dockertest.WithVersion("v1"))
	w := e.workload("api", ref)
	intent := plugins.DeploymentIntent{Rollout: "api-g1"}
	if _, err := e.src.Deploy(e.ctx, e.deps, w, intent); err != nil {
		t.Fatalf("Deploy: %v", err)
	}
	c1 := e.only("api")
	// What an interrupted deploy leaves: a container never started.
	stale := e.create("api", id, "sha256:"+strings.Repeat("1", 64), false)

	start := time.Now()
	res, err := e.src.Deploy(e.ctx, e.deps, w, intent)
	if err != nil {
		t.Fatalf("second Deploy: %v", err)
	}
	t.Logf("repeated deploy took %v: %s", time.Since(start).Round(time.Millisecond), res.Message)
	if c := e.only("api"); c.ID != c1.ID {
		t.Errorf("second deploy replaced the container: %s, want %s", c.ID, c1.ID)
	}
	if len(res.Services) != 1 || res.Services[0].Action != plugins.ServiceUnchanged || !strings.Contains(res.Message, "already runs") {
		t.Errorf("result = %+v, want Unchanged", res)
	}
	if !strings.Contains(res.Message, stale) {
		t.Errorf("message %q does not name the removed stale container %s", res.Message, stale)
	}
	if sets := e.routes.setCalls(); len(sets) != 2 || sets[1].backends[0] != sets[0].backends[0] {
		t.Errorf("route calls = %+v, want the same backend set twice", sets)
	}

	w2 := e.workload("api", ref, withEnv("GREETING", "hello"))
	res, err = e.src.Deploy(e.ctx, e.deps, w2, plugins.DeploymentIntent{Rollout: "api-g2"})
	if err != nil {
		t.Fatalf("Deploy(new env): %v", err)
	}
	c2 := e.only("api")
	if c2.ID == c1.ID || res.Revision != id || c2.Labels[LabelConfigHash] == c1.Labels[LabelConfigHash] {
		t.Errorf("config change: container %s hash %s (was %s %s), revision %s",
			c2.ID, c2.Labels[LabelConfigHash], c1.ID, c1.Labels[LabelConfigHash], res.Revision)
	}
	dockertest.WaitHTTP(t, "http://"+res.Endpoints[0]+"/env?key=GREETING", "hello", 5*time.Second)
}

// intent.Revision pins the image (a rollback), whatever the config's tag
// says now.
func TestDeployPinnedRevision(t *testing.T) {
	e := newEnv(t)
	_, id1 := e.build("v1", dockertest.WithVersion("v1"))
	ref2, id2 := e.build("v2", dockertest.WithVersion("v2"))
	w := e.workload("web", ref2, withConfig(map[string]any{"pullPolicy": "Never"}))
	res, err := e.src.Deploy(e.ctx, e.deps, w, plugins.DeploymentIntent{Revision: id1, Rollout: "web-rollback"})
	if err != nil {
		t.Fatalf("Deploy(rollback): %v", err)
	}
	if res.Revision != id1 {
		t.Errorf("revision = %q, want %q", res.Revision, id1)
	}
	dockertest.WaitHTTP(t, "http://"+res.Endpoints[0]+"/", "version=v1", 5*time.Second)

	// Not a digest: the config's image.
	res, err = e.src.Deploy(e.ctx, e.deps, w, plugins.DeploymentIntent{Revision: "g7", Rollout: "web-g7"})
	if err != nil || res.Revision != id2 {
		t.Fatalf("Deploy(config) = %+v, %v; want revision %s", res, err, id2)
	}
	e.only("web")

	// A missing image with pullPolicy Never is a clear error.
	missing := e.workload("web", "tinyforge-image-test:"+e.ns+"-missing", withConfig(map[string]any{"pullPolicy": "Never"}))
	if _, err := e.src.Deploy(e.ctx, e.deps, missing, plugins.DeploymentIntent{}); !errors.Is(err, ErrImageNotFound) {
		t.Errorf("Deploy(missing image) = %v, want ErrImageNotFound", err)
	}
}

// Recreate stops the old revision first; a failure leaves nothing running.
func TestDeployRecreate(t *testing.T) {
	e := newEnv(t)
	// Without Drain, a grace period stands in for it.
	e.deps.Routes = noDrain{e.routes}
	ref1, id1 := e.build("v1", dockertest.WithVersion("v1"))
	ref2, id2 := e.build("v2", dockertest.WithVersion("v2"))
	key := plugins.RouteKey{Host: "db.test", PathPrefix: "/"}
	recreate := withStrategy(plugins.StrategyRecreate)

	if _, err := e.src.Deploy(e.ctx, e.deps, e.workload("db", ref1, recreate), plugins.DeploymentIntent{}); err != nil {
		t.Fatalf("Deploy(v1): %v", err)
	}
	c1 := e.only("db")
	start := time.Now()
	res, err := e.src.Deploy(e.ctx, e.deps, e.workload("db", ref2, recreate, withCurrent(id1)), plugins.DeploymentIntent{})
	if err != nil {
		t.Fatalf("Deploy(v2): %v", err)
	}
	t.Logf("recreate deploy took %v: %s", time.Since(start).Round(time.Millisecond), res.Message)
	c2 := e.only("db")
	if c2.ID == c1.ID || c2.Labels[docker.LabelRevision] != id2 {
		t.Errorf("after v2: %v", describe(e.containers("db")))
	}
	sets := e.routes.setCalls()
	if len(sets) != 3 || len(sets[1].backends) != 0 || sets[2].backends[0].Revision != id2 ||
		len(res.Services) != 1 || res.Services[0].Action != plugins.ServiceReplaced {
		t.Errorf("route calls = %+v, services %+v; want v1, none (503 while recreating), v2, Replaced", sets, res.Services)
	}

	_, err = e.src.Deploy(e.ctx, e.deps, e.workload("db", ref1, recreate, withEnv("FAIL_HEALTH", "1"), withCurrent(id2)),
		plugins.DeploymentIntent{})
	if !errors.Is(err, ErrUnhealthy) || !strings.Contains(err.Error(), "nothing is running") {
		t.Errorf("Deploy(unhealthy) = %v, want ErrUnhealthy saying nothing is running", err)
	}
	if list := e.containers("db"); len(list) != 0 {
		t.Errorf("containers left after a failed recreate: %v", describe(list))
	}
	if b, ok := e.routes.has(key); !ok || len(b) != 0 {
		t.Errorf("route = %v, %v; want it claimed with no backend", b, ok)
	}
}

// A container that exits while awaited fails the deploy with its exit
// code and log, whether or not Docker restarts it.
func TestDeployExitedContainer(t *testing.T) {
	e := newEnv(t)
	ref, _ := e.build("crash", dockertest.WithEnv("EXIT_AFTER", "300ms"))
	for _, policy := range []string{"no", "unless-stopped"} {
		t.Run(policy, func(t *testing.T) {
			name := "crash-" + strings.ReplaceAll(policy, "-", "")
			w := e.workload(name, ref, withoutHealthPath(), withConfig(map[string]any{"restartPolicy": policy}))
			_, err := e.src.Deploy(e.ctx, e.deps, w, plugins.DeploymentIntent{})
			// Docker may have restarted it (and reset its exit code) before
			// it is looked at; the log says why anyway.
			wantExit := "exited with code 1"
			if policy != "no" {
				wantExit = "exited"
			}
			if !errors.Is(err, ErrExited) || !strings.Contains(err.Error(), wantExit) ||
				!strings.Contains(err.Error(), "EXIT_AFTER=300ms elapsed, exiting with code 1") {
				t.Errorf("Deploy() = %v, want ErrExited with the exit code and the log", err)
			}
			if list := e.containers(name); len(list) != 0 {
				t.Errorf("containers left: %v", describe(list))
			}
		})
	}
}

// An image's own HEALTHCHECK decides when there is no HTTP probe.
func TestDeployDockerHealthcheck(t *testing.T) {
	e := newEnv(t)
	ref, _ := e.build("hc", dockertest.WithVersion("hc"), dockertest.WithHealthcheck(200*time.Millisecond))
	res, err := e.src.Deploy(e.ctx, e.deps, e.workload("hc", ref, withoutHealthPath()), plugins.DeploymentIntent{})
	if err != nil {
		t.Fatalf("Deploy: %v", err)
	}
	insp, err := e.cli.ContainerInspect(e.ctx, e.only("hc").ID)
	if err != nil {
		t.Fatal(err)
	}
	if insp.State.Health == nil || insp.State.Health.Status != container.Healthy {
		t.Errorf("deployed before Docker said healthy: %+v", insp.State.Health)
	}
	t.Log(res.Message)

	_, err = e.src.Deploy(e.ctx, e.deps, e.workload("hc", ref, withoutHealthPath(), withEnv("FAIL_HEALTH", "1")), plugins.DeploymentIntent{})
	if !errors.Is(err, ErrUnhealthy) || !strings.Contains(err.Error(), "Docker reports the container unhealthy") {
		t.Errorf("Deploy(unhealthy) = %v, want ErrUnhealthy from Docker", err)
	}
}

// Without any health check the container must run for a while; every
// config field reaches the container.
func TestDeployContainerConfig(t *testing.T) {
	e := newEnv(t)
	ref, id := e.build("cfg")
	w := e.workload("cfg", ref, withoutHealthPath(), withConfig(map[string]any{
		"args":          []string{"-version", "from-args"},
		"ports":         []map[string]any{{"containerPort": 9090, "protocol": "udp"}, {"containerPort": 8080}},
		"volumes":       []map[string]any{{"name": "data", "mountPath": "/data"}, {"hostPath": t.TempDir(), "mountPath": "/host", "readOnly": true}},
		"resources":     map[string]any{"memory": "64Mi", "cpus": 0.5},
		"restartPolicy": "on-failure",
		"labels":        map[string]string{"com.example.team": "shop"},
		"stopTimeout":   "3s",
	}))
	w.Routes = nil
	start := time.Now()
	res, err := e.src.Deploy(e.ctx, e.deps, w, plugins.DeploymentIntent{})
	took := time.Since(start)
	if err != nil {
		t.Fatalf("Deploy: %v", err)
	}
	if took < health.DefaultMinRunning {
		t.Errorf("deploy without a health check took %v, less than %v", took, health.DefaultMinRunning)
	}
	insp, err := e.cli.ContainerInspect(e.ctx, e.only("cfg").ID)
	if err != nil {
		t.Fatal(err)
	}
	hc, cfg := insp.HostConfig, insp.Config
	if hc.Memory != 64<<20 || hc.NanoCPUs != 500_000_000 || hc.RestartPolicy.Name != container.RestartPolicyOnFailure {
		t.Errorf("host config: memory %d, cpus %d, restart %q", hc.Memory, hc.NanoCPUs, hc.RestartPolicy.Name)
	}
	if cfg.StopTimeout == nil || *cfg.StopTimeout != 3 || cfg.Labels["com.example.team"] != "shop" || insp.Image != id {
		t.Errorf("config: stop timeout %v, labels %v, image %s", cfg.StopTimeout, cfg.Labels, insp.Image)
	}
	var volumeSeen, bindSeen bool
	for _, m := range insp.Mounts {
		switch {
		case m.Type == mount.TypeVolume && m.Name == "tf-"+e.ns+"-cfg-data" && m.Destination == "/data":
			volumeSeen = true
		case m.Type == mount.TypeBind && m.Destination == "/host" && !m.RW:
			bindSeen = true
		}
	}
	if !volumeSeen || !bindSeen {
		t.Errorf("mounts = %+v", insp.Mounts)
	}
	for _, p := range []nat.Port{"8080/tcp", "9090/udp"} {
		b := insp.NetworkSettings.Ports[p]
		if len(b) == 0 || b[0].HostIP != "127.0.0.1" || b[0].HostPort == "" {
			t.Errorf("port %s bound to %+v, want a random loopback port", p, b)
		}
	}
	if len(res.Endpoints) != 1 {
		t.Fatalf("endpoints = %v, want the TCP port only", res.Endpoints)
	}
	dockertest.WaitHTTP(t, "http://"+res.Endpoints[0]+"/", "version=from-args", 5*time.Second)
}

// waitFor polls cond until it holds, failing the test after a while.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// create creates a container of imageID labelled as workload's of
// revision, started or not, and returns its name.
func (e *env) create(workload, imageID, revision string, start bool) string {
	e.t.Helper()
	name := "tf-" + e.ns + "-" + workload + "-stray-" + randomHex(3)
	c, err := e.cli.ContainerCreate(e.ctx, &container.Config{
		Image:  imageID,
		Labels: docker.Labels(e.ns, workload, revision, ""),
	}, nil, nil, nil, name)
	if err != nil {
		e.t.Fatalf("creating a stray container: %v", err)
	}
	if start {
		if err := e.cli.ContainerStart(e.ctx, c.ID, container.StartOptions{}); err != nil {
			e.t.Fatalf("starting a stray container: %v", err)
		}
	}
	return name
}

// hammerVersion is the version a test app's answer names
// ("version=v2 host=…" is v2).
func hammerVersion(body string) string {
	v, _, _ := strings.Cut(strings.TrimPrefix(body, "version="), " ")
	return v
}
