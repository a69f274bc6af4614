package static

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
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
const testTimeout = 3 * time.Minute

// sitePort is where the test app serves the site in static mode, unlike
// the routes' port 80: routes go to the config's port.
const sitePort = 8080

// env is one test's world: the real daemon, a namespace of its own whose
// containers and images are removed when the test ends, a serving base
// image and a build image made from the test app, a git repository, and a
// recording route table with a tiny proxy in front of it.
type env struct {
	t      *testing.T
	ctx    context.Context
	cli    *client.Client
	ns     string
	routes *routeTable
	deps   plugins.Deps
	src    *Source
	repo   *testRepo
	// serve is the base image: the test app serving /www on 8080.
	serve string
	// builder is the test app as a build image.
	builder string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	if testing.Short() {
		t.Skip("needs the Docker daemon")
	}
	t.Parallel()
	return setupEnv(t)
}

// setupEnv is newEnv for a test that must not run in parallel (it sets
// the process's environment).
func setupEnv(t *testing.T) *env {
	t.Helper()
	if testing.Short() {
		t.Skip("needs the Docker daemon")
	}
	cli := dockertest.Client(t)
	ns := "st-" + randomHex(4)
	e := &env{t: t, cli: cli, ns: ns, routes: newRouteTable(), src: &Source{}}
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	t.Cleanup(cancel)
	e.ctx = ctx
	e.deps = plugins.Deps{Docker: cli, Routes: e.routes, Log: testr.NewWithOptions(t, testr.Options{Verbosity: 1})}
	e.serve = "tinyforge-static-test:" + ns + "-serve"
	dockertest.BuildTestApp(t, cli, e.serve, dockertest.WithEnv("STATIC_DIR", "/www"))
	e.builder = "tinyforge-static-test:" + ns + "-build"
	dockertest.BuildTestApp(t, cli, e.builder)
	// Registered after the builds, so they run before their cleanups (the
	// site images are children of the base image): the containers first,
	// then the images they use.
	t.Cleanup(e.removeSiteImages)
	dockertest.CleanupContainers(t, cli, docker.LabelNamespace+"="+ns)
	e.repo = newRepo(t)
	return e
}

// removeSiteImages removes every image labelled with the test's namespace.
func (e *env) removeSiteImages() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, img := range e.siteImages(ctx) {
		_, err := e.cli.ImageRemove(ctx, img.ID, image.RemoveOptions{Force: true, PruneChildren: true})
		if err != nil && !cerrdefs.IsNotFound(err) {
			e.t.Errorf("removing image %s: %v", img.RepoTags, err)
		}
	}
}

// siteImages lists the images labelled with the test's namespace.
func (e *env) siteImages(ctx context.Context) []image.Summary {
	list, err := e.cli.ImageList(ctx, image.ListOptions{Filters: filters.NewArgs(filters.Arg("label", docker.LabelNamespace+"="+e.ns))})
	if err != nil {
		e.t.Errorf("listing images: %v", err)
	}
	return list
}

// config is a static config serving folder site of the test repository
// with the test app.
func (e *env) config(extra map[string]any) []byte {
	cfg := map[string]any{
		"git":       map[string]any{"url": e.repo.url(), "ref": "main", "path": "site"},
		"baseImage": e.serve,
		"root":      "/www",
		"port":      sitePort,
	}
	for k, v := range extra {
		cfg[k] = v
	}
	return mustJSON(e.t, cfg)
}

// workload returns a workload of the test's namespace with config, routed
// at <name>.test/ (port 80, which the source replaces with the site's),
// health-checked over HTTP every 200ms.
func (e *env) workload(name string, config []byte, current string) plugins.Workload {
	return plugins.Workload{
		Namespace:       e.ns,
		Name:            name,
		Config:          config,
		Routes:          []plugins.Route{{Host: name + ".test", PathPrefix: "/", Port: 80}},
		HealthCheck:     plugins.HealthCheck{Path: "/healthz", Interval: 200 * time.Millisecond, Timeout: time.Second, FailureThreshold: 3},
		Strategy:        plugins.Strategy{Type: plugins.StrategyBlueGreen, DrainTimeout: 5 * time.Second, ProgressDeadline: 90 * time.Second},
		CurrentRevision: current,
	}
}

func (e *env) key(name string) plugins.RouteKey {
	return plugins.RouteKey{Host: name + ".test", PathPrefix: "/"}
}

// revision is the revision a deploy of commit with config gives.
func (e *env) revision(commit string, config []byte) string {
	e.t.Helper()
	set, errs := parseConfig(testPath, config)
	if len(errs) > 0 {
		e.t.Fatal(errs)
	}
	return revisionOf(commit, set.hash)
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
	if len(list) != 1 || list[0].State != "running" {
		var desc []string
		for _, c := range list {
			desc = append(desc, strings.Join(c.Names, ",")+" "+string(c.State)+" "+c.Labels[docker.LabelRevision])
		}
		e.t.Fatalf("workload %s has containers %v, want one running", name, desc)
	}
	return list[0]
}

