package plugintest

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// A Hammer counts 200s by key and everything else as failures, with the
// status in the message.
func TestHammer(t *testing.T) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch i := n.Add(1); {
		case i%10 == 0:
			http.Error(w, "switching", http.StatusBadGateway)
		case i%2 == 0:
			w.Write([]byte("version=v2 host=b\n"))
		default:
			w.Write([]byte("version=v1 host=a\n"))
		}
	}))
	defer srv.Close()
	version := func(body string) string {
		v, _, _ := strings.Cut(strings.TrimPrefix(body, "version="), " ")
		return v
	}
	h := StartHammer(srv.URL, 3, version)
	deadline := time.Now().Add(10 * time.Second)
	for h.Failures() < 2 || h.Seen("v1") < 5 || h.Seen("v2") < 5 {
		if time.Now().After(deadline) {
			h.Halt()
			t.Fatalf("no failures or answers after 10 s: %v", h)
		}
		time.Sleep(5 * time.Millisecond)
	}
	h.Halt()
	if got := h.OK() + h.Failures(); got != n.Load() {
		t.Errorf("counted %d requests, server answered %d", got, n.Load())
	}
	if keys := h.Keys(); len(keys) != 2 || int64(keys["v1"]+keys["v2"]) != h.OK() {
		t.Errorf("keys = %v, want v1 and v2 adding up to %d", keys, h.OK())
	}
	errs := h.Errors()
	if len(errs) == 0 || len(errs) > maxHammerErrors || !strings.Contains(errs[0], "502") {
		t.Errorf("errors = %q, want up to %d naming the 502", errs, maxHammerErrors)
	}
}
