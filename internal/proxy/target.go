package proxy

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"

	"github.com/tinyforge/tinyforge/plugins"
)

// ErrDrainTimeout is wrapped by Drain when the drain deadline passed while
// requests were still in flight; the proxy aborted them, so the caller may
// stop the old backend now.
var ErrDrainTimeout = errors.New("drain deadline passed with requests in flight")

// TargetState is where a backend is in its life on one route: adding until
// it is known to be healthy, then healthy (or unhealthy while its health
// check fails), then draining after a switch or removal until its last
// request is done, then drained.
type TargetState int32

// Target states, in the order a target goes through them.
const (
	TargetAdding TargetState = iota
	TargetHealthy
	TargetUnhealthy
	TargetDraining
	TargetDrained
)

func (s TargetState) String() string {
	switch s {
	case TargetAdding:
		return "adding"
	case TargetHealthy:
		return "healthy"
	case TargetUnhealthy:
		return "unhealthy"
	case TargetDraining:
		return "draining"
	case TargetDrained:
		return "drained"
	}
	return fmt.Sprintf("TargetState(%d)", int32(s))
}

// target is one backend serving one route. It counts the requests it has in
// flight, so that an old backend is stopped only after its last request.
type target struct {
	backend plugins.Backend
	// fwd forwards the common requests; proxy, on transport, the rest.
	fwd       *forwarder
	proxy     *httputil.ReverseProxy
	transport *http.Transport
	log       logr.Logger

	// mu guards the state together with the in-flight count, so that a
	// request is admitted only to a healthy target and a drain sees every
	// admitted request.
	mu       sync.Mutex
	state    TargetState
	inFlight int
	// healthy is closed the first time the target becomes healthy.
	healthy chan struct{}
	// drained is closed when the target is drained.
	drained   chan struct{}
	stopProbe context.CancelFunc
	probe     *prober

	// abortCtx is cancelled when a drain deadline passes, to end the
	// requests (and upgraded connections) still in flight, which would
	// otherwise keep an old container alive for ever.
	abortCtx context.Context
	abort    context.CancelFunc

	requests atomic.Uint64
	errors   atomic.Uint64
}

func newTarget(b plugins.Backend, opts *Options, log logr.Logger) *target {
	t := &target{
		backend: b,
		log:     log.WithValues("backend", b.Address, "revision", b.Revision),
		healthy: make(chan struct{}),
		drained: make(chan struct{}),
	}
	t.abortCtx, t.abort = context.WithCancel(context.Background())
	t.fwd = newForwarder(b.Address, opts.DialTimeout, backendIdleTimeout)
	t.transport = &http.Transport{
		DialContext: (&net.Dialer{
			Timeout:   opts.DialTimeout,
			KeepAlive: 30 * time.Second,
		}).DialContext,
		// The client chose its encodings; the proxy passes bodies through
		// untouched.
		DisableCompression: true,
		// A proxy keeps many connections to few backends; the default of 2
		// idle connections per host would redial under any real load.
		MaxIdleConns:          1024,
		MaxIdleConnsPerHost:   256,
		IdleConnTimeout:       backendIdleTimeout,
		ExpectContinueTimeout: time.Second,
	}
	u := &url.URL{Scheme: "http", Host: b.Address}
	t.proxy = &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(u)
			// Apps build absolute URLs and pick virtual hosts from Host, so
			// they must see the public host, not the container address.
			pr.Out.Host = pr.In.Host
			pr.SetXForwarded()
		},
		Transport: t.transport,
		// Streams (server-sent events, long polls, chunked downloads) must
		// reach the client as the backend writes them: ReverseProxy flushes
		// every write of a response with no Content-Length or of type
		// text/event-stream. A response of known length goes out in one
		// write at the end instead of one per flush, which saved a third of
		// the proxy's CPU per small request (syscalls).
		FlushInterval: 0,
		ErrorHandler:  t.proxyError,
		ErrorLog:      stdLogger(t.log),
		BufferPool:    copyBuffers,
	}
	return t
}

// backendIdleTimeout closes keep-alive connections to a backend idle this
// long.
const backendIdleTimeout = 90 * time.Second

// copyBuffers recycles the buffers ReverseProxy copies bodies through,
// which it would otherwise allocate (32 KiB) for every request.
var copyBuffers = &bufferPool{pool: sync.Pool{New: func() any { return new([copyBufferSize]byte) }}}

const copyBufferSize = 32 << 10

type bufferPool struct {
	pool sync.Pool
}

func (p *bufferPool) Get() []byte {
	return p.pool.Get().(*[copyBufferSize]byte)[:]
}

func (p *bufferPool) Put(b []byte) {
	if cap(b) == copyBufferSize {
		p.pool.Put((*[copyBufferSize]byte)(b[:copyBufferSize]))
	}
}

// acquire admits one request, only while the target is healthy. The caller
// must release it.
func (t *target) acquire() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.state != TargetHealthy {
		return false
	}
	t.inFlight++
	return true
}

