package compose

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/build"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/client"
	"github.com/go-logr/logr/testr"

	"github.com/tinyforge/tinyforge/internal/docker"
	"github.com/tinyforge/tinyforge/internal/docker/dockertest"
	"github.com/tinyforge/tinyforge/plugins"
)

// testTimeout bounds each Docker test.
const testTimeout = 5 * time.Minute

// dbHealth is the compose health check of the tests' database services:
// the test app's own probe, every 200ms, whose failures during a long start
// period do not count, so a slow start on a loaded machine is not
// "unhealthy" (which fails service_healthy dependants, as in Compose).
const dbHealth = `{test: ["CMD", "/testapp", "-healthcheck"], interval: 200ms, timeout: 5s, retries: 3, start_period: 1m}`

// env is one test's world: the real daemon, a namespace of its own whose
// containers, networks and volumes are removed when the test ends, and a
// recording route table with a tiny proxy in front of it.
type env struct {
	t      *testing.T
	ctx    context.Context
	cli    *client.Client
	ns     string
	routes *routeTable
	deps   plugins.Deps
	src    *Source
}

func newEnv(t *testing.T) *env {
	t.Helper()
	if testing.Short() {
		t.Skip("needs the Docker daemon")
	}
	t.Parallel()
	cli := dockertest.Client(t)
	ns := "cmp-" + randomHex(4)
	dockertest.CleanupContainers(t, cli, docker.LabelNamespace+"="+ns)
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	t.Cleanup(cancel)
	rt := newRouteTable()
	return &env{
		t: t, ctx: ctx, cli: cli, ns: ns, routes: rt, src: &Source{},
		deps: plugins.Deps{Docker: cli, Routes: rt, Log: testr.NewWithOptions(t, testr.Options{Verbosity: 1})},
	}
}

// app builds the test app as tinyforge-compose-test:<ns>-<tag> and
// returns the tag's reference and the image ID.
func (e *env) app(tag string, opts ...dockertest.BuildOption) (ref, id string) {
	e.t.Helper()
	ref = "tinyforge-compose-test:" + e.ns + "-" + tag
	return ref, dockertest.BuildTestApp(e.t, e.cli, ref, opts...)
}

// workload returns a workload of the test's namespace running the compose
// file doc, health-checked over HTTP every 200ms when routed.
func (e *env) workload(name, doc string, opts ...func(*plugins.Workload)) plugins.Workload {
	w := plugins.Workload{
		Namespace: e.ns,
		Name:      name,
		Config:    mustJSON(e.t, map[string]any{"compose": doc}),
		HealthCheck: plugins.HealthCheck{
			Path: "/healthz", Interval: 200 * time.Millisecond, Timeout: time.Second, FailureThreshold: 3,
		},
		Strategy: plugins.Strategy{Type: plugins.StrategyBlueGreen, DrainTimeout: 5 * time.Second, ProgressDeadline: 2 * time.Minute},
	}
	for _, o := range opts {
		o(&w)
	}
	return w
}

func withRoute(host, service string, port int32) func(*plugins.Workload) {
	return func(w *plugins.Workload) {
		w.Routes = append(w.Routes, plugins.Route{Host: host, PathPrefix: "/", Port: port, Service: service})
	}
}

func withEnv(name, value string) func(*plugins.Workload) {
	return func(w *plugins.Workload) { w.Env = append(w.Env, plugins.EnvVar{Name: name, Value: value}) }
}

func withCurrent(rev string) func(*plugins.Workload) {
	return func(w *plugins.Workload) { w.CurrentRevision = rev }
}

// containers lists the containers of workload name, running or not.
func (e *env) containers(name string) []container.Summary {
	e.t.Helper()
	list, err := e.cli.ContainerList(e.ctx, container.ListOptions{All: true, Filters: docker.WorkloadFilter(e.ns, name)})
	if err != nil {
		e.t.Fatalf("listing containers: %v", err)
	}
	return list
}

// services maps each compose service of workload name to its containers,
// failing unless each has exactly one.
func (e *env) services(name string) map[string]container.Summary {
	e.t.Helper()
	out := map[string]container.Summary{}
	for _, c := range e.containers(name) {
		svc := c.Labels[LabelService]
		if prev, ok := out[svc]; ok {
			e.t.Fatalf("service %s has two containers: %s and %s (all: %v)", svc, prev.Names, c.Names, describe(e.containers(name)))
		}
		out[svc] = c
	}
	return out
}

func (e *env) inspect(id string) container.InspectResponse {
	e.t.Helper()
	insp, err := e.cli.ContainerInspect(e.ctx, id)
	if err != nil {
		e.t.Fatalf("inspecting %s: %v", id, err)
	}
	return insp
}

func describe(list []container.Summary) []string {
	var out []string
	for _, c := range list {
		out = append(out, strings.Join(c.Names, ",")+" "+string(c.State)+" "+c.Labels[docker.LabelRevision])
	}
	return out
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// waitFor polls cond until it holds, failing the test after a while.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func actions(res plugins.DeployResult) map[string]plugins.ServiceAction {
	out := map[string]plugins.ServiceAction{}
	for _, s := range res.Services {
		out[s.Name] = s.Action
	}
	return out
}

// The one-shot job image: testdata/job, compiled once per test process.
var jobBinary struct {
	once sync.Once
	bin  []byte
	err  error
}

