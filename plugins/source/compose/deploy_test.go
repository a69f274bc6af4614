package compose

import (
	"errors"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"

	"github.com/tinyforge/tinyforge/internal/docker"
	"github.com/tinyforge/tinyforge/internal/docker/dockertest"
	"github.com/tinyforge/tinyforge/plugins"
	"github.com/tinyforge/tinyforge/plugins/internal/plugintest"
)

// shopDoc is a stack of a database with a health check, a routed web
// service that waits for it to be healthy, and a worker sharing web's
// image; the app's tag and web's greeting come from spec.env.
func shopDoc(dbRef string) string {
	return `
services:
  db:
    image: ` + dbRef + `
    healthcheck: ` + dbHealth + `
    restart: unless-stopped
  web:
    image: tinyforge-compose-test:${APP_TAG}
    environment:
      GREETING: ${GREETING:-hello}
      FAIL_HEALTH: ${WEB_FAIL:-false}
    depends_on:
      db:
        condition: service_healthy
  worker:
    image: tinyforge-compose-test:${APP_TAG}
    command: ["-port", "9090"]
    labels:
      com.example.role: worker
`
}

// The whole life of a stack: a first deploy in dependency order with the
// labels Compose reads; a repeat that changes nothing; an environment
// change that replaces only web, blue-green under load; an image tag change
// that replaces only the services using it; and an unhealthy web that
// leaves the serving one alone.
func TestDeployStack(t *testing.T) {
	e := newEnv(t)
	dbRef, dbID := e.app("db", dockertest.WithVersion("db"), dockertest.WithEnv("SLOW_START", "2s"))
	_, app1ID := e.app("app-v1", dockertest.WithVersion("app-v1"))
	_, app2ID := e.app("app-v2", dockertest.WithVersion("app-v2"))
	key := plugins.RouteKey{Host: "shop.test", PathPrefix: "/"}
	project := e.ns + "-shop"
	workload := func(opts ...func(*plugins.Workload)) plugins.Workload {
		base := []func(*plugins.Workload){withRoute("shop.test", "web", 8080), withEnv("APP_TAG", e.ns+"-app-v1")}
		return e.workload("shop", shopDoc(dbRef), append(base, opts...)...)
	}

	// First deploy.
	start := time.Now()
	res, err := e.src.Deploy(e.ctx, e.deps, workload(), plugins.DeploymentIntent{Rollout: "shop-g1"})
	if err != nil {
		t.Fatalf("Deploy: %v", err)
	}
	t.Logf("first deploy took %v: %s", time.Since(start).Round(time.Millisecond), res.Message)
	rev1 := res.Revision
	if !regexp.MustCompile(`^[0-9a-f]{16}$`).MatchString(rev1) {
		t.Errorf("revision = %q, want 16 hex digits", rev1)
	}
	want := map[string]plugins.ServiceAction{"db": plugins.ServiceCreated, "web": plugins.ServiceCreated, "worker": plugins.ServiceCreated}
	if got := actions(res); !equalActions(got, want) {
		t.Errorf("services = %v, want %v", got, want)
	}
	v1 := e.services("shop")
	images := map[string]string{"db": dbID, "web": app1ID, "worker": app1ID}
	for svc, c := range v1 {
		wantLabels := map[string]string{
			LabelProject: project, LabelService: svc, LabelNumber: "1", LabelOneoff: "False",
			LabelImage: images[svc], LabelVersion: ComposeVersion,
			LabelWorkingDir:       virtualRoot + "/" + e.ns + "/shop",
			LabelConfigFiles:      virtualRoot + "/" + e.ns + "/shop/compose.yaml",
			docker.LabelNamespace: e.ns, docker.LabelWorkload: "shop", docker.LabelRevision: rev1,
			docker.LabelRollout: "shop-g1", docker.LabelManagedBy: docker.ManagedByValue,
		}
		for k, v := range wantLabels {
			if c.Labels[k] != v {
				t.Errorf("%s: label %s = %q, want %q", svc, k, c.Labels[k], v)
			}
		}
		if !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(c.Labels[LabelConfigHash]) {
			t.Errorf("%s: config hash = %q", svc, c.Labels[LabelConfigHash])
		}
		if c.Names[0] != "/"+project+"-"+svc+"-1" || c.State != "running" {
			t.Errorf("%s: container %s is %s, want /%s-%s-1 running", svc, c.Names[0], c.State, project, svc)
		}
	}
	if got := v1["web"].Labels[LabelDependsOn]; got != "db:service_healthy:false" {
		t.Errorf("web depends_on label = %q", got)
	}
	if got := v1["worker"].Labels["com.example.role"]; got != "worker" {
		t.Errorf("worker's own label = %q", got)
	}

	// What `docker compose ls` and `docker compose -p NAME ps` select.
	composePS := filters.NewArgs(filters.Arg("label", LabelProject+"="+project), filters.Arg("label", LabelOneoff+"=False"))
	if list, err := e.cli.ContainerList(e.ctx, container.ListOptions{Filters: composePS}); err != nil || len(list) != 3 {
		t.Errorf("compose ps finds %d containers (%v), want 3", len(list), err)
	}
	nets, err := e.cli.NetworkList(e.ctx, network.ListOptions{Filters: filters.NewArgs(filters.Arg("label", LabelProject+"="+project))})
	if err != nil || len(nets) != 1 || nets[0].Name != project+"_default" || nets[0].Labels[LabelNetwork] != "default" ||
		nets[0].Labels[docker.LabelWorkload] != "shop" {
		t.Errorf("networks = %+v (%v), want %s_default labelled", nets, err, project)
	}
	webInsp := e.inspect(v1["web"].ID)
	if ep := webInsp.NetworkSettings.Networks[project+"_default"]; ep == nil || !slices.Contains(ep.Aliases, "web") {
		t.Errorf("web's networks = %+v, want %s_default with alias web", webInsp.NetworkSettings.Networks, project)
	}
	if b := webInsp.HostConfig.PortBindings["8080/tcp"]; len(b) != 1 || b[0].HostIP != "127.0.0.1" || b[0].HostPort != "" {
		t.Errorf("web's port bindings = %+v, want the route's port on a random loopback port", webInsp.HostConfig.PortBindings)
	}
	if len(e.inspect(v1["db"].ID).HostConfig.PortBindings) != 0 {
		t.Error("db publishes ports, want none")
	}

	// db listens (and so turns healthy) two seconds after its process
	// starts: web, which waits for it to be healthy, started more than a
	// second after db's start (Docker may stamp that a little late).
	dbInsp := e.inspect(v1["db"].ID)
	dbStarted, _ := time.Parse(time.RFC3339Nano, dbInsp.State.StartedAt)
	webStarted, _ := time.Parse(time.RFC3339Nano, webInsp.State.StartedAt)
	if webStarted.Before(dbStarted.Add(time.Second)) {
		t.Errorf("web started at %v, db at %v: want web after db's slow start (2s) and health check", webStarted, dbStarted)
	}

	// The proxy reaches web on the project network, skipping docker-proxy;
	// people reach it on its published loopback port.
	b1 := e.routes.backend(key)
	if want := dockertest.NetworkAddr(t, e.cli, v1["web"].ID, project+"_default", "8080"); b1.Revision != rev1 || b1.Address != want {
		t.Fatalf("route = %+v, want web's address %s on %s_default", b1, want, project)
	}
	if want := dockertest.HostAddr(t, e.cli, v1["web"].ID, "8080"); !slices.Contains(res.Endpoints, want) || !strings.HasPrefix(want, "127.0.0.1:") {
		t.Fatalf("endpoints = %v, want web's published %s", res.Endpoints, want)
	}
	dockertest.WaitHTTP(t, "http://"+b1.Address+"/", "version=app-v1", 5*time.Second)
	proxy := e.routes.serve(t, key)
	dockertest.WaitHTTP(t, proxy+"/", "version=app-v1", 5*time.Second)
	dockertest.WaitHTTP(t, proxy+"/env?key=GREETING", "hello", 5*time.Second)

	// The same spec again changes nothing.
	res, err = e.src.Deploy(e.ctx, e.deps, workload(withCurrent(rev1)), plugins.DeploymentIntent{Rollout: "shop-g2"})
	if err != nil {
		t.Fatalf("Deploy(again): %v", err)
	}
	want = map[string]plugins.ServiceAction{"db": plugins.ServiceUnchanged, "web": plugins.ServiceUnchanged, "worker": plugins.ServiceUnchanged}
	if got := actions(res); !equalActions(got, want) || res.Revision != rev1 {
		t.Errorf("repeat: services %v revision %s, want all Unchanged at %s", got, res.Revision, rev1)
	}
	for svc, c := range e.services("shop") {
		if c.ID != v1[svc].ID {
			t.Errorf("repeat replaced %s", svc)
		}
	}

	// web's environment changes: only web is replaced, blue-green, while
	// clients hammer the route.
	h := plugintest.StartHammer(proxy+"/", 4, nil)
	waitFor(t, "requests served by v1", func() bool { return h.OK() > 20 })
	res, err = e.src.Deploy(e.ctx, e.deps, workload(withEnv("GREETING", "bonjour"), withCurrent(rev1)), plugins.DeploymentIntent{Rollout: "shop-g3"})
	served := h.OK()
	if err == nil {
		waitFor(t, "requests served after the switch", func() bool { return h.OK() > served+20 })
	}
	h.Halt()
	if err != nil {
		t.Fatalf("Deploy(new greeting): %v", err)
	}
	t.Logf("env change: %s; hammer: %v", res.Message, h)
	if n := h.Failures(); n > 0 {
		t.Errorf("%d requests failed during the switch: %v", n, h.Errors())
	}
	want = map[string]plugins.ServiceAction{"db": plugins.ServiceUnchanged, "web": plugins.ServiceReplaced, "worker": plugins.ServiceUnchanged}
	if got := actions(res); !equalActions(got, want) || res.Revision == rev1 {
		t.Errorf("env change: services %v revision %s, want only web Replaced, a new revision", got, res.Revision)
	}
	rev2 := res.Revision
	v2 := e.services("shop")
	if v2["db"].ID != v1["db"].ID || v2["worker"].ID != v1["worker"].ID {
		t.Error("env change of web replaced db or worker")
	}
	if v2["web"].ID == v1["web"].ID || v2["web"].Names[0] != "/"+project+"-web-2" || v2["web"].Labels[LabelNumber] != "2" {
		t.Errorf("web after the env change: %s (number %s), want a new %s-web-2", v2["web"].Names, v2["web"].Labels[LabelNumber], project)
	}
	if b := e.routes.backend(key); b.Address == b1.Address || b.Revision != rev2 {
		t.Errorf("route = %+v, want the new web", b)
	}
	if d := e.routes.drained(); len(d) != 1 || d[0].Address != b1.Address {
		t.Errorf("drained %+v, want the old web %s", d, b1.Address)
	}
	dockertest.WaitHTTP(t, proxy+"/env?key=GREETING", "bonjour", 5*time.Second)

	// The app's tag changes: web and worker, which use it, are replaced;
	// db is not.
	res, err = e.src.Deploy(e.ctx, e.deps, workload(withEnv("GREETING", "bonjour"), withEnv("APP_TAG", e.ns+"-app-v2"), withCurrent(rev2)),
		plugins.DeploymentIntent{Rollout: "shop-g4"})
	if err != nil {
		t.Fatalf("Deploy(app v2): %v", err)
	}
	t.Logf("tag change: %s", res.Message)
	want = map[string]plugins.ServiceAction{"db": plugins.ServiceUnchanged, "web": plugins.ServiceReplaced, "worker": plugins.ServiceReplaced}
	if got := actions(res); !equalActions(got, want) {
		t.Errorf("tag change: services %v, want %v", got, want)
	}
	rev3 := res.Revision
	v3 := e.services("shop")
	if v3["db"].ID != v1["db"].ID || v3["worker"].ID == v2["worker"].ID || v3["web"].ID == v2["web"].ID {
		t.Errorf("tag change: db %t, worker %t, web %t replaced; want worker and web only",
			v3["db"].ID != v1["db"].ID, v3["worker"].ID != v2["worker"].ID, v3["web"].ID != v2["web"].ID)
	}
	if v3["web"].Labels[LabelImage] != app2ID || v3["worker"].Labels[LabelImage] != app2ID {
		t.Errorf("images after the tag change: web %s, worker %s, want %s", v3["web"].Labels[LabelImage], v3["worker"].Labels[LabelImage], app2ID)
	}
	dockertest.WaitHTTP(t, proxy+"/", "version=app-v2", 5*time.Second)

	// An unhealthy web fails the deploy; the serving one stays.
	serving := e.routes.backend(key)
	_, err = e.src.Deploy(e.ctx, e.deps, workload(withEnv("GREETING", "bonjour"), withEnv("APP_TAG", e.ns+"-app-v2"), withEnv("WEB_FAIL", "true"),
		withCurrent(rev3)), plugins.DeploymentIntent{Rollout: "shop-g5"})
	if !errors.Is(err, ErrUnhealthy) || !strings.Contains(err.Error(), "service web") || !strings.Contains(err.Error(), "keeps serving") {
		t.Errorf("Deploy(unhealthy web) = %v, want ErrUnhealthy naming web, the previous container serving", err)
	}
	v4 := e.services("shop")
	if v4["web"].ID != v3["web"].ID || e.routes.backend(key) != serving {
		t.Errorf("after a failed deploy: web %s, route %+v; want %s and %+v", v4["web"].ID, e.routes.backend(key), v3["web"].ID, serving)
	}
	dockertest.WaitHTTP(t, proxy+"/", "version=app-v2", 5*time.Second)
}

