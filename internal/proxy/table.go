package proxy

import (
	"cmp"
	"slices"
	"strings"

	"github.com/tinyforge/tinyforge/plugins"
)

// table is an immutable snapshot of which routes are published, rebuilt when
// a route is added or removed and swapped in whole, so lookups on the request
// path take no lock. Switching a route's backends does not rebuild it: that
// swaps the route's own target set.
type table struct {
	// hosts holds each host's routes, longest path prefix first.
	hosts map[string][]*route
	// anyHost holds the routes without a host, which serve hosts that no
	// route names, longest path prefix first.
	anyHost []*route
}

var emptyTable = &table{}

func newTable(routes map[plugins.RouteKey]*route) *table {
	t := &table{hosts: make(map[string][]*route)}
	for key, rt := range routes {
		if key.Host == "" {
			t.anyHost = append(t.anyHost, rt)
		} else {
			t.hosts[key.Host] = append(t.hosts[key.Host], rt)
		}
	}
	for _, rs := range t.hosts {
		sortLongestFirst(rs)
	}
	sortLongestFirst(t.anyHost)
	return t
}

func sortLongestFirst(rs []*route) {
	slices.SortFunc(rs, func(a, b *route) int {
		if c := cmp.Compare(len(b.key.PathPrefix), len(a.key.PathPrefix)); c != 0 {
			return c
		}
		return strings.Compare(a.key.PathPrefix, b.key.PathPrefix)
	})
}

// lookup finds the route for a normalized host and a request path. hostKnown
// tells a host no route names from a named host whose routes do not cover
// the path, so the 404 can say which. A named host never falls back to the
// host-less routes: a host belongs to the workload that claims it.
func (t *table) lookup(host, path string) (rt *route, hostKnown bool) {
	if !strings.HasPrefix(path, "/") {
		// "*" (OPTIONS *) and empty paths have no segments to match; the
		// site's root route is the one that should answer them.
		path = "/"
	}
	rs, hostKnown := t.hosts[host]
	if !hostKnown {
		rs = t.anyHost
	}
	for _, rt := range rs {
		if prefixMatches(rt.key.PathPrefix, path) {
			return rt, hostKnown
		}
	}
	return nil, hostKnown
}
