package proxy

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/textproto"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// echoHeaders answers with the request's method, URI, Host and header as
// JSON, and with the hop-by-hop headers a proxy must not pass on.
func echoHeaders(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Connection", "X-Resp-Hop")
	w.Header().Set("X-Resp-Hop", "1")
	w.Header().Set("Keep-Alive", "timeout=5")
	w.Header().Add("X-Multi", "a")
	w.Header().Add("X-Multi", "b")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"method": r.Method, "uri": r.RequestURI, "host": r.Host, "header": r.Header,
		"contentLength": r.ContentLength,
	})
}

type echoed struct {
	Method        string      `json:"method"`
	URI           string      `json:"uri"`
	Host          string      `json:"host"`
	Header        http.Header `json:"header"`
	ContentLength int64       `json:"contentLength"`
}

func TestForwardedRequestAndResponseHeaders(t *testing.T) {
	_, c, _ := proxied(t, echoHeaders, 0)

	req, _ := http.NewRequest(http.MethodGet, "http://app.test/a%2Fb/c?x=1&y=%20", nil)
	req.Header.Set("Connection", "X-Hop")
	req.Header.Set("X-Hop", "dropped")
	req.Header.Set("Proxy-Authorization", "Basic c2VjcmV0")
	req.Header.Set("X-Forwarded-For", "203.0.113.9")
	req.Header.Set("X-Forwarded-Host", "spoofed.test")
	req.Header.Set("Forwarded", "for=203.0.113.9")
	req.Header.Set("User-Agent", "forward-test")
	req.Header.Add("X-Twice", "1")
	req.Header.Add("X-Twice", "2")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got echoed
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
		t.Fatalf("decoding the backend's echo: %v", err)
	}

	if got.URI != "/a%2Fb/c?x=1&y=%20" || got.Host != "app.test" || got.Method != http.MethodGet {
		t.Errorf("backend saw %s %s with Host %q, want GET /a%%2Fb/c?x=1&y=%%20 with Host app.test", got.Method, got.URI, got.Host)
	}
	for _, h := range []string{"X-Hop", "Proxy-Authorization", "Forwarded", "Connection"} {
		if v, ok := got.Header[h]; ok {
			t.Errorf("backend got the hop-by-hop or client forwarding header %s: %q", h, v)
		}
	}
	for h, want := range map[string]string{
		"X-Forwarded-For": "127.0.0.1", "X-Forwarded-Host": "app.test", "X-Forwarded-Proto": "http",
		"User-Agent": "forward-test", "X-Twice": "1,2",
	} {
		if v := strings.Join(got.Header[h], ","); v != want {
			t.Errorf("backend got %s: %q, want %q", h, v, want)
		}
	}

	if v := resp.Header.Get("X-Resp-Hop"); v != "" {
		t.Errorf("client got X-Resp-Hop %q, which the backend's Connection header named", v)
	}
	if v := resp.Header.Get("Keep-Alive"); v != "" {
		t.Errorf("client got the backend's Keep-Alive %q", v)
	}
	if v := strings.Join(resp.Header.Values("X-Multi"), ","); v != "a,b" {
		t.Errorf("client got X-Multi %q, want a,b", v)
	}
}

func TestForwardedBodies(t *testing.T) {
	_, c, _ := proxied(t, func(w http.ResponseWriter, r *http.Request) {
		h := sha256.New()
		n, err := io.Copy(h, r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		fmt.Fprintf(w, "%s %d %d %s", r.Method, r.ContentLength, n, hex.EncodeToString(h.Sum(nil)))
	}, 0)

	big := bytes.Repeat([]byte("0123456789abcdef"), 64<<10) // 1 MiB
	sum := func(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }
	for _, tc := range []struct {
		name   string
		method string
		body   io.Reader
		want   string
	}{
		{"post of known length", http.MethodPost, bytes.NewReader(big), fmt.Sprintf("POST %d %d %s", len(big), len(big), sum(big))},
		{"empty put", http.MethodPut, http.NoBody, fmt.Sprintf("PUT 0 0 %s", sum(nil))},
		// No length: the client sends it chunked, and it goes through the
		// general path.
		{"chunked post", http.MethodPost, io.MultiReader(bytes.NewReader(big[:1000])), fmt.Sprintf("POST -1 1000 %s", sum(big[:1000]))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, "http://app.test/upload", tc.body)
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != http.StatusOK || string(b) != tc.want {
				t.Errorf("got %d %q, want 200 %q", resp.StatusCode, b, tc.want)
			}
		})
	}
}

