package image

import (
	"context"
	"fmt"
	"time"

	"github.com/tinyforge/tinyforge/plugins"
)

// drainGrace is how long old backends keep running after a switch when the
// route table cannot tell when they are idle (it is no plugins.Drainer); it
// is capped by the workload's drainTimeout.
const drainGrace = time.Second

// setRoutes points every route of w at the container in. Without a route
// table (a controller run without a proxy) the routes are skipped, and
// logged.
func setRoutes(ctx context.Context, deps plugins.Deps, w plugins.Workload, in instance) error {
	if len(w.Routes) == 0 {
		return nil
	}
	if deps.Routes == nil {
		deps.Log.Info("No route table: routes are not published", "routes", len(w.Routes))
		return nil
	}
	for _, r := range w.Routes {
		addr, ok := in.upstream(tcpPort(r.Port), deps.PublishedUpstreams)
		if !ok {
			return fmt.Errorf("container %s has no network address and publishes no host port for port %d of route %s", in.Name, r.Port, r.Key())
		}
		b := plugins.Backend{Address: addr, Revision: in.Revision}
		if err := deps.Routes.SetRoute(ctx, r.Key(), b); err != nil {
			return fmt.Errorf("setting route %s to %s: %w", r.Key(), addr, err)
		}
		deps.Log.V(1).Info("Set route", "route", r.Key().String(), "backend", addr)
	}
	return nil
}

// clearRoutes keeps every route of w claimed with no backend, so the proxy
// answers 503 while nothing runs (the gap of a Recreate deploy).
func clearRoutes(ctx context.Context, deps plugins.Deps, w plugins.Workload) error {
	if deps.Routes == nil {
		return nil
	}
	for _, r := range w.Routes {
		if err := deps.Routes.SetRoute(ctx, r.Key()); err != nil {
			return fmt.Errorf("clearing route %s: %w", r.Key(), err)
		}
	}
	return nil
}

// drain waits, at most the workload's drainTimeout, until the routes of w
// no longer use the old containers. A Drain error is logged, and the
// containers are stopped anyway: the drain timeout is the limit people set.
func drain(ctx context.Context, deps plugins.Deps, w plugins.Workload, old []instance) {
	timeout := w.Strategy.DrainTimeout
	if len(w.Routes) == 0 || deps.Routes == nil || timeout <= 0 {
		return
	}
	type pair struct {
		key     plugins.RouteKey
		backend plugins.Backend
	}
	var pairs []pair
	for _, r := range w.Routes {
		for _, o := range old {
			// The address setRoutes gave the proxy, to find its backends.
			if addr, ok := o.upstream(tcpPort(r.Port), deps.PublishedUpstreams); ok && o.running() {
				pairs = append(pairs, pair{r.Key(), plugins.Backend{Address: addr, Revision: o.Revision}})
			}
		}
	}
	if len(pairs) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	start := time.Now()
	d, ok := deps.Routes.(plugins.Drainer)
	if !ok {
		t := time.NewTimer(min(drainGrace, timeout))
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
		}
		return
	}
	seen := map[plugins.Backend]bool{}
	var backends []plugins.Backend
	for _, p := range pairs {
		if !seen[p.backend] {
			seen[p.backend] = true
			backends = append(backends, p.backend)
		}
	}
	if err := d.Drain(ctx, timeout, backends...); err != nil {
		deps.Log.Info("Draining ended early; stopping the old containers anyway", "backends", len(backends), "error", err.Error())
	}
	deps.Log.V(1).Info("Drained old backends", "backends", len(pairs), "after", time.Since(start).Round(time.Millisecond))
}