func equalActions(a, b map[string]plugins.ServiceAction) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// A routed service on an internal network and a plain one is reached on
// the plain one, which the host surely routes to, whatever the names'
// order.
func TestDeploySkipsInternalNetworks(t *testing.T) {
	e := newEnv(t)
	ref, _ := e.app("app", dockertest.WithVersion("app"))
	key := plugins.RouteKey{Host: "nets.test", PathPrefix: "/"}
	project := e.ns + "-nets"
	doc := `
services:
  web:
    image: ` + ref + `
    networks: [back, front]
networks:
  back:
    internal: true
  front: {}
`
	w := e.workload("nets", doc, withRoute("nets.test", "web", 8080))
	res, err := e.src.Deploy(e.ctx, e.deps, w, plugins.DeploymentIntent{Rollout: "nets-g1"})
	if err != nil {
		t.Fatalf("Deploy: %v", err)
	}
	web := e.services("nets")["web"]
	want := dockertest.NetworkAddr(t, e.cli, web.ID, project+"_front", "8080")
	if b := e.routes.backend(key); b.Address != want {
		t.Fatalf("route = %+v, want web's address %s on the non-internal %s_front", b, want, project)
	}
	dockertest.WaitHTTP(t, "http://"+want+"/", "version=app", 5*time.Second)

	// From the listing, Reconcile picks the same.
	w.CurrentRevision = res.Revision
	if _, err := e.src.Reconcile(e.ctx, e.deps, w); err != nil {
		t.Fatalf("Reconcile: %v", err)
	}
	if b := e.routes.backend(key); b.Address != want {
		t.Errorf("route after Reconcile = %+v, want %s", b, want)
	}
}
