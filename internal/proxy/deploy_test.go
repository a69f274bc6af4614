package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tinyforge/tinyforge/plugins"
)

func TestSwitchIsAtomic(t *testing.T) {
	p := newTestProxy(t)
	_, blue := newBackend(t, "blue")
	_, green := newBackend(t, "green")
	k := key("app.test", "/")
	setRoute(t, p.Router, k, blue)
	c := newClient(t, p.Addr())
	if _, body := mustGet(t, c, "http://app.test/"); body != "blue" {
		t.Fatalf("before the switch: %q", body)
	}
	setRoute(t, p.Router, k, green)
	for i := range 50 {
		if status, body := mustGet(t, c, "http://app.test/"); status != 200 || body != "green" {
			t.Fatalf("request %d after the switch: %d %q, want green", i, status, body)
		}
	}
	st, _ := p.Route(k)
	if len(st.Backends) != 1 || st.Backends[0].Backend != green {
		t.Errorf("route backends = %+v, want green only", st.Backends)
	}
}

// TestNoFailedRequestsDuringSwitches is the blue-green promise: clients
// hammer a route while it is switched again and again to a new backend, the
// old one drained and then shut down as a source stops its container, and
// not one request fails.
func TestNoFailedRequestsDuringSwitches(t *testing.T) {
	const (
		clients  = 8
		duration = 2 * time.Second
	)
	p := newTestProxy(t)
	k := key("app.test", "/")
	slow := withHandler("/slow", func(w http.ResponseWriter, _ *http.Request) {
		time.Sleep(time.Millisecond) // some work, so requests overlap the switches
		_, _ = io.WriteString(w, "slow")
	})
	oldSrv, old := newBackend(t, "rev-0", slow)
	setRoute(t, p.Router, k, old)

	ctx, stop := context.WithTimeout(context.Background(), duration)
	defer stop()
	var ok, failed atomic.Int64
	var firstFailure atomic.Value
	var wg sync.WaitGroup
	for i := range clients {
		c := newClient(t, p.Addr())
		wg.Go(func() {
			for n := 0; ctx.Err() == nil; n++ {
				url := "http://app.test/"
				if (i+n)%2 == 0 {
					url = "http://app.test/slow"
				}
				status, body, err := get(c, url)
				if err == nil && status == http.StatusOK && (body == "slow" || strings.HasPrefix(body, "rev-")) {
					ok.Add(1)
					continue
				}
				failed.Add(1)
				firstFailure.CompareAndSwap(nil, fmt.Sprintf("GET %s: %d %q %v", url, status, body, err))
			}
		})
	}

	switches := 0
	for ctx.Err() == nil {
		switches++
		nextSrv, next := newBackend(t, fmt.Sprintf("rev-%d", switches), slow)
		if err := p.SetRoute(context.Background(), k, next); err != nil {
			t.Fatalf("switch %d: %v", switches, err)
		}
		if err := p.Drain(context.Background(), 10*time.Second, old); err != nil {
			t.Fatalf("drain after switch %d: %v", switches, err)
		}
		oldSrv.Close() // what stopping the old container does
		oldSrv, old = nextSrv, next
	}
	wg.Wait()

	t.Logf("%d requests, %d failed, %d switches", ok.Load()+failed.Load(), failed.Load(), switches)
	if failed.Load() != 0 {
		t.Errorf("%d requests failed during switches; first: %v", failed.Load(), firstFailure.Load())
	}
	if ok.Load() < 50 || switches < 3 {
		t.Errorf("test too weak: %d requests, %d switches", ok.Load(), switches)
	}
}

// blockingHandler holds requests until released, so a test controls when a
// request in flight ends.
type blockingHandler struct {
	started  chan struct{}
	release  chan struct{}
	finished atomic.Bool
	once     sync.Once
}

func newBlockingHandler() *blockingHandler {
	return &blockingHandler{started: make(chan struct{}), release: make(chan struct{})}
}

func (h *blockingHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.once.Do(func() { close(h.started) })
	select {
	case <-h.release:
		h.finished.Store(true)
		_, _ = io.WriteString(w, "slow done")
	case <-r.Context().Done():
	}
}

type result struct {
	status int
	body   string
	err    error
}

func getAsync(c *http.Client, url string) <-chan result {
	ch := make(chan result, 1)
	go func() {
		status, body, err := get(c, url)
		ch <- result{status, body, err}
	}()
	return ch
}

