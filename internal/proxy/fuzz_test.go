package proxy

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/tinyforge/tinyforge/plugins"
)

// fuzzKeys are the routes FuzzRouterLookup looks up against: nested
// prefixes, a prefix with a trailing slash, a host-less route and an IPv6
// host.
var fuzzKeys = []plugins.RouteKey{
	key("app.test", "/"),
	key("app.test", "/api"),
	key("app.test", "/api/v2/"),
	key("app.test", "/api/v2/x"),
	key("web.default.localhost", "/"),
	key("paths.test", "/only"),
	key("", "/"),
	key("", "/static"),
	key("::1", "/"),
}

// wantRoute is the lookup rule spelled out the slow way: among the routes of
// the host (or, if no route names the host, the host-less ones), the longest
// prefix that matches whole segments.
func wantRoute(host, path string) (plugins.RouteKey, bool) {
	if !strings.HasPrefix(path, "/") {
		path = "/"
	}
	hostNamed := false
	for _, k := range fuzzKeys {
		hostNamed = hostNamed || (k.Host != "" && k.Host == host)
	}
	var best plugins.RouteKey
	found := false
	for _, k := range fuzzKeys {
		if (hostNamed && k.Host != host) || (!hostNamed && k.Host != "") {
			continue
		}
		matches := path == k.PathPrefix || strings.HasPrefix(path, strings.TrimSuffix(k.PathPrefix, "/")+"/")
		if matches && (!found || len(k.PathPrefix) > len(best.PathPrefix)) {
			best, found = k, true
		}
	}
	return best, found
}

func FuzzRouterLookup(f *testing.F) {
	for _, seed := range []struct{ host, path string }{
		{"app.test", "/api/v2/users"},
		{"APP.TEST:8080", "/api"},
		{"app.test.", "/apiary"},
		{"[::1]:80", "/x"},
		{"::1", "/"},
		{"", ""},
		{"paths.test", "*"},
		{"web.default.localhost", "/static/x"},
		{"other.test", "/static"},
		{"\x00:\xff", "/%zz"},
		{"[", "]"},
		{"app.test", "/api/v2"},
	} {
		f.Add(seed.host, seed.path)
	}

	routes := make(map[plugins.RouteKey]*route)
	for _, k := range fuzzKeys {
		nk, err := normalizeKey(k)
		if err != nil {
			f.Fatalf("fuzz key %s: %v", k, err)
		}
		routes[nk] = newRoute(nk, emptySet)
	}
	tbl := newTable(routes)
	r := NewRouter(Options{}, testLogger(f))
	f.Cleanup(r.Close)
	r.routes = routes
	r.table.Store(tbl)

	f.Fuzz(func(t *testing.T, host, path string) {
		h := normalizeHost(host)
		if normalizeHost(h) != h && !strings.ContainsAny(h, ":[]") {
			t.Errorf("normalizeHost is not idempotent on %q: %q then %q", host, h, normalizeHost(h))
		}
		rt, _ := tbl.lookup(h, path)
		want, found := wantRoute(h, path)
		switch {
		case rt == nil && found:
			t.Errorf("lookup(%q, %q) found nothing, want %s", h, path, want)
		case rt != nil && !found:
			t.Errorf("lookup(%q, %q) = %s, want nothing", h, path, rt.key)
		case rt != nil && rt.key != want:
			t.Errorf("lookup(%q, %q) = %s, want %s", h, path, rt.key, want)
		}

		// Whole requests: routes have no backends, so anything routed is a
		// 503 and anything else a 404, and nothing panics.
		req := &http.Request{Method: http.MethodGet, Host: host, URL: &url.URL{Path: path}, Header: http.Header{}}
		rec := httptest.NewRecorder()
		r.ServeHTTP(rec, req)
		if wantStatus := map[bool]int{true: 503, false: 404}[rt != nil]; rec.Code != wantStatus {
			t.Errorf("ServeHTTP(%q, %q) = %d, want %d", host, path, rec.Code, wantStatus)
		}

		// Keys built from fuzzed input are refused cleanly or normalize to
		// what requests for them look up.
		if k, err := normalizeKey(plugins.RouteKey{Host: host, PathPrefix: path}); err == nil {
			if normalizeHost(k.Host) != k.Host {
				t.Errorf("key host %q normalizes to %q, which requests would not find", k.Host, normalizeHost(k.Host))
			}
			if !prefixMatches(k.PathPrefix, k.PathPrefix) {
				t.Errorf("prefix %q does not match itself", k.PathPrefix)
			}
		}
	})
}
