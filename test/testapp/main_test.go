package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestParseConfig(t *testing.T) {
	defaults := config{port: "8080", shutdownTimeout: 8 * time.Second}
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		want    config
		wantErr string
	}{
		{name: "defaults", want: defaults},
		{
			name: "flags",
			args: []string{"-port=9000", "-version=v1", "-fail-health", "-exit-after=3s", "-slow-start=1s", "-shutdown-timeout=2s"},
			want: config{port: "9000", version: "v1", failHealth: true, exitAfter: 3 * time.Second, slowStart: time.Second, shutdownTimeout: 2 * time.Second},
		},
		{
			name: "env wins over flags",
			args: []string{"-port=9000", "-version=v1"},
			env:  map[string]string{"PORT": "9100", "VERSION": "v2", "FAIL_HEALTH": "1", "EXIT_AFTER": "500ms", "SLOW_START": "2s", "SHUTDOWN_TIMEOUT": "1s"},
			want: config{port: "9100", version: "v2", failHealth: true, exitAfter: 500 * time.Millisecond, slowStart: 2 * time.Second, shutdownTimeout: time.Second},
		},
		{
			name: "FAIL_HEALTH=0 turns the flag off",
			args: []string{"-fail-health"},
			env:  map[string]string{"FAIL_HEALTH": "0"},
			want: defaults,
		},
		{name: "healthcheck mode", args: []string{"-healthcheck"}, want: config{port: "8080", shutdownTimeout: 8 * time.Second, healthcheck: true}},
		{
			name: "static mode from the env",
			args: []string{"-static-dir=/a"},
			env:  map[string]string{"STATIC_DIR": "/www"},
			want: config{port: "8080", shutdownTimeout: 8 * time.Second, staticDir: "/www"},
		},
		{
			name: "build step modes",
			args: []string{"-build-copy=src:dist", "-build-fail=boom"},
			want: config{port: "8080", shutdownTimeout: 8 * time.Second, buildCopy: "src:dist", buildFail: "boom"},
		},
		{name: "bad port", env: map[string]string{"PORT": "http"}, wantErr: "port"},
		{name: "port out of range", args: []string{"-port=70000"}, wantErr: "port"},
		{name: "bad duration", env: map[string]string{"EXIT_AFTER": "soon"}, wantErr: "EXIT_AFTER"},
		{name: "negative duration", env: map[string]string{"SLOW_START": "-1s"}, wantErr: "SLOW_START"},
		{name: "bad bool", env: map[string]string{"FAIL_HEALTH": "maybe"}, wantErr: "FAIL_HEALTH"},
		{name: "stray argument", args: []string{"serve"}, wantErr: "unexpected"},
		{name: "unknown flag", args: []string{"-nope"}, wantErr: "nope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseConfig(tt.args, func(k string) string { return tt.env[k] }, io.Discard)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one mentioning %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestProbe(t *testing.T) {
	healthy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	defer healthy.Close()
	unhealthy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer unhealthy.Close()
	gone := httptest.NewServer(http.NotFoundHandler())
	gone.Close()

	tests := []struct {
		name string
		url  string
		want int
	}{
		{name: "200", url: healthy.URL, want: 0},
		{name: "503", url: unhealthy.URL, want: 1},
		{name: "nothing listening", url: gone.URL, want: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := probe(tt.url, time.Second); got != tt.want {
				t.Errorf("probe = %d, want %d", got, tt.want)
			}
		})
	}
}

// freePort returns a loopback port that was free a moment ago.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return fmt.Sprint(ln.Addr().(*net.TCPAddr).Port)
}

// startRun runs the whole server as main does, until the returned cancel.
func startRun(t *testing.T, cfg config) (base string, cancel func(), done <-chan int) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	ch := make(chan int, 1)
	logger := log.New(io.Discard, "", 0)
	if testing.Verbose() {
		logger = log.New(t.Output(), "", log.Lmicroseconds)
	}
	go func() { ch <- run(ctx, cfg, logger, func(code int) { t.Errorf("unexpected exit(%d)", code) }) }()
	return "http://127.0.0.1:" + cfg.port, cancel, ch
}

// waitUp polls url until it answers, so tests need no fixed sleeps.
func waitUp(t *testing.T, url string, timeout time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			return time.Since(start)
		}
		if time.Since(start) > timeout {
			t.Fatalf("%s did not answer within %v: %v", url, timeout, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestRunSlowStart(t *testing.T) {
	cfg := config{port: freePort(t), slowStart: 300 * time.Millisecond, shutdownTimeout: time.Second}
	base, cancel, done := startRun(t, cfg)
	defer cancel()
	if took := waitUp(t, base+"/healthz", 5*time.Second); took < 250*time.Millisecond {
		t.Errorf("answered after %v, want a slow start of about 300ms", took)
	}
	cancel()
	if code := <-done; code != 0 {
		t.Errorf("exit code %d, want 0", code)
	}
}

func TestRunDrainsOnShutdown(t *testing.T) {
	cfg := config{port: freePort(t), version: "v1", shutdownTimeout: 5 * time.Second}
	base, cancel, done := startRun(t, cfg)
	defer cancel()
	waitUp(t, base+"/healthz", 5*time.Second)

	// A WebSocket client must be told the server is going away.
	conn, br := dialWS(t, strings.TrimPrefix(base, "http://"))
	defer conn.Close()

	// An in-flight stream must run to its end: read its first line, so the
	// handler is known to be running, then shut down.
	resp, err := http.Get(base + "/stream?n=2&every=400ms")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	stream := bufio.NewReader(resp.Body)
	if line, err := stream.ReadString('\n'); err != nil || line != "line 1 of 2\n" {
		t.Fatalf("first line %q, %v", line, err)
	}
	start := time.Now()
	cancel()

	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	op, payload := readServerFrame(t, br)
	if op != opClose || closeCode(payload) != closeGoingAway {
		t.Errorf("got frame op %#x code %d, want a going-away close", op, closeCode(payload))
	}
	writeClientFrame(t, conn, 0x80|opClose, payload[:2], true)

	if rest, err := io.ReadAll(stream); err != nil || string(rest) != "line 2 of 2\n" {
		t.Errorf("rest of the in-flight stream: %q, %v; want it to finish", rest, err)
	}
	if code := <-done; code != 0 {
		t.Errorf("exit code %d, want 0", code)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("shutdown took %v", took)
	}
	if _, err := http.Get(base + "/healthz"); err == nil {
		t.Error("still serving after shutdown")
	}
}