// connCounter counts a backend's new and closed connections.
type connCounter struct {
	opened, closed atomic.Int32
}

func (c *connCounter) hook(_ net.Conn, s http.ConnState) {
	switch s {
	case http.StateNew:
		c.opened.Add(1)
	case http.StateClosed, http.StateHijacked:
		c.closed.Add(1)
	}
}

// proxied serves h as app.test behind a new test proxy and returns the
// proxy, a client of it, and the backend's connection count. A backend
// idle timeout above 0 makes the backend close idle connections that soon.
func proxied(t *testing.T, h http.HandlerFunc, backendIdle time.Duration) (*Server, *http.Client, *connCounter) {
	t.Helper()
	conns := &connCounter{}
	backend := httptest.NewUnstartedServer(h)
	backend.Config.IdleTimeout = backendIdle
	backend.Config.ConnState = conns.hook
	backend.Start()
	t.Cleanup(backend.Close)
	p := newTestProxy(t)
	setRoute(t, p.Router, key("app.test", "/"), plainBackend(backend))
	return p, newClient(t, p.Addr()), conns
}

func TestForwarderReusesConnections(t *testing.T) {
	p, c, conns := proxied(t, func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "ok")
	}, 0)

	for i := range 50 {
		if status, body := mustGet(t, c, "http://app.test/"); status != http.StatusOK || body != "ok" {
			t.Fatalf("request %d: got %d %q", i, status, body)
		}
	}
	if n := conns.opened.Load(); n != 1 {
		t.Errorf("50 sequential requests opened %d backend connections, want 1", n)
	}

	// A drained backend keeps no idle connection open.
	if err := p.RemoveRoute(t.Context(), key("app.test", "/")); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the proxy closed its idle backend connection", func() bool { return conns.closed.Load() == conns.opened.Load() })
}

// TestForwarderSurvivesBackendClosingIdleConnections: a backend that
// closes keep-alive connections after a short idle time, or after every
// response, must cost the client nothing.
func TestForwarderSurvivesBackendClosingIdleConnections(t *testing.T) {
	_, c, conns := proxied(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("close") != "" {
			w.Header().Set("Connection", "close")
		}
		n, _ := io.Copy(io.Discard, r.Body)
		fmt.Fprintf(w, "%d", n)
	}, 20*time.Millisecond)

	for round := range 5 {
		closedBefore := conns.closed.Load()
		if status, body := mustGet(t, c, "http://app.test/"); status != http.StatusOK || body != "0" {
			t.Fatalf("round %d GET: got %d %q", round, status, body)
		}
		eventually(t, "the backend closed the idle connection", func() bool { return conns.closed.Load() > closedBefore })
		// A GET goes out on the closed connection, fails before any
		// answer, and is sent again on a new one.
		closedBefore = conns.closed.Load()
		if status, body := mustGet(t, c, "http://app.test/"); status != http.StatusOK || body != "0" {
			t.Fatalf("round %d GET after the backend closed the idle connection: got %d %q", round, status, body)
		}
		eventually(t, "the backend closed the idle connection", func() bool { return conns.closed.Load() > closedBefore })
		// A request with a body cannot be sent twice, so the proxy must
		// see that the idle connection is gone before it uses it.
		resp, err := c.Post("http://app.test/", "text/plain", strings.NewReader("hello"))
		if err != nil {
			t.Fatalf("round %d POST: %v", round, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || string(b) != "5" {
			t.Fatalf("round %d POST after the backend closed the idle connection: got %d %q", round, resp.StatusCode, b)
		}
		closedBefore = conns.closed.Load()
		if status, body := mustGet(t, c, "http://app.test/?close=1"); status != http.StatusOK || body != "0" {
			t.Fatalf("round %d GET with Connection: close: got %d %q", round, status, body)
		}
		eventually(t, "the closing response's connection closed", func() bool { return conns.closed.Load() > closedBefore })
	}
}

func TestForwardedResponsesWithoutBodies(t *testing.T) {
	_, c, _ := proxied(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/204":
			w.WriteHeader(http.StatusNoContent)
		case "/304":
			w.Header().Set("ETag", `"v1"`)
			w.WriteHeader(http.StatusNotModified)
		default:
			w.Header().Set("Content-Length", "11")
			_, _ = io.WriteString(w, "hello world")
		}
	}, 0)

	// Several rounds on one keep-alive connection: a response read to the
	// wrong length would desynchronize the next one.
	for range 3 {
		resp, err := c.Head("http://app.test/")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || resp.ContentLength != 11 {
			t.Errorf("HEAD: got %d with length %d, want 200 with length 11", resp.StatusCode, resp.ContentLength)
		}
		for _, path := range []string{"/204", "/304"} {
			resp, err := c.Get("http://app.test" + path)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if want := path[1:]; fmt.Sprint(resp.StatusCode) != want || len(b) != 0 {
				t.Errorf("GET %s: got %d with %d body bytes, want %s and none", path, resp.StatusCode, len(b), want)
			}
		}
		if status, body := mustGet(t, c, "http://app.test/"); status != http.StatusOK || body != "hello world" {
			t.Errorf("GET: got %d %q", status, body)
		}
	}
}

