package proxy

import (
	"cmp"
	"slices"

	"github.com/tinyforge/tinyforge/plugins"
)

// Stats is a point-in-time view of the proxy's routes and counters, for
// status pages, tests and a metrics exporter.
type Stats struct {
	// Routes are the published routes, sorted by host then path prefix.
	Routes []RouteStats
	// Draining are the backends switched away from whose last requests are
	// not done yet.
	Draining []BackendStats
	// Unrouted counts requests answered 404 because no route matched.
	Unrouted uint64
}

// RouteStats counts one route's requests since it was first published.
type RouteStats struct {
	Key plugins.RouteKey
	// Requests is every request the route matched.
	Requests uint64
	// Responses counts answers by status class: Responses[2] is 2xx.
	Responses [6]uint64
	// Unavailable counts the 503s given because no backend was healthy.
	Unavailable uint64
	// Backends are the route's current backends.
	Backends []BackendStats
}

// BackendStats is one backend of one route.
type BackendStats struct {
	Backend  plugins.Backend
	State    TargetState
	InFlight int
	// Requests is every request sent to the backend for this route.
	Requests uint64
	// Errors counts requests the backend did not answer (502s).
	Errors uint64
}

// Stats returns the proxy's routes and counters.
func (r *Router) Stats() Stats {
	r.mu.Lock()
	routes := make([]*route, 0, len(r.routes))
	for _, rt := range r.routes {
		routes = append(routes, rt)
	}
	targets := make([]*target, 0, len(r.targets))
	for t := range r.targets {
		targets = append(targets, t)
	}
	r.mu.Unlock()

	s := Stats{Unrouted: r.unrouted.Load()}
	for _, rt := range routes {
		s.Routes = append(s.Routes, rt.snapshot())
	}
	slices.SortFunc(s.Routes, func(a, b RouteStats) int {
		return cmp.Or(cmp.Compare(a.Key.Host, b.Key.Host), cmp.Compare(a.Key.PathPrefix, b.Key.PathPrefix))
	})
	for _, t := range targets {
		if b := t.snapshot(); b.State == TargetDraining {
			s.Draining = append(s.Draining, b)
		}
	}
	slices.SortFunc(s.Draining, func(a, b BackendStats) int {
		return cmp.Compare(a.Backend.Address, b.Backend.Address)
	})
	return s
}

// Route returns the stats of one published route.
func (r *Router) Route(key plugins.RouteKey) (RouteStats, bool) {
	key, err := normalizeKey(key)
	if err != nil {
		return RouteStats{}, false
	}
	r.mu.Lock()
	rt := r.routes[key]
	r.mu.Unlock()
	if rt == nil {
		return RouteStats{}, false
	}
	return rt.snapshot(), true
}
