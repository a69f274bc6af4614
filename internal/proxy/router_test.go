package proxy

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/tinyforge/tinyforge/plugins"
)

func TestRouting(t *testing.T) {
	p := newTestProxy(t)
	_, root := newBackend(t, "root")
	_, api := newBackend(t, "api")
	_, apiV2 := newBackend(t, "api-v2")
	_, other := newBackend(t, "other")
	_, web := newBackend(t, "web")
	_, pathOnly := newBackend(t, "path-only")
	setRoute(t, p.Router, key("app.test", "/"), root)
	setRoute(t, p.Router, key("app.test", "/api"), api)
	setRoute(t, p.Router, key("App.Test", "/api/v2/"), apiV2)
	setRoute(t, p.Router, key("other.test", ""), other)
	setRoute(t, p.Router, key(DefaultHost("Web", "default"), "/"), web)
	setRoute(t, p.Router, key("paths.test", "/only"), pathOnly)
	c := newClient(t, p.Addr())

	tests := []struct {
		name       string
		url        string
		wantStatus int
		wantBody   string
	}{
		{name: "root", url: "http://app.test/", wantStatus: 200, wantBody: "root"},
		{name: "unmatched path falls to root", url: "http://app.test/x/y", wantStatus: 200, wantBody: "root"},
		{name: "prefix itself", url: "http://app.test/api", wantStatus: 200, wantBody: "api"},
		{name: "under prefix", url: "http://app.test/api/v1/users", wantStatus: 200, wantBody: "api"},
		{name: "longest prefix wins", url: "http://app.test/api/v2/users", wantStatus: 200, wantBody: "api-v2"},
		{name: "prefix matches whole segments", url: "http://app.test/apiary", wantStatus: 200, wantBody: "root"},
		{name: "prefix with slash needs the slash", url: "http://app.test/api/v2", wantStatus: 200, wantBody: "api"},
		{name: "host case and port ignored", url: "http://APP.Test:8080/api", wantStatus: 200, wantBody: "api"},
		{name: "trailing dot ignored", url: "http://app.test./", wantStatus: 200, wantBody: "root"},
		{name: "empty prefix means root", url: "http://other.test/anything", wantStatus: 200, wantBody: "other"},
		{name: "default host", url: "http://web.default.localhost/", wantStatus: 200, wantBody: "web"},
		{name: "unknown host", url: "http://nowhere.test/",
			wantStatus: 404, wantBody: `tinyforge proxy: no route for host "nowhere.test"`},
		{name: "known host, no route for path", url: "http://paths.test/else",
			wantStatus: 404, wantBody: `tinyforge proxy: no route for path "/else" on host "paths.test"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := mustGet(t, c, tt.url)
			if status != tt.wantStatus || body != tt.wantBody {
				t.Errorf("GET %s = %d %q, want %d %q", tt.url, status, body, tt.wantStatus, tt.wantBody)
			}
		})
	}
}

func TestRequestReachesBackendAsSent(t *testing.T) {
	p := newTestProxy(t)
	_, b := newBackend(t, "app")
	setRoute(t, p.Router, key("app.test", "/api"), b)
	resp, err := newClient(t, p.Addr()).Get("http://App.test:8080/api/x")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	// The prefix is passed on unchanged; the public host and the scheme
	// reach the app.
	for _, want := range []string{"host=App.test:8080", "path=/api/x", "proto=http", "fwdhost=App.test:8080"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("backend saw\n%s\nwant %s", body, want)
		}
	}
}

func TestHostlessRouteServesUnclaimedHosts(t *testing.T) {
	p := newTestProxy(t)
	_, any := newBackend(t, "any")
	_, named := newBackend(t, "named")
	setRoute(t, p.Router, key("", "/"), any)
	setRoute(t, p.Router, key("named.test", "/api"), named)
	c := newClient(t, p.Addr())

	tests := []struct {
		name, url  string
		wantStatus int
		wantBody   string
	}{
		{name: "unclaimed host", url: "http://whatever.test/x", wantStatus: 200, wantBody: "any"},
		{name: "claimed host", url: "http://named.test/api", wantStatus: 200, wantBody: "named"},
		{name: "claimed host keeps its own paths", url: "http://named.test/x", wantStatus: 404,
			wantBody: `tinyforge proxy: no route for path "/x" on host "named.test"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := mustGet(t, c, tt.url)
			if status != tt.wantStatus || body != tt.wantBody {
				t.Errorf("GET %s = %d %q, want %d %q", tt.url, status, body, tt.wantStatus, tt.wantBody)
			}
		})
	}
}

