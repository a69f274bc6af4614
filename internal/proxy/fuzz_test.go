package proxy

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

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

// FuzzForwardResponse feeds arbitrary bytes as a backend's response to the
// forwarder: it must answer with an error or a response, or abort the
// response with http.ErrAbortHandler, and never panic otherwise or hang.
func FuzzForwardResponse(f *testing.F) {
	for _, seed := range []string{
		"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n5\r\nhello\r\n0\r\nX-Sum: 1\r\n\r\n",
		"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n",
		"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n",
		"HTTP/1.0 200 OK\r\nConnection: X-A, close\r\nX-A: 1\r\n\r\nread to the end",
		"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\ncut",
		"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
		"HTTP/1.1 100 Continue\r\n\r\n",
		"garbage\r\n\r\n",
		"",
	} {
		f.Add(seed)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		f.Fatal(err)
	}
	defer ln.Close()
	var response atomic.Pointer[string]
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
				if _, err := http.ReadRequest(bufio.NewReader(conn)); err != nil {
					return
				}
				_, _ = io.WriteString(conn, *response.Load())
			}()
		}
	}()
	fwd := newForwarder(ln.Addr().String(), time.Second, time.Minute)
	defer fwd.closeIdle(true)

	f.Fuzz(func(t *testing.T, raw string) {
		response.Store(&raw)
		// A new connection each time: the fuzzed response ends with the
		// backend closing it.
		fwd.closeIdle(false)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		req := httptest.NewRequestWithContext(ctx, http.MethodGet, "http://app.test/", nil)
		rec := httptest.NewRecorder()
		func() {
			defer func() {
				if v := recover(); v != nil && v != http.ErrAbortHandler {
					t.Fatalf("forward panicked on %q: %v", raw, v)
				}
			}()
			if err := fwd.forward(ctx, rec, req); err == nil && rec.Code == http.StatusSwitchingProtocols {
				t.Errorf("forward passed on a 101 to %q, a request that asked for no upgrade", raw)
			}
		}()
		if ctx.Err() != nil {
			t.Fatalf("forward ran into its 5s deadline on %q", raw)
		}
	})
}