func (t *target) release() {
	t.mu.Lock()
	t.inFlight--
	done := t.inFlight == 0 && t.state == TargetDraining && t.setDrainedLocked()
	t.mu.Unlock()
	if done {
		t.cleanUp()
	}
}

func (t *target) serve(w http.ResponseWriter, req *http.Request) {
	t.requests.Add(1)
	if forwardable(req) {
		// The forwarder ends its requests itself at the drain deadline
		// (abortInFlight), without a context per request to do it.
		if err := t.fwd.forward(req.Context(), w, req); err != nil {
			t.proxyError(w, req, err)
		}
		return
	}
	ctx, cancel := context.WithCancel(req.Context())
	stop := context.AfterFunc(t.abortCtx, cancel)
	defer func() {
		stop()
		cancel()
	}()
	t.proxy.ServeHTTP(w, req.WithContext(ctx))
}

func (t *target) proxyError(w http.ResponseWriter, req *http.Request, err error) {
	t.errors.Add(1)
	switch {
	case t.abortCtx.Err() != nil:
		t.log.Info("Request aborted at the drain deadline", "host", req.Host, "path", req.URL.Path)
	case req.Context().Err() != nil:
		// The client went away; nothing is wrong with the backend.
		t.log.V(1).Info("Client gave up", "host", req.Host, "path", req.URL.Path, "err", err)
	default:
		t.log.Error(err, "Backend request failed", "host", req.Host, "path", req.URL.Path)
	}
	http.Error(w, fmt.Sprintf("tinyforge proxy: backend %s of %s did not answer", t.backend.Address, req.Host),
		http.StatusBadGateway)
}

// markHealthy is the health observer's success: an adding target may now be
// switched to, an unhealthy one gets requests again.
func (t *target) markHealthy() {
	t.mu.Lock()
	prev := t.state
	switch prev {
	case TargetAdding:
		t.state = TargetHealthy
		close(t.healthy)
	case TargetUnhealthy:
		t.state = TargetHealthy
	}
	t.mu.Unlock()
	if prev == TargetUnhealthy {
		t.log.Info("Backend is healthy again")
	}
}

// markUnhealthy is the health observer's failure: a serving target stops
// getting requests until it recovers. An adding target simply stays adding.
func (t *target) markUnhealthy(err error) {
	t.mu.Lock()
	changed := t.state == TargetHealthy
	if changed {
		t.state = TargetUnhealthy
	}
	t.mu.Unlock()
	if changed {
		t.log.Error(err, "Backend failed its health check; it gets no requests until it passes")
	}
}

// drain stops admitting requests; the target is drained when the last one
// in flight is done.
func (t *target) drain() {
	t.mu.Lock()
	if t.state >= TargetDraining {
		t.mu.Unlock()
		return
	}
	t.state = TargetDraining
	done := t.inFlight == 0 && t.setDrainedLocked()
	t.mu.Unlock()
	t.stopProbing()
	if done {
		t.cleanUp()
	}
}

// abortInFlight ends the requests still in flight; see abortCtx.
func (t *target) abortInFlight() {
	t.abort()
	t.fwd.interruptAll()
}

func (t *target) setDrainedLocked() bool {
	if t.state == TargetDrained {
		return false
	}
	t.state = TargetDrained
	close(t.drained)
	return true
}

func (t *target) cleanUp() {
	t.stopProbing()
	t.abort()
	// Idle keep-alive connections would otherwise hold the old container's
	// sockets open until it is stopped.
	t.transport.CloseIdleConnections()
	t.fwd.closeIdle(true)
}

func (t *target) startProbing(ctx context.Context, p *prober) {
	ctx, cancel := context.WithCancel(ctx)
	t.mu.Lock()
	t.probe, t.stopProbe = p, cancel
	t.mu.Unlock()
	go p.run(ctx, t)
}

func (t *target) stopProbing() {
	t.mu.Lock()
	stop := t.stopProbe
	t.mu.Unlock()
	if stop != nil {
		stop()
	}
}

// lastProbeError says why a target never became healthy.
func (t *target) lastProbeError() error {
	t.mu.Lock()
	p := t.probe
	t.mu.Unlock()
	if p == nil {
		return nil
	}
	return p.lastError()
}

func (t *target) snapshot() BackendStats {
	t.mu.Lock()
	defer t.mu.Unlock()
	return BackendStats{
		Backend:  t.backend,
		State:    t.state,
		InFlight: t.inFlight,
		Requests: t.requests.Load(),
		Errors:   t.errors.Load(),
	}
}

// matchedBy reports whether b names this target for Drain: by address, and
// by revision too when b has one.
func (t *target) matchedBy(b plugins.Backend) bool {
	return b.Address == t.backend.Address && (b.Revision == "" || b.Revision == t.backend.Revision)
}

func (t *target) currentState() TargetState {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.state
}