func TestDrainWaitsForRequestsInFlight(t *testing.T) {
	p := newTestProxy(t)
	k := key("app.test", "/")
	slow := newBlockingHandler()
	_, blue := newBackend(t, "blue", withHandler("/slow", slow.ServeHTTP))
	_, green := newBackend(t, "green")
	setRoute(t, p.Router, k, blue)
	c := newClient(t, p.Addr())

	inFlight := getAsync(c, "http://app.test/slow")
	receive(t, "the slow request to reach blue", slow.started)
	setRoute(t, p.Router, k, green)
	if _, body := mustGet(t, c, "http://app.test/"); body != "green" {
		t.Fatalf("new request after the switch went to %q", body)
	}
	if d := p.Stats().Draining; len(d) != 1 || d[0].Backend != blue || d[0].InFlight != 1 {
		t.Fatalf("draining = %+v, want blue with one request in flight", d)
	}
	if err := p.Drain(context.Background(), 0, green); !errors.Is(err, ErrBackendInUse) {
		t.Errorf("Drain of the serving backend = %v, want ErrBackendInUse", err)
	}

	drained := make(chan error, 1)
	go func() { drained <- p.Drain(context.Background(), testTimeout, blue) }()
	close(slow.release)
	if err := receive(t, "Drain", drained); err != nil {
		t.Fatalf("Drain: %v", err)
	}
	// Drain returned only once the request it waited for was over.
	if !slow.finished.Load() {
		t.Error("Drain returned before the request in flight finished")
	}
	if res := receive(t, "the slow request", inFlight); res.err != nil || res.status != 200 || res.body != "slow done" {
		t.Errorf("request in flight during the switch: %+v", res)
	}
	if d := p.Stats().Draining; len(d) != 0 {
		t.Errorf("still draining after Drain: %+v", d)
	}
}

func TestDrainDeadlineAbortsRequests(t *testing.T) {
	p := newTestProxy(t)
	k := key("app.test", "/")
	stuck := newBlockingHandler() // never released
	_, blue := newBackend(t, "blue", withHandler("/stuck", stuck.ServeHTTP))
	_, green := newBackend(t, "green")
	setRoute(t, p.Router, k, blue)
	c := newClient(t, p.Addr())
	inFlight := getAsync(c, "http://app.test/stuck")
	receive(t, "the request to reach blue", stuck.started)
	setRoute(t, p.Router, k, green)

	const timeout = 200 * time.Millisecond
	start := time.Now()
	err := p.Drain(context.Background(), timeout, blue)
	elapsed := time.Since(start)
	if !errors.Is(err, ErrDrainTimeout) {
		t.Fatalf("Drain = %v, want ErrDrainTimeout", err)
	}
	if elapsed < timeout || elapsed > timeout+abortGrace+time.Second {
		t.Errorf("Drain took %s with a %s timeout", elapsed, timeout)
	}
	// The proxy let go of the stuck request, so the old backend may stop:
	// it ends at once, long before the client's own timeout.
	select {
	case res := <-inFlight:
		if res.err == nil && res.status != http.StatusBadGateway {
			t.Errorf("stuck request = %+v, want 502 or a broken response", res)
		}
	case <-time.After(abortGrace + 2*time.Second):
		t.Fatalf("the stuck request still runs %s after the drain deadline", abortGrace+2*time.Second)
	}
	eventually(t, "nothing drains", func() bool { return len(p.Stats().Draining) == 0 })
}

func TestDrainHonoursContext(t *testing.T) {
	p := newTestProxy(t)
	k := key("app.test", "/")
	stuck := newBlockingHandler()
	_, blue := newBackend(t, "blue", withHandler("/stuck", stuck.ServeHTTP))
	_, green := newBackend(t, "green")
	setRoute(t, p.Router, k, blue)
	inFlight := getAsync(newClient(t, p.Addr()), "http://app.test/stuck")
	receive(t, "the request to reach blue", stuck.started)
	setRoute(t, p.Router, k, green)

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := p.Drain(ctx, testTimeout, blue); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Drain = %v, want the context's error", err)
	}
	// A caller giving up waiting does not cut the request.
	close(stuck.release)
	if res := receive(t, "the request", inFlight); res.err != nil || res.body != "slow done" {
		t.Errorf("request = %+v, want it to complete", res)
	}
}

func TestNoRequestToBackendBeforeHealthy(t *testing.T) {
	p := newTestProxy(t)
	k := key("app.test", "/")
	_, blue := newBackend(t, "blue")
	var ready atomic.Bool
	var probes, early atomic.Int32
	_, green := newBackend(t, "green", withHealth(&ready, &probes), withHandler("/", func(w http.ResponseWriter, _ *http.Request) {
		if !ready.Load() {
			early.Add(1)
		}
		_, _ = io.WriteString(w, "green")
	}))
	setRoute(t, p.Router, k, blue)

	// Clients keep asking while green starts up.
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var bodies sync.Map
	for range 4 {
		c := newClient(t, p.Addr())
		wg.Go(func() {
			for ctx.Err() == nil {
				if _, body, err := get(c, "http://app.test/"); err == nil {
					bodies.Store(body, true)
				}
			}
		})
	}
	defer func() {
		stop()
		wg.Wait()
	}()

	deployed := make(chan error, 1)
	go func() {
		deployed <- p.Deploy(context.Background(), k, DeployOptions{
			HealthCheck: &HealthCheck{Path: "/healthz", Interval: 5 * time.Millisecond},
		}, green)
	}()
	eventually(t, "green has failed a few probes", func() bool { return probes.Load() >= 5 })
	select {
	case err := <-deployed:
		t.Fatalf("Deploy returned before green was healthy: %v", err)
	default:
	}
	if _, seen := bodies.Load("green"); seen {
		t.Fatal("a request reached green before it was healthy")
	}
	ready.Store(true)
	if err := receive(t, "Deploy", deployed); err != nil {
		t.Fatalf("Deploy: %v", err)
	}
	eventually(t, "clients reach green", func() bool { _, ok := bodies.Load("green"); return ok })
	if n := early.Load(); n != 0 {
		t.Errorf("%d requests reached green before its health check passed", n)
	}
}

