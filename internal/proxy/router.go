package proxy

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"

	"github.com/go-logr/logr"

	"github.com/tinyforge/tinyforge/plugins"
)

// ErrRouterClosed is returned by calls on a Router after Close.
var ErrRouterClosed = errors.New("proxy router is closed")

// Router is the proxy's routing table and its http.Handler. Sources change it
// through SetRoute, Deploy, RemoveRoute and Drain; requests read it without
// locks.
type Router struct {
	opts Options
	log  logr.Logger

	// ctx is the parent of the health probes; Close cancels it.
	ctx    context.Context
	cancel context.CancelFunc

	// mu guards the maps below and the table swap. Lock order: mu, then a
	// target's mu.
	mu     sync.Mutex
	closed bool
	routes map[plugins.RouteKey]*route
	// targets are all targets not known to be drained, for Drain to find
	// an old backend after it left its route.
	targets map[*target]struct{}
	locks   map[plugins.RouteKey]*keyLock

	table    atomic.Pointer[table]
	unrouted atomic.Uint64
}

var _ plugins.RouteTable = (*Router)(nil)

// NewRouter returns an empty Router. It uses the routing options (drain,
// health and dial timeouts) of opts, completed with their defaults.
func NewRouter(opts Options, log logr.Logger) *Router {
	opts.Complete()
	r := &Router{
		opts:    opts,
		log:     log,
		routes:  make(map[plugins.RouteKey]*route),
		targets: make(map[*target]struct{}),
		locks:   make(map[plugins.RouteKey]*keyLock),
	}
	r.ctx, r.cancel = context.WithCancel(context.Background())
	r.table.Store(emptyTable)
	return r
}

// ServeHTTP routes a request to a healthy backend of the route for its host
// and path.
func (r *Router) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	host := normalizeHost(req.Host)
	rt, hostKnown := r.table.Load().lookup(host, req.URL.Path)
	if rt == nil {
		r.unrouted.Add(1)
		msg := fmt.Sprintf("tinyforge proxy: no route for host %q", host)
		if hostKnown {
			msg = fmt.Sprintf("tinyforge proxy: no route for path %q on host %q", req.URL.Path, host)
		}
		r.log.V(1).Info("No route", "host", host, "path", req.URL.Path)
		http.Error(w, msg, http.StatusNotFound)
		return
	}
	rt.serve(w, req, r.log)
}

// Close stops the health checks. Routes keep serving what they served, but
// cannot be changed any more.
func (r *Router) Close() {
	r.mu.Lock()
	r.closed = true
	r.mu.Unlock()
	r.cancel()
}

// publishLocked swaps in a table of the current routes.
func (r *Router) publishLocked() {
	r.table.Store(newTable(r.routes))
}

// sweepLocked forgets drained targets, which Drain no longer needs.
func (r *Router) sweepLocked() {
	for t := range r.targets {
		if t.currentState() == TargetDrained {
			delete(r.targets, t)
		}
	}
}

// keyLock serializes the changes of one route, so that a deploy waiting for
// health checks holds up no other route. It is a channel so a waiter can
// give up with its context.
type keyLock struct {
	ch   chan struct{}
	refs int
}

func (r *Router) lockKey(ctx context.Context, key plugins.RouteKey) (unlock func(), err error) {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil, ErrRouterClosed
	}
	l := r.locks[key]
	if l == nil {
		l = &keyLock{ch: make(chan struct{}, 1)}
		r.locks[key] = l
	}
	l.refs++
	r.mu.Unlock()

	release := func() {
		r.mu.Lock()
		if l.refs--; l.refs == 0 {
			delete(r.locks, key)
		}
		r.mu.Unlock()
	}
	select {
	case l.ch <- struct{}{}:
		return func() {
			<-l.ch
			release()
		}, nil
	case <-ctx.Done():
		release()
		return nil, fmt.Errorf("waiting for another change of route %s: %w", key, ctx.Err())
	}
}