// job builds the job image as tinyforge-compose-test:<ns>-<tag> and
// returns its reference; it is removed when the test ends.
func (e *env) job(tag string) string {
	e.t.Helper()
	jobBinary.once.Do(func() { jobBinary.bin, jobBinary.err = compileJob() })
	if jobBinary.err != nil {
		e.t.Fatal(jobBinary.err)
	}
	ref := "tinyforge-compose-test:" + e.ns + "-" + tag
	dockerfile := fmt.Sprintf("FROM scratch\nCOPY job /job\nENTRYPOINT [\"/job\"]\nLABEL %s=\"true\"\nENV %s=%s\n",
		dockertest.LabelTest, dockertest.EnvTestBuild, randomHex(8))
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range []struct {
		name string
		mode int64
		data []byte
	}{{"Dockerfile", 0o644, []byte(dockerfile)}, {"job", 0o755, jobBinary.bin}} {
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Mode: f.mode, Size: int64(len(f.data)), ModTime: time.Unix(0, 0)}); err != nil {
			e.t.Fatal(err)
		}
		if _, err := tw.Write(f.data); err != nil {
			e.t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		e.t.Fatal(err)
	}
	resp, err := e.cli.ImageBuild(e.ctx, &buf, build.ImageBuildOptions{
		Tags: []string{ref}, Remove: true, ForceRemove: true, Version: build.BuilderV1,
	})
	if err != nil {
		e.t.Fatalf("building %s: %v", ref, err)
	}
	err = docker.ReadJSONMessages(resp.Body)
	resp.Body.Close()
	if err != nil {
		e.t.Fatalf("building %s: %v", ref, err)
	}
	insp, err := e.cli.ImageInspect(e.ctx, ref)
	if err != nil {
		e.t.Fatalf("inspecting %s: %v", ref, err)
	}
	e.t.Cleanup(func() {
		// Its containers first, or the image would stay behind them.
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		users, err := e.cli.ContainerList(ctx, container.ListOptions{All: true, Filters: filters.NewArgs(filters.Arg("ancestor", insp.ID))})
		if err != nil {
			e.t.Errorf("listing containers of %s: %v", ref, err)
		}
		for _, c := range users {
			_ = e.cli.ContainerRemove(ctx, c.ID, container.RemoveOptions{Force: true})
		}
		if _, err := e.cli.ImageRemove(ctx, insp.ID, image.RemoveOptions{Force: true}); err != nil && !cerrdefs.IsNotFound(err) {
			e.t.Errorf("removing image %s: %v", ref, err)
		}
	})
	return ref
}

func compileJob() ([]byte, error) {
	dir, err := os.MkdirTemp("", "tinyforge-compose-job-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	out := filepath.Join(dir, "job")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", out, "./testdata/job")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+runtime.GOARCH, "GOFLAGS=-buildvcs=false")
	if msg, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("compiling testdata/job: %w\n%s", err, msg)
	}
	return os.ReadFile(out)
}

// routeTable is a plugins.RouteTable and Drainer that records what it is
// told, and a tiny reverse proxy that forwards each request to the backend
// last set for its route, counting requests in flight per backend so Drain
// means what the real proxy's does.
type routeTable struct {
	mu       sync.Mutex
	routes   map[plugins.RouteKey][]plugins.Backend
	sets     []setCall
	drains   []plugins.Backend
	inFlight map[string]int
}

type setCall struct {
	key      plugins.RouteKey
	backends []plugins.Backend
}

func newRouteTable() *routeTable {
	return &routeTable{routes: map[plugins.RouteKey][]plugins.Backend{}, inFlight: map[string]int{}}
}

func (rt *routeTable) SetRoute(_ context.Context, key plugins.RouteKey, backends ...plugins.Backend) error {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	rt.routes[key] = append([]plugins.Backend(nil), backends...)
	rt.sets = append(rt.sets, setCall{key: key, backends: rt.routes[key]})
	return nil
}

func (rt *routeTable) RemoveRoute(_ context.Context, key plugins.RouteKey) error {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	delete(rt.routes, key)
	return nil
}

// Drain waits until no request to any of backends is in flight, like the
// proxy's Drain.
func (rt *routeTable) Drain(ctx context.Context, timeout time.Duration, backends ...plugins.Backend) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	rt.mu.Lock()
	rt.drains = append(rt.drains, backends...)
	rt.mu.Unlock()
	for _, b := range backends {
		for {
			rt.mu.Lock()
			n := rt.inFlight[b.Address]
			rt.mu.Unlock()
			if n == 0 {
				break
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(5 * time.Millisecond):
			}
		}
	}
	return nil
}

// backend returns the one backend of key, or the zero Backend.
func (rt *routeTable) backend(key plugins.RouteKey) plugins.Backend {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if b := rt.routes[key]; len(b) == 1 {
		return b[0]
	}
	return plugins.Backend{}
}

func (rt *routeTable) has(key plugins.RouteKey) bool {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	_, ok := rt.routes[key]
	return ok
}

func (rt *routeTable) drained() []plugins.Backend {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	return append([]plugins.Backend(nil), rt.drains...)
}

// serve starts the test proxy for key on loopback and returns its URL.
func (rt *routeTable) serve(t *testing.T, key plugins.RouteKey) string {
	t.Helper()
	transport := &http.Transport{MaxIdleConnsPerHost: 16}
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rt.mu.Lock()
		bs := rt.routes[key]
		if len(bs) == 0 {
			rt.mu.Unlock()
			http.Error(w, "no backend", http.StatusServiceUnavailable)
			return
		}
		addr := bs[0].Address
		rt.inFlight[addr]++
		rt.mu.Unlock()
		defer func() {
			rt.mu.Lock()
			rt.inFlight[addr]--
			rt.mu.Unlock()
		}()
		target := &url.URL{Scheme: "http", Host: addr}
		(&httputil.ReverseProxy{
			Rewrite:   func(pr *httputil.ProxyRequest) { pr.SetURL(target) },
			Transport: transport,
		}).ServeHTTP(w, r)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() {
		_ = srv.Close()
		transport.CloseIdleConnections()
	})
	return "http://" + ln.Addr().String()
}
