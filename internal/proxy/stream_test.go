package proxy

import (
	"bufio"
	"context"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// wsAccept is the Sec-WebSocket-Accept answer to key (RFC 6455, 4.2.2).
func wsAccept(key string) string {
	h := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	return base64.StdEncoding.EncodeToString(h[:])
}

// wsEcho completes a WebSocket opening handshake and then echoes every byte;
// the framing is the endpoints' business, the proxy only tunnels bytes.
func wsEcho(w http.ResponseWriter, r *http.Request) {
	if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
		http.Error(w, "websocket only", http.StatusBadRequest)
		return
	}
	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return
	}
	defer conn.Close()
	fmt.Fprintf(brw, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n",
		wsAccept(r.Header.Get("Sec-WebSocket-Key")))
	if brw.Flush() != nil {
		return
	}
	_, _ = io.Copy(conn, brw)
}

// dialWebSocket opens a WebSocket to host/path through the proxy at addr.
func dialWebSocket(t *testing.T, addr, host, path string) (net.Conn, *bufio.Reader) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	_ = conn.SetDeadline(time.Now().Add(testTimeout))
	const key = "dGhlIHNhbXBsZSBub25jZQ=="
	fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n", path, host, key)
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("reading the handshake answer: %v", err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols || resp.Header.Get("Sec-WebSocket-Accept") != wsAccept(key) {
		t.Fatalf("handshake answer: %s %v", resp.Status, resp.Header)
	}
	return conn, br
}

func TestWebSocketThroughProxy(t *testing.T) {
	p := newTestProxy(t)
	k := key("app.test", "/")
	_, blue := newBackend(t, "blue", withHandler("/ws", wsEcho))
	_, green := newBackend(t, "green")
	setRoute(t, p.Router, k, blue)

	conn, br := dialWebSocket(t, p.Addr(), "app.test", "/ws")
	for _, msg := range []string{"hello\n", "second message\n"} {
		if _, err := io.WriteString(conn, msg); err != nil {
			t.Fatal(err)
		}
		got, err := br.ReadString('\n')
		if err != nil || got != msg {
			t.Fatalf("echo = %q, %v; want %q", got, err, msg)
		}
	}

	// An open WebSocket is a request in flight: switching away keeps it
	// open, and the drain deadline closes it.
	setRoute(t, p.Router, k, green)
	if d := p.Stats().Draining; len(d) != 1 || d[0].InFlight != 1 {
		t.Fatalf("draining = %+v, want blue with the WebSocket in flight", d)
	}
	if _, err := io.WriteString(conn, "still there\n"); err != nil {
		t.Fatal(err)
	}
	if got, err := br.ReadString('\n'); err != nil || got != "still there\n" {
		t.Fatalf("echo after the switch = %q, %v", got, err)
	}
	if err := p.Drain(context.Background(), 100*time.Millisecond, blue); !errors.Is(err, ErrDrainTimeout) {
		t.Fatalf("Drain with an open WebSocket = %v, want ErrDrainTimeout", err)
	}
	if _, err := br.ReadString('\n'); err == nil {
		t.Error("the WebSocket stayed open past the drain deadline")
	}
}

// TestStreamingResponse proves streams reach the client as the backend
// flushes them: server-sent events, and any response without a length (a
// chunked download, a long poll, NDJSON).
func TestStreamingResponse(t *testing.T) {
	for _, contentType := range []string{"text/event-stream", "application/x-ndjson"} {
		t.Run(contentType, func(t *testing.T) { testStreamingResponse(t, contentType) })
	}
}

func testStreamingResponse(t *testing.T, contentType string) {
	p := newTestProxy(t)
	release := make(chan struct{})
	_, b := newBackend(t, "app", withHandler("/events", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", contentType)
		fmt.Fprint(w, "data: first\n\n")
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
			return
		}
		fmt.Fprint(w, "data: second\n\n")
	}))
	setRoute(t, p.Router, key("app.test", "/"), b)
	defer func() {
		select {
		case <-release:
		default:
			close(release)
		}
	}()

	resp, err := newClient(t, p.Addr()).Get("http://app.test/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	first := make(chan string, 1)
	go func() {
		line, _ := br.ReadString('\n')
		first <- line
	}()
	// The backend is still in its handler: the first event can only have
	// arrived if the proxy flushed it at once.
	if got := receive(t, "the first event while the handler still runs", first); got != "data: first\n" {
		t.Fatalf("first line = %q", got)
	}
	close(release)
	rest, err := io.ReadAll(br)
	if err != nil || string(rest) != "\ndata: second\n\n" {
		t.Errorf("rest of the stream = %q, %v", rest, err)
	}
}