func TestDeployOfUnhealthyBackendKeepsOldOne(t *testing.T) {
	p := newTestProxy(t)
	k := key("app.test", "/")
	_, blue := newBackend(t, "blue")
	var never atomic.Bool
	var probes atomic.Int32
	_, green := newBackend(t, "green", withHealth(&never, &probes))
	setRoute(t, p.Router, k, blue)

	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	err := p.Deploy(ctx, k, DeployOptions{HealthCheck: &HealthCheck{Path: "/healthz", Interval: 10 * time.Millisecond}}, green)
	if !errors.Is(err, ErrUnhealthy) || !strings.Contains(err.Error(), "503") {
		t.Fatalf("Deploy = %v, want ErrUnhealthy naming the probe's 503", err)
	}
	if _, body := mustGet(t, newClient(t, p.Addr()), "http://app.test/"); body != "blue" {
		t.Errorf("after a failed deploy the route serves %q, want blue", body)
	}
	if err := p.Drain(context.Background(), time.Second, green); err != nil {
		t.Errorf("Drain of the abandoned backend: %v", err)
	}
}

func TestUnhealthyBackendGetsNoRequests(t *testing.T) {
	p := newTestProxy(t)
	k := key("app.test", "/")
	var healthy atomic.Bool
	var probes atomic.Int32
	healthy.Store(true)
	_, b := newBackend(t, "app", withHealth(&healthy, &probes))
	err := p.Deploy(context.Background(), k, DeployOptions{
		HealthCheck: &HealthCheck{Path: "/healthz", Interval: 5 * time.Millisecond, FailureThreshold: 2},
	}, b)
	if err != nil {
		t.Fatalf("Deploy: %v", err)
	}
	c := newClient(t, p.Addr())
	if status, _ := mustGet(t, c, "http://app.test/"); status != 200 {
		t.Fatalf("healthy backend: %d", status)
	}
	healthy.Store(false)
	eventually(t, "the route answers 503", func() bool {
		status, body, err := get(c, "http://app.test/")
		return err == nil && status == 503 && body == "tinyforge proxy: no healthy backend for app.test/"
	})
	healthy.Store(true)
	eventually(t, "the route recovers", func() bool {
		status, _, err := get(c, "http://app.test/")
		return err == nil && status == 200
	})
}

func TestDeploysOfOneRouteAreSerialized(t *testing.T) {
	p := newTestProxy(t)
	k := key("app.test", "/")
	var ready atomic.Bool
	var probes atomic.Int32
	_, slow := newBackend(t, "slow", withHealth(&ready, &probes))
	_, fast := newBackend(t, "fast")
	first := make(chan error, 1)
	go func() {
		first <- p.Deploy(context.Background(), k, DeployOptions{
			HealthCheck: &HealthCheck{Path: "/healthz", Interval: 5 * time.Millisecond}}, slow)
	}()
	eventually(t, "the first deploy probes", func() bool { return probes.Load() > 0 })
	// A second change of the route waits for the first, and can give up.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := p.SetRoute(ctx, k, fast); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("concurrent SetRoute = %v, want it to wait and time out", err)
	}
	// Another route is not held up.
	setRoute(t, p.Router, key("other.test", "/"), fast)
	ready.Store(true)
	if err := receive(t, "the first deploy", first); err != nil {
		t.Fatal(err)
	}
	setRoute(t, p.Router, k, fast)
	if _, body := mustGet(t, newClient(t, p.Addr()), "http://app.test/"); body != "fast" {
		t.Errorf("route serves %q, want fast", body)
	}
}

func TestRouteTableContract(t *testing.T) {
	var rt plugins.RouteTable = newTestProxy(t)
	_, b := newBackend(t, "app")
	if err := rt.SetRoute(context.Background(), key("app.test", "/"), b); err != nil {
		t.Fatal(err)
	}
	if err := rt.RemoveRoute(context.Background(), key("app.test", "/")); err != nil {
		t.Fatal(err)
	}
}
