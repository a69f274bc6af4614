package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"sync/atomic"
	"time"
)

// Bounds on what a request may ask for, so a typo cannot park a handler for
// hours.
const (
	maxSlow         = 5 * time.Minute
	maxStreamLines  = 100000
	maxStreamPeriod = time.Minute
)

// app holds the state the endpoints steer.
type app struct {
	version  string
	hostname string
	// staticDir is served at the paths the endpoints leave; empty serves
	// nothing there.
	staticDir string
	// unhealthy makes /healthz fail; /fail and /recover flip it.
	unhealthy atomic.Bool
	// exit ends the process; tests replace it.
	exit func(code int)
	ws   wsConns
}

func newApp(cfg config, exit func(int)) *app {
	host, err := os.Hostname()
	if err != nil {
		host = "unknown"
	}
	a := &app{version: cfg.version, hostname: host, staticDir: cfg.staticDir, exit: exit}
	a.unhealthy.Store(cfg.failHealth)
	return a
}

func (a *app) routes() http.Handler {
	mux := http.NewServeMux()
	if a.staticDir != "" {
		// Static mode: the site's index.html answers /, its files the
		// paths no endpoint claims.
		mux.Handle("GET /", http.FileServer(http.Dir(a.staticDir)))
	} else {
		mux.HandleFunc("GET /{$}", a.handleRoot)
	}
	mux.HandleFunc("GET /healthz", a.handleHealthz)
	mux.HandleFunc("POST /fail", a.handleFail)
	mux.HandleFunc("POST /recover", a.handleRecover)
	mux.HandleFunc("POST /exit", a.handleExit)
	mux.HandleFunc("GET /slow", a.handleSlow)
	mux.HandleFunc("GET /stream", a.handleStream)
	mux.HandleFunc("GET /ws", a.handleWS)
	mux.HandleFunc("GET /env", a.handleEnv)
	return mux
}

// text answers with a plain-text body of one line. The length is declared,
// so the answer is complete on the wire once flushed, even when the process
// exits before the handler returns (/exit).
func text(w http.ResponseWriter, code int, format string, args ...any) {
	body := fmt.Sprintf(format+"\n", args...)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(code)
	_, _ = io.WriteString(w, body)
}

func (a *app) handleRoot(w http.ResponseWriter, _ *http.Request) {
	text(w, http.StatusOK, "version=%s host=%s", a.version, a.hostname)
}

func (a *app) handleHealthz(w http.ResponseWriter, _ *http.Request) {
	if a.unhealthy.Load() {
		text(w, http.StatusServiceUnavailable, "unhealthy")
		return
	}
	text(w, http.StatusOK, "ok")
}

func (a *app) handleFail(w http.ResponseWriter, _ *http.Request) {
	a.unhealthy.Store(true)
	text(w, http.StatusOK, "health now fails")
}

func (a *app) handleRecover(w http.ResponseWriter, _ *http.Request) {
	a.unhealthy.Store(false)
	text(w, http.StatusOK, "health now passes")
}

func (a *app) handleExit(w http.ResponseWriter, r *http.Request) {
	code := 1
	if v := r.URL.Query().Get("code"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 255 {
			text(w, http.StatusBadRequest, "code must be a number from 0 to 255, got %q", v)
			return
		}
		code = n
	}
	// Read the body first: closing a socket with unread input sends a reset,
	// which can destroy the answer before the client reads it.
	_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, 1<<20))
	w.Header().Set("Connection", "close")
	text(w, http.StatusOK, "exiting with code %d", code)
	_ = http.NewResponseController(w).Flush()
	a.exit(code)
}

func (a *app) handleSlow(w http.ResponseWriter, r *http.Request) {
	d, ok := durationParam(w, r, "d", 500*time.Millisecond, maxSlow)
	if !ok {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		text(w, http.StatusOK, "slept %v", d)
	case <-r.Context().Done():
	}
}

func (a *app) handleStream(w http.ResponseWriter, r *http.Request) {
	n := 5
	if v := r.URL.Query().Get("n"); v != "" {
		parsed, err := strconv.Atoi(v)
		if err != nil || parsed < 0 || parsed > maxStreamLines {
			text(w, http.StatusBadRequest, "n must be a number from 0 to %d, got %q", maxStreamLines, v)
			return
		}
		n = parsed
	}
	every, ok := durationParam(w, r, "every", 100*time.Millisecond, maxStreamPeriod)
	if !ok {
		return
	}
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	// Proxies such as nginx buffer unless told otherwise.
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	if err := rc.Flush(); err != nil {
		return
	}
	var tick <-chan time.Time
	if every > 0 {
		t := time.NewTicker(every)
		defer t.Stop()
		tick = t.C
	}
	for i := 1; i <= n; i++ {
		if i > 1 && tick != nil {
			select {
			case <-tick:
			case <-r.Context().Done():
				return
			}
		}
		if _, err := fmt.Fprintf(w, "line %d of %d\n", i, n); err != nil {
			return
		}
		if err := rc.Flush(); err != nil {
			return
		}
	}
}

func (a *app) handleEnv(w http.ResponseWriter, r *http.Request) {
	key := r.URL.Query().Get("key")
	if key == "" {
		text(w, http.StatusBadRequest, "key is required")
		return
	}
	v, ok := os.LookupEnv(key)
	if !ok {
		text(w, http.StatusNotFound, "%s is not set", key)
		return
	}
	text(w, http.StatusOK, "%s", v)
}

// durationParam reads the duration query parameter name, def when absent.
// On a bad value it answers 400 and returns false.
func durationParam(w http.ResponseWriter, r *http.Request, name string, def, limit time.Duration) (time.Duration, bool) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, true
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 || d > limit {
		text(w, http.StatusBadRequest, "%s must be a duration from 0 to %v, got %q", name, limit, v)
		return 0, false
	}
	return d, true
}
