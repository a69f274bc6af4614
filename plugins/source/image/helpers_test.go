package image

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/client"
	"github.com/go-logr/logr/testr"

	"github.com/tinyforge/tinyforge/internal/docker"
	"github.com/tinyforge/tinyforge/internal/docker/dockertest"
	"github.com/tinyforge/tinyforge/plugins"
)

// testTimeout bounds each Docker test.
const testTimeout = 2 * time.Minute

// env is one test's world: the real daemon, a namespace of its own whose
// containers and volumes are removed when the test ends, and a recording
// route table with a tiny proxy in front of it.
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
	ns := "img-" + randomHex(4)
	dockertest.CleanupContainers(t, cli, docker.LabelNamespace+"="+ns)
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	t.Cleanup(cancel)
	rt := newRouteTable()
	return &env{
		t: t, ctx: ctx, cli: cli, ns: ns, routes: rt, src: &Source{},
		deps: plugins.Deps{Docker: cli, Routes: rt, Log: testr.NewWithOptions(t, testr.Options{Verbosity: 1})},
	}
}

// build builds the test app as <ns>-<tag> and returns its image ID.
func (e *env) build(tag string, opts ...dockertest.BuildOption) (ref, id string) {
	e.t.Helper()
	ref = "tinyforge-image-test:" + e.ns + "-" + tag
	return ref, dockertest.BuildTestApp(e.t, e.cli, ref, opts...)
}

// workload returns a workload of the test's namespace running ref, routed
// at web.test/, health-checked over HTTP every 200ms.
func (e *env) workload(name, ref string, opts ...func(*plugins.Workload)) plugins.Workload {
	w := plugins.Workload{
		Namespace: e.ns,
		Name:      name,
		Config:    mustJSON(e.t, map[string]any{"image": ref}),
		Routes:    []plugins.Route{{Host: name + ".test", PathPrefix: "/", Port: 8080}},
		HealthCheck: plugins.HealthCheck{
			Path: "/healthz", Interval: 200 * time.Millisecond, Timeout: time.Second, FailureThreshold: 3,
		},
		Strategy: plugins.Strategy{Type: plugins.StrategyBlueGreen, DrainTimeout: 5 * time.Second, ProgressDeadline: 30 * time.Second},
	}
	for _, o := range opts {
		o(&w)
	}
	return w
}

func withConfig(cfg map[string]any) func(*plugins.Workload) {
	return func(w *plugins.Workload) {
		var base map[string]any
		_ = json.Unmarshal(w.Config, &base)
		for k, v := range cfg {
			base[k] = v
		}
		w.Config, _ = json.Marshal(base)
	}
}

func withEnv(name, value string) func(*plugins.Workload) {
	return func(w *plugins.Workload) { w.Env = append(w.Env, plugins.EnvVar{Name: name, Value: value}) }
}

func withStrategy(s plugins.StrategyType) func(*plugins.Workload) {
	return func(w *plugins.Workload) { w.Strategy.Type = s }
}

func withoutHealthPath() func(*plugins.Workload) {
	return func(w *plugins.Workload) { w.HealthCheck.Path = "" }
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

// only returns the one container of workload name, failing unless there is
// exactly one and it runs.
func (e *env) only(name string) container.Summary {
	e.t.Helper()
	list := e.containers(name)
	if len(list) != 1 {
		e.t.Fatalf("workload %s has %d containers, want 1: %v", name, len(list), describe(list))
	}
	if list[0].State != "running" {
		e.t.Fatalf("container %s is %s, want running", list[0].Names, list[0].State)
	}
	return list[0]
}

func describe(list []container.Summary) []string {
	var out []string
	for _, c := range list {
		out = append(out, strings.Join(c.Names, ",")+" "+string(c.State)+" "+c.Labels[docker.LabelRevision])
	}
	return out
}

// byLabel counts every container carrying label (key=value).
func (e *env) byLabel(label string) int {
	e.t.Helper()
	list, err := e.cli.ContainerList(e.ctx, container.ListOptions{All: true, Filters: filters.NewArgs(filters.Arg("label", label))})
	if err != nil {
		e.t.Fatalf("listing containers: %v", err)
	}
	return len(list)
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

// routeTable is a plugins.RouteTable and Drainer that records what it is
// told, and a tiny reverse proxy that forwards each request to the backend
// last set for its route, counting requests in flight per backend so Drain
// means what the real proxy's does.
type routeTable struct {
	mu       sync.Mutex
	routes   map[plugins.RouteKey][]plugins.Backend
	sets     []setCall
	drains   []drainCall
	inFlight map[string]int
	// served counts requests forwarded per backend.
	served map[string]int
}

type setCall struct {
	at       time.Time
	key      plugins.RouteKey
	backends []plugins.Backend
}

type drainCall struct {
	key      plugins.RouteKey
	backend  plugins.Backend
	inFlight int
	took     time.Duration
	err      error
}

func newRouteTable() *routeTable {
	return &routeTable{routes: map[plugins.RouteKey][]plugins.Backend{}, inFlight: map[string]int{}, served: map[string]int{}}
}

func (rt *routeTable) SetRoute(_ context.Context, key plugins.RouteKey, backends ...plugins.Backend) error {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	rt.routes[key] = append([]plugins.Backend(nil), backends...)
	rt.sets = append(rt.sets, setCall{at: time.Now(), key: key, backends: rt.routes[key]})
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
	var errs []error
	for _, b := range backends {
		errs = append(errs, rt.drainOne(ctx, b))
	}
	return errors.Join(errs...)
}

func (rt *routeTable) drainOne(ctx context.Context, backend plugins.Backend) error {
	start := time.Now()
	rt.mu.Lock()
	first := rt.inFlight[backend.Address]
	rt.mu.Unlock()
	record := func(err error) error {
		rt.mu.Lock()
		defer rt.mu.Unlock()
		rt.drains = append(rt.drains, drainCall{backend: backend, inFlight: first, took: time.Since(start), err: err})
		return err
	}
	for {
		rt.mu.Lock()
		n := rt.inFlight[backend.Address]
		rt.mu.Unlock()
		if n == 0 {
			return record(nil)
		}
		select {
		case <-ctx.Done():
			return record(ctx.Err())
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// backend returns the one backend of key, or "".
func (rt *routeTable) backend(key plugins.RouteKey) plugins.Backend {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if b := rt.routes[key]; len(b) == 1 {
		return b[0]
	}
	return plugins.Backend{}
}

func (rt *routeTable) has(key plugins.RouteKey) ([]plugins.Backend, bool) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	b, ok := rt.routes[key]
	return b, ok
}

func (rt *routeTable) setCalls() []setCall {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	return append([]setCall(nil), rt.sets...)
}

func (rt *routeTable) drainCalls() []drainCall {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	return append([]drainCall(nil), rt.drains...)
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
		rt.served[addr]++
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

// noDrain is a route table without the Drainer interface.
type noDrain struct{ rt *routeTable }

func (n noDrain) SetRoute(ctx context.Context, key plugins.RouteKey, backends ...plugins.Backend) error {
	return n.rt.SetRoute(ctx, key, backends...)
}

func (n noDrain) RemoveRoute(ctx context.Context, key plugins.RouteKey) error {
	return n.rt.RemoveRoute(ctx, key)
}