// imageOf inspects the site image of revision; ok is false when it does not
// exist.
func (e *env) imageOf(name, revision string) (image.InspectResponse, bool) {
	e.t.Helper()
	insp, err := e.cli.ImageInspect(e.ctx, imageTag(plugins.Workload{Namespace: e.ns, Name: name}, revision))
	if cerrdefs.IsNotFound(err) {
		return insp, false
	}
	if err != nil {
		e.t.Fatalf("inspecting image: %v", err)
	}
	return insp, true
}

// testRepo is a repository made with the git CLI: a work tree where the
// test commits, and a bare repository that the source fetches from over
// file://.
type testRepo struct {
	t    *testing.T
	work string
	bare string
}

// newRepo makes a repository with an empty first commit on main.
func newRepo(t *testing.T) *testRepo {
	t.Helper()
	dir := t.TempDir()
	r := &testRepo{t: t, work: filepath.Join(dir, "work"), bare: filepath.Join(dir, "site.git")}
	gitCmd(t, "", "init", "--quiet", "--initial-branch=main", r.work)
	gitCmd(t, "", "init", "--quiet", "--bare", "--initial-branch=main", r.bare)
	return r
}

func (r *testRepo) url() string { return "file://" + r.bare }

// write writes files (name -> content) into the work tree.
func (r *testRepo) write(files map[string]string) {
	r.t.Helper()
	for name, content := range files {
		p := filepath.Join(r.work, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			r.t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			r.t.Fatal(err)
		}
	}
}

// symlink makes name a symlink to target in the work tree.
func (r *testRepo) symlink(name, target string) {
	r.t.Helper()
	p := filepath.Join(r.work, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		r.t.Fatal(err)
	}
	if err := os.Symlink(target, p); err != nil {
		r.t.Fatal(err)
	}
}

// remove removes name (a file or folder) from the work tree.
func (r *testRepo) remove(name string) {
	r.t.Helper()
	if err := os.RemoveAll(filepath.Join(r.work, filepath.FromSlash(name))); err != nil {
		r.t.Fatal(err)
	}
}

// commit commits everything, pushes main to the bare repository and
// returns the commit ID.
func (r *testRepo) commit(msg string) string {
	r.t.Helper()
	gitCmd(r.t, r.work, "add", "--all")
	gitCmd(r.t, r.work, "commit", "--quiet", "--allow-empty", "-m", msg)
	gitCmd(r.t, r.work, "push", "--quiet", "--force", r.bare, "main")
	return gitCmd(r.t, r.work, "rev-parse", "HEAD")
}

// gitCmd runs git for a test with a config of its own and returns its
// trimmed stdout.
func gitCmd(t testing.TB, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"GIT_CONFIG_GLOBAL="+os.DevNull, "GIT_CONFIG_NOSYSTEM=1",
		"GIT_AUTHOR_NAME=Test", "GIT_AUTHOR_EMAIL=test@example.com",
		"GIT_COMMITTER_NAME=Test", "GIT_COMMITTER_EMAIL=test@example.com",
	)
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, ee.Stderr)
		}
		t.Fatalf("git %s: %v", strings.Join(args, " "), err)
	}
	return strings.TrimSpace(string(out))
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

// waitFor polls cond until it holds, failing the test after 30s.
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

// routeTable is a plugins.RouteTable and Drainer that records what it is
// told, and a tiny reverse proxy that forwards each request to the backend
// last set for its route, counting requests in flight per backend so Drain
// means what the real proxy's does.
type routeTable struct {
	mu       sync.Mutex
	routes   map[plugins.RouteKey][]plugins.Backend
	inFlight map[string]int
	drains   int
}

func newRouteTable() *routeTable {
	return &routeTable{routes: map[plugins.RouteKey][]plugins.Backend{}, inFlight: map[string]int{}}
}

func (rt *routeTable) SetRoute(_ context.Context, key plugins.RouteKey, backends ...plugins.Backend) error {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	rt.routes[key] = append([]plugins.Backend(nil), backends...)
	return nil
}

func (rt *routeTable) RemoveRoute(_ context.Context, key plugins.RouteKey) error {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	delete(rt.routes, key)
	return nil
}

// Drain waits until no request to any of backends is in flight.
func (rt *routeTable) Drain(ctx context.Context, timeout time.Duration, backends ...plugins.Backend) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	rt.mu.Lock()
	rt.drains++
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

// fetch GETs url once and returns the status and body.
func fetch(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return resp.StatusCode, string(b)
}
