package proxy

import (
	"fmt"
	"net/http"
	"slices"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"

	"github.com/tinyforge/tinyforge/plugins"
)

// maxPicks bounds how often a request looks again for a target after the
// one it picked was switched away from under it. One retry always finds the
// new set, since a switch publishes the new set before it drains the old.
const maxPicks = 3

// route is one published host and path prefix. Its target set is swapped
// whole, so a request sees the old set or the new one, never a mix.
type route struct {
	key     plugins.RouteKey
	targets atomic.Pointer[targetSet]

	requests atomic.Uint64
	// responses counts answers by status class, indexed by status/100.
	responses [6]atomic.Uint64
	// unavailable counts the 503s the proxy gave because no backend was
	// healthy.
	unavailable atomic.Uint64
}

func newRoute(key plugins.RouteKey, set *targetSet) *route {
	rt := &route{key: key}
	rt.targets.Store(set)
	return rt
}

// targetSet is an immutable list of targets with a round-robin cursor.
type targetSet struct {
	targets []*target
	next    atomic.Uint32
}

var emptySet = &targetSet{}

// acquire picks the next healthy target round robin and admits the request
// to it, or returns nil when none is healthy.
func (s *targetSet) acquire() *target {
	n := uint32(len(s.targets))
	if n == 0 {
		return nil
	}
	start := s.next.Add(1)
	for i := range n {
		if t := s.targets[(start+i)%n]; t.acquire() {
			return t
		}
	}
	return nil
}

func (s *targetSet) backends() []plugins.Backend {
	out := make([]plugins.Backend, len(s.targets))
	for i, t := range s.targets {
		out[i] = t.backend
	}
	return out
}

// sameBackends reports whether the set serves exactly these backends, so
// that publishing a route again changes nothing.
func (s *targetSet) sameBackends(backends []plugins.Backend) bool {
	if len(s.targets) != len(backends) {
		return false
	}
	for _, b := range backends {
		if s.find(b) == nil {
			return false
		}
	}
	return true
}

func (s *targetSet) find(b plugins.Backend) *target {
	i := slices.IndexFunc(s.targets, func(t *target) bool { return t.backend == b })
	if i < 0 {
		return nil
	}
	return s.targets[i]
}

func (rt *route) serve(w http.ResponseWriter, req *http.Request, log logr.Logger) {
	rt.requests.Add(1)
	rec := &statusRecorder{ResponseWriter: w}
	start := time.Now()
	var t *target
	defer func() {
		// Deferred so that the counts stay right when ReverseProxy aborts
		// a broken stream with http.ErrAbortHandler.
		status := rec.status
		if status == 0 {
			status = http.StatusOK
		}
		if c := status / 100; c > 0 && c < len(rt.responses) {
			rt.responses[c].Add(1)
		}
		if l := log.V(1); l.Enabled() {
			addr := ""
			if t != nil {
				addr = t.backend.Address
			}
			l.Info("Request", "route", rt.key.String(), "method", req.Method, "host", req.Host,
				"path", req.URL.Path, "status", status, "backend", addr, "duration", time.Since(start))
		}
	}()
	for range maxPicks {
		set := rt.targets.Load()
		if t = set.acquire(); t != nil {
			defer t.release()
			t.serve(rec, req)
			return
		}
		if rt.targets.Load() == set {
			break
		}
	}
	rt.unavailable.Add(1)
	http.Error(rec, fmt.Sprintf("tinyforge proxy: no healthy backend for %s", rt.key), http.StatusServiceUnavailable)
}

func (rt *route) snapshot() RouteStats {
	s := RouteStats{
		Key:         rt.key,
		Requests:    rt.requests.Load(),
		Unavailable: rt.unavailable.Load(),
	}
	for i := range rt.responses {
		s.Responses[i] = rt.responses[i].Load()
	}
	for _, t := range rt.targets.Load().targets {
		s.Backends = append(s.Backends, t.snapshot())
	}
	return s
}

// statusRecorder remembers the status the client got, for the counters. It
// unwraps, so that http.ResponseController (which ReverseProxy uses to
// flush streams and hijack upgraded connections) reaches the real writer.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	// 1xx answers other than 101 (such as 103 Early Hints) come before the
	// real one.
	if r.status == 0 && (code >= 200 || code == http.StatusSwitchingProtocols) {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(p []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(p)
}

func (r *statusRecorder) Unwrap() http.ResponseWriter {
	return r.ResponseWriter
}
