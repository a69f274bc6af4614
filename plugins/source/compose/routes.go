package compose

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

// setRoutes points every route of s at container in. Without a route table
// (a controller run without a proxy) the routes are skipped, and logged.
func setRoutes(ctx context.Context, deps plugins.Deps, st *stack, s *service, in instance) error {
	if !s.routed() {
		return nil
	}
	if deps.Routes == nil {
		deps.Log.Info("No route table: routes are not published", "service", s.name, "routes", len(s.routes))
		return nil
	}
	for _, r := range s.routes {
		addr, ok := in.upstream(r.Port, deps.PublishedUpstreams)
		if !ok {
			return fmt.Errorf("container %s has no address on a network the host reaches and publishes no host port for port %d of route %s", in.Name, r.Port, r.Key())
		}
		if err := deps.Routes.SetRoute(ctx, r.Key(), plugins.Backend{Address: addr, Revision: st.revision}); err != nil {
			return fmt.Errorf("setting route %s to %s: %w", r.Key(), addr, err)
		}
		deps.Log.V(1).Info("Set route", "route", r.Key().String(), "service", s.name, "backend", addr)
	}
	return nil
}

// clearRoutes keeps every route of s claimed with no backend, so the proxy
// answers 503 while the service is recreated in place.
func clearRoutes(ctx context.Context, deps plugins.Deps, s *service) error {
	if deps.Routes == nil {
		return nil
	}
	for _, r := range s.routes {
		if err := deps.Routes.SetRoute(ctx, r.Key()); err != nil {
			return fmt.Errorf("clearing route %s: %w", r.Key(), err)
		}
	}
	return nil
}

// drain waits, at most the workload's drainTimeout, until the routes of s
// no longer use the old containers, after a service's blue-green switch. A
// Drain error is logged, and the old container is stopped anyway.
func drain(ctx context.Context, deps plugins.Deps, st *stack, s *service, old []instance) {
	timeout := st.w.Strategy.DrainTimeout
	if !s.routed() || deps.Routes == nil || timeout <= 0 {
		return
	}
	seen := map[plugins.Backend]bool{}
	var backends []plugins.Backend
	for _, r := range s.routes {
		for _, o := range old {
			// The address setRoutes gave the proxy, to find its backends.
			if addr, ok := o.upstream(r.Port, deps.PublishedUpstreams); ok && o.running() {
				b := plugins.Backend{Address: addr, Revision: o.Revision}
				if !seen[b] {
					seen[b] = true
					backends = append(backends, b)
				}
			}
		}
	}
	if len(backends) == 0 {
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
	if err := d.Drain(ctx, timeout, backends...); err != nil {
		deps.Log.Info("Draining ended early; stopping the old container anyway", "service", s.name, "error", err.Error())
	}
	deps.Log.V(1).Info("Drained old backends", "service", s.name, "backends", len(backends), "after", time.Since(start).Round(time.Millisecond))
}
