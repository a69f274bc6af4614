package proxy

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

// BenchmarkProxy compares a small GET sent straight to a backend with the
// same GET through the proxy, both over keep-alive loopback connections, so
// the difference is the proxy's cost per request.
func BenchmarkProxy(b *testing.B) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "hello from the backend\n")
	}))
	defer backend.Close()
	p := newTestProxy(b)
	setRoute(b, p.Router, key("app.test", "/"), plainBackend(backend))

	run := func(b *testing.B, addr string) {
		c := newClient(b, addr)
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			resp, err := c.Get("http://app.test/")
			if err != nil {
				b.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Fatalf("status %d", resp.StatusCode)
			}
		}
	}
	b.Run("direct", func(b *testing.B) { run(b, backend.Listener.Addr().String()) })
	b.Run("proxy", func(b *testing.B) { run(b, p.Addr()) })
}