func TestForwardedTrailersAndEarlyHints(t *testing.T) {
	_, c, _ := proxied(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", "</style.css>; rel=preload")
		w.WriteHeader(http.StatusEarlyHints)
		w.Header().Del("Link")
		w.Header().Set("Trailer", "X-Checksum")
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, "body")
		w.Header().Set("X-Checksum", "abc")
	}, 0)

	var hints []string
	trace := &httptrace.ClientTrace{Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
		hints = append(hints, fmt.Sprintf("%d %s", code, h.Get("Link")))
		return nil
	}}
	req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(t.Context(), trace), http.MethodGet, "http://app.test/", nil)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "body" || resp.Trailer.Get("X-Checksum") != "abc" {
		t.Errorf("got body %q and trailer X-Checksum %q, want body and abc", b, resp.Trailer.Get("X-Checksum"))
	}
	if want := []string{"103 </style.css>; rel=preload"}; fmt.Sprint(hints) != fmt.Sprint(want) {
		t.Errorf("client got 1xx responses %q, want %q", hints, want)
	}
}

// TestBackendCutMidResponse: a response the backend cut short must reach
// the client cut short, never as a complete response.
func TestBackendCutMidResponse(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		conn, bw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			panic(err)
		}
		_, _ = bw.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly ten b")
		_ = bw.Flush()
		conn.Close()
	}))
	t.Cleanup(backend.Close)
	p := newTestProxy(t)
	setRoute(t, p.Router, key("app.test", "/"), plainBackend(backend))

	conn, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(testTimeout))
	fmt.Fprintf(conn, "GET / HTTP/1.1\r\nHost: app.test\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		// Cut before the header: also a failure the client can see.
		return
	}
	b, err := io.ReadAll(resp.Body)
	if err == nil {
		t.Errorf("client read a complete response (%d %q) of a body the backend cut short", resp.StatusCode, b)
	}
}

// TestClientGoneEndsBackendRequest: when the client goes away, the request
// to the backend ends too instead of waiting for a slow response.
func TestClientGoneEndsBackendRequest(t *testing.T) {
	var mu sync.Mutex
	started, ended := make(chan struct{}), make(chan struct{})
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		close(started)
		mu.Unlock()
		<-r.Context().Done()
		close(ended)
	}))
	t.Cleanup(backend.Close)
	p := newTestProxy(t)
	setRoute(t, p.Router, key("app.test", "/"), plainBackend(backend))

	conn, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(conn, "GET /slow HTTP/1.1\r\nHost: app.test\r\n\r\n")
	receive(t, "the request at the backend", started)
	conn.Close()
	receive(t, "the backend's request to end after the client left", ended)
}
