package main

import (
	"bufio"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"
)

// testServer is the app behind a real httptest server, with the exit codes
// it asked for on a channel instead of ending the test binary.
type testServer struct {
	*httptest.Server
	app   *app
	exits chan int
}

func newTestServer(t *testing.T, cfg config) *testServer {
	t.Helper()
	exits := make(chan int, 4)
	a := newApp(cfg, func(code int) { exits <- code })
	srv := httptest.NewServer(a.routes())
	t.Cleanup(srv.Close)
	return &testServer{Server: srv, app: a, exits: exits}
}

// do sends a request and returns the status and body.
func (s *testServer) do(t *testing.T, method, path string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, s.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := s.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", method, path, err)
	}
	return resp.StatusCode, string(b)
}

func TestEndpoints(t *testing.T) {
	host, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("TESTAPP_GREETING", "hello there")
	tests := []struct {
		name       string
		method     string
		path       string
		wantStatus int
		wantBody   string
	}{
		{name: "root", method: "GET", path: "/", wantStatus: 200, wantBody: "version=v7 host=" + host + "\n"},
		{name: "root is GET only", method: "POST", path: "/", wantStatus: 405},
		{name: "unknown path", method: "GET", path: "/nope", wantStatus: 404},
		{name: "healthz", method: "GET", path: "/healthz", wantStatus: 200, wantBody: "ok\n"},
		{name: "fail is POST only", method: "GET", path: "/fail", wantStatus: 405},
		{name: "exit is POST only", method: "GET", path: "/exit", wantStatus: 405},
		{name: "env set", method: "GET", path: "/env?key=TESTAPP_GREETING", wantStatus: 200, wantBody: "hello there\n"},
		{name: "env unset", method: "GET", path: "/env?key=TESTAPP_NOT_SET", wantStatus: 404, wantBody: "TESTAPP_NOT_SET is not set\n"},
		{name: "env without key", method: "GET", path: "/env", wantStatus: 400},
		{name: "slow", method: "GET", path: "/slow?d=1ms", wantStatus: 200, wantBody: "slept 1ms\n"},
		{name: "slow bad duration", method: "GET", path: "/slow?d=soon", wantStatus: 400},
		{name: "slow too long", method: "GET", path: "/slow?d=6m", wantStatus: 400},
		{name: "stream", method: "GET", path: "/stream?n=2&every=0s", wantStatus: 200, wantBody: "line 1 of 2\nline 2 of 2\n"},
		{name: "stream of nothing", method: "GET", path: "/stream?n=0", wantStatus: 200, wantBody: ""},
		{name: "stream bad n", method: "GET", path: "/stream?n=-1", wantStatus: 400},
		{name: "stream bad every", method: "GET", path: "/stream?every=2h", wantStatus: 400},
		{name: "ws without upgrade", method: "GET", path: "/ws", wantStatus: 426},
	}
	srv := newTestServer(t, config{version: "v7"})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := srv.do(t, tt.method, tt.path)
			if status != tt.wantStatus {
				t.Errorf("status = %d, want %d (body %q)", status, tt.wantStatus, body)
			}
			if tt.wantBody != "" && body != tt.wantBody {
				t.Errorf("body = %q, want %q", body, tt.wantBody)
			}
		})
	}
}

func TestHealthFailAndRecover(t *testing.T) {
	tests := []struct {
		name       string
		failHealth bool
		steps      []string // "POST /fail", "POST /recover", or "want <status>"
	}{
		{name: "healthy, fail, recover", steps: []string{"want 200", "POST /fail", "want 503", "want 503", "POST /recover", "want 200"}},
		{name: "FAIL_HEALTH from the start", failHealth: true, steps: []string{"want 503", "POST /recover", "want 200", "POST /fail", "want 503"}},
		{name: "fail twice is still failing", steps: []string{"POST /fail", "POST /fail", "want 503"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newTestServer(t, config{failHealth: tt.failHealth})
			for i, step := range tt.steps {
				if path, ok := strings.CutPrefix(step, "POST "); ok {
					if status, body := srv.do(t, "POST", path); status != 200 {
						t.Fatalf("step %d %s: status %d, body %q", i, step, status, body)
					}
					continue
				}
				want := map[string]int{"want 200": 200, "want 503": 503}[step]
				if status, body := srv.do(t, "GET", "/healthz"); status != want {
					t.Fatalf("step %d: /healthz status = %d (%q), want %d", i, status, body, want)
				}
			}
		})
	}
}

func TestExit(t *testing.T) {
	tests := []struct {
		name       string
		query      string
		wantStatus int
		wantCode   int // -1: must not exit
	}{
		{name: "default code is 1", query: "", wantStatus: 200, wantCode: 1},
		{name: "explicit code", query: "?code=3", wantStatus: 200, wantCode: 3},
		{name: "zero", query: "?code=0", wantStatus: 200, wantCode: 0},
		{name: "out of range", query: "?code=256", wantStatus: 400, wantCode: -1},
		{name: "not a number", query: "?code=x", wantStatus: 400, wantCode: -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newTestServer(t, config{})
			status, body := srv.do(t, "POST", "/exit"+tt.query)
			if status != tt.wantStatus {
				t.Fatalf("status = %d (%q), want %d", status, body, tt.wantStatus)
			}
			if tt.wantCode == -1 {
				// A refused request is answered after the handler
				// returned, so it would have exited by now.
				select {
				case code := <-srv.exits:
					t.Errorf("exit(%d) was called, want no exit", code)
				default:
				}
				return
			}
			// The handler calls exit after it flushed the answer, so the
			// client may read the answer first.
			select {
			case code := <-srv.exits:
				if code != tt.wantCode {
					t.Errorf("exit code = %d, want %d", code, tt.wantCode)
				}
			case <-time.After(10 * time.Second):
				t.Errorf("exit was not called, want code %d", tt.wantCode)
			}
		})
	}
}

func TestSlowWaits(t *testing.T) {
	srv := newTestServer(t, config{})
	start := time.Now()
	status, body := srv.do(t, "GET", "/slow?d=150ms")
	if elapsed := time.Since(start); elapsed < 150*time.Millisecond {
		t.Errorf("answered after %v, want at least 150ms", elapsed)
	}
	if status != 200 || body != "slept 150ms\n" {
		t.Errorf("got %d %q", status, body)
	}
}

func TestStreamFlushesEachLine(t *testing.T) {
	srv := newTestServer(t, config{})
	const every = 150 * time.Millisecond
	start := time.Now()
	resp, err := srv.Client().Get(srv.URL + "/stream?n=4&every=" + every.String())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	sc := bufio.NewScanner(resp.Body)
	var arrivals []time.Duration
	for sc.Scan() {
		arrivals = append(arrivals, time.Since(start))
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(arrivals) != 4 {
		t.Fatalf("got %d lines, want 4", len(arrivals))
	}
	// Buffered output would deliver every line at the end, together.
	if gap := arrivals[3] - arrivals[0]; gap < 2*every {
		t.Errorf("lines arrived at %v: want them %v apart, flushed one by one", arrivals, every)
	}
}