func TestRouteWithoutBackendsAnswers503(t *testing.T) {
	p := newTestProxy(t)
	setRoute(t, p.Router, key("app.test", "/"))
	status, body := mustGet(t, newClient(t, p.Addr()), "http://app.test/")
	if want := "tinyforge proxy: no healthy backend for app.test/"; status != 503 || body != want {
		t.Errorf("got %d %q, want 503 %q", status, body, want)
	}
	// The client may read the answer before the handler has counted it.
	eventually(t, "the 503 is counted", func() bool {
		st, ok := p.Route(key("app.test", "/"))
		return ok && st.Unavailable == 1 && st.Responses[5] == 1
	})
}

func TestRemoveRoute(t *testing.T) {
	p := newTestProxy(t)
	_, b := newBackend(t, "app")
	k := key("app.test", "/")
	setRoute(t, p.Router, k, b)
	c := newClient(t, p.Addr())
	if status, _ := mustGet(t, c, "http://app.test/"); status != 200 {
		t.Fatalf("before removal: %d", status)
	}
	for range 2 { // removing twice succeeds
		if err := p.RemoveRoute(context.Background(), k); err != nil {
			t.Fatalf("RemoveRoute: %v", err)
		}
	}
	if status, _ := mustGet(t, c, "http://app.test/"); status != 404 {
		t.Errorf("after removal: %d, want 404", status)
	}
	if err := p.Drain(context.Background(), 0, b); err != nil {
		t.Errorf("Drain after removal: %v", err)
	}
}

func TestSetRouteAgainIsNoop(t *testing.T) {
	p := newTestProxy(t)
	_, a := newBackend(t, "a")
	_, b := newBackend(t, "b")
	k := key("app.test", "/")
	setRoute(t, p.Router, k, a, b)
	c := newClient(t, p.Addr())
	for range 4 {
		mustGet(t, c, "http://app.test/")
	}
	eventually(t, "the requests are counted", func() bool {
		st, _ := p.Route(k)
		return st.Responses[2] == 4
	})
	setRoute(t, p.Router, k, b, a, a) // same set, other order, a duplicate
	st, _ := p.Route(k)
	var served uint64
	for _, bs := range st.Backends {
		if bs.State != TargetHealthy {
			t.Errorf("backend %s is %s after re-publishing", bs.Backend.Address, bs.State)
		}
		served += bs.Requests
	}
	// Counters survive: the targets were kept, not rebuilt.
	if served != 4 || st.Requests != 4 || st.Responses[2] != 4 {
		t.Errorf("stats after re-publishing = %+v, want 4 requests kept", st)
	}
	if len(p.Stats().Draining) != 0 {
		t.Errorf("re-publishing drained backends: %+v", p.Stats().Draining)
	}
}

func TestRoundRobin(t *testing.T) {
	p := newTestProxy(t)
	_, a := newBackend(t, "a")
	_, b := newBackend(t, "b")
	setRoute(t, p.Router, key("app.test", "/"), a, b)
	c := newClient(t, p.Addr())
	seen := map[string]int{}
	for range 10 {
		_, body := mustGet(t, c, "http://app.test/")
		seen[body]++
	}
	if seen["a"] != 5 || seen["b"] != 5 {
		t.Errorf("requests per backend = %v, want 5 each", seen)
	}
}

