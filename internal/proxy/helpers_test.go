package proxy

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"

	"github.com/tinyforge/tinyforge/plugins"
)

// testTimeout bounds every wait in these tests; nothing should come close.
const testTimeout = 20 * time.Second

// testLogger keeps the proxy's log and prints it only when the test failed,
// and never calls t.Log from a goroutine that may outlive the test.
func testLogger(t testing.TB) logr.Logger {
	var mu sync.Mutex
	var buf strings.Builder
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		if t.Failed() {
			t.Log("proxy log:\n" + buf.String())
		}
	})
	return funcr.New(func(prefix, args string) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintln(&buf, prefix, args)
	}, funcr.Options{})
}

// proxyOption changes the Options of a test proxy.
type proxyOption func(*Options)

func withHTTPS() proxyOption {
	return func(o *Options) { o.HTTPSAddr = "127.0.0.1:0" }
}

func withDrainTimeout(d time.Duration) proxyOption {
	return func(o *Options) { o.DrainTimeout = d }
}

// newTestProxy runs a proxy on loopback until the test ends.
func newTestProxy(t testing.TB, opts ...proxyOption) *Server {
	t.Helper()
	o := Options{HTTPAddr: "127.0.0.1:0", ShutdownTimeout: 5 * time.Second}
	for _, f := range opts {
		f(&o)
	}
	s, err := New(o, testLogger(t))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(testTimeout):
			t.Errorf("Run did not return %s after its context was cancelled", testTimeout)
		}
	})
	return s
}

// backendConfig is what a test backend serves besides its name.
type backendConfig struct {
	handlers map[string]http.HandlerFunc
}

type backendOption func(*backendConfig)

// withHandler serves path (and nothing below it) with h.
func withHandler(path string, h http.HandlerFunc) backendOption {
	return func(c *backendConfig) { c.handlers[path] = h }
}

// withHealth serves /healthz, passing while ok is true and counting probes.
func withHealth(ok *atomic.Bool, probes *atomic.Int32) backendOption {
	return withHandler("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		probes.Add(1)
		if !ok.Load() {
			http.Error(w, "starting", http.StatusServiceUnavailable)
			return
		}
		_, _ = io.WriteString(w, "ok")
	})
}

// newBackend starts a backend that answers every other request with its
// name, the request's Host and path, and the forwarding headers, one per
// line. It is closed when the test ends, if the test did not close it.
func newBackend(t testing.TB, name string, opts ...backendOption) (*httptest.Server, plugins.Backend) {
	t.Helper()
	c := backendConfig{handlers: map[string]http.HandlerFunc{}}
	for _, f := range opts {
		f(&c)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h, ok := c.handlers[r.URL.Path]; ok {
			h(w, r)
			return
		}
		w.Header().Set("X-Backend", name)
		fmt.Fprintf(w, "%s\nhost=%s\npath=%s\nproto=%s\nfwdhost=%s\n", name, r.Host, r.URL.Path,
			r.Header.Get("X-Forwarded-Proto"), r.Header.Get("X-Forwarded-Host"))
	}))
	t.Cleanup(srv.Close)
	return srv, plugins.Backend{Address: srv.Listener.Addr().String(), Revision: name}
}

// newClient is a keep-alive client that sends every request to the proxy
// at addr whatever the URL's host, as DNS would for the proxy's hosts.
func newClient(t testing.TB, addr string) *http.Client {
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		},
		MaxIdleConnsPerHost: 64,
	}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: testTimeout}
}

// get fetches url and returns the status and the body's first line.
func get(c *http.Client, url string) (int, string, error) {
	resp, err := c.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, "", err
	}
	first, _, _ := strings.Cut(string(body), "\n")
	return resp.StatusCode, first, nil
}

func mustGet(t testing.TB, c *http.Client, url string) (int, string) {
	t.Helper()
	status, body, err := get(c, url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return status, body
}

// eventually polls cond until it holds or the test timeout passes.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(testTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// receive waits for a value from ch with the test timeout.
func receive[T any](t testing.TB, what string, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(testTimeout):
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}

func key(host, prefix string) plugins.RouteKey {
	return plugins.RouteKey{Host: host, PathPrefix: prefix}
}

func setRoute(t testing.TB, r *Router, k plugins.RouteKey, backends ...plugins.Backend) {
	t.Helper()
	if err := r.SetRoute(context.Background(), k, backends...); err != nil {
		t.Fatalf("SetRoute %s: %v", k, err)
	}
}

func plainBackend(srv *httptest.Server) plugins.Backend {
	return plugins.Backend{Address: srv.Listener.Addr().String()}
}