func TestInvalidRoutes(t *testing.T) {
	r := NewRouter(Options{}, testLogger(t))
	defer r.Close()
	good := plugins.Backend{Address: "127.0.0.1:1"}
	tests := []struct {
		name     string
		key      plugins.RouteKey
		backends []plugins.Backend
	}{
		{name: "relative prefix", key: key("a.test", "api"), backends: []plugins.Backend{good}},
		{name: "prefix with query", key: key("a.test", "/a?b"), backends: []plugins.Backend{good}},
		{name: "host with port", key: key("a.test:80", "/"), backends: []plugins.Backend{good}},
		{name: "host with slash", key: key("a.test/x", "/"), backends: []plugins.Backend{good}},
		{name: "host with space", key: key("a test", "/"), backends: []plugins.Backend{good}},
		{name: "host too long", key: key(strings.Repeat("a", 254), "/"), backends: []plugins.Backend{good}},
		{name: "address without port", key: key("a.test", "/"), backends: []plugins.Backend{{Address: "10.0.0.1"}}},
		{name: "address without host", key: key("a.test", "/"), backends: []plugins.Backend{{Address: ":80"}}},
		{name: "same address, two revisions", key: key("a.test", "/"), backends: []plugins.Backend{
			{Address: "127.0.0.1:1", Revision: "x"}, {Address: "127.0.0.1:1", Revision: "y"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := r.SetRoute(context.Background(), tt.key, tt.backends...)
			if !errors.Is(err, ErrInvalidRoute) {
				t.Errorf("SetRoute = %v, want ErrInvalidRoute", err)
			}
		})
	}
	if err := r.SetRoute(context.Background(), key("[::1]", "/"), good); err != nil {
		t.Errorf("an IPv6 host literal is a valid host: %v", err)
	}
}

func TestNormalizeHost(t *testing.T) {
	tests := []struct{ in, want string }{
		{"app.test", "app.test"},
		{"APP.Test", "app.test"},
		{"app.test:8080", "app.test"},
		{"app.test.", "app.test"},
		{"App.Test.:443", "app.test"},
		{"[::1]:8080", "::1"},
		{"[::1]", "::1"},
		{"::1", "::1"},
		{"", ""},
		{":80", ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := normalizeHost(tt.in); got != tt.want {
				t.Errorf("normalizeHost(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestDefaultHost(t *testing.T) {
	if got, want := DefaultHost("Web", "prod"), "web.prod.localhost"; got != want {
		t.Errorf("DefaultHost = %q, want %q", got, want)
	}
}

func TestStatsCountRequests(t *testing.T) {
	p := newTestProxy(t)
	_, b := newBackend(t, "app", withHandler("/missing", http.NotFound))
	k := key("app.test", "/")
	setRoute(t, p.Router, k, b)
	c := newClient(t, p.Addr())
	mustGet(t, c, "http://app.test/")
	mustGet(t, c, "http://app.test/")
	mustGet(t, c, "http://app.test/missing")
	mustGet(t, c, "http://unknown.test/")
	eventually(t, "the answers are counted", func() bool {
		s := p.Stats()
		return len(s.Routes) == 1 && s.Routes[0].Responses[2]+s.Routes[0].Responses[4] == 3 &&
			s.Routes[0].Backends[0].InFlight == 0
	})
	s := p.Stats()
	if len(s.Routes) != 1 {
		t.Fatalf("routes = %+v", s.Routes)
	}
	got := s.Routes[0]
	if got.Key != k || got.Requests != 3 || got.Responses[2] != 2 || got.Responses[4] != 1 {
		t.Errorf("route stats = %+v, want 3 requests: 2 2xx, 1 4xx", got)
	}
	if len(got.Backends) != 1 || got.Backends[0].Requests != 3 || got.Backends[0].InFlight != 0 {
		t.Errorf("backend stats = %+v", got.Backends)
	}
	if s.Unrouted != 1 {
		t.Errorf("unrouted = %d, want 1", s.Unrouted)
	}
}
