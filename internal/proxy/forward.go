package proxy

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/net/http/httpguts"
)

// forwarder sends the common request, plain HTTP/1.1 with a body of known
// length and no upgrade, to one backend over keep-alive connections of its
// own, synchronously on the request's goroutine. net/http's Transport runs
// a read and a write goroutine per connection and hands every request and
// response between them; with the response read right here and no read
// left pending on an idle connection, a proxied request costs about a third
// less CPU and half the allocations. Every other request (upgrades,
// streamed request bodies, trailers to send) goes through
// httputil.ReverseProxy, which handles the whole of HTTP.
//
// It does what ReverseProxy does with the target's Rewrite: the request
// goes out with the client's Host, without hop-by-hop headers, with
// X-Forwarded-For, -Host and -Proto set by the proxy (the client's own are
// dropped), and the response comes back without hop-by-hop headers,
// streamed when it has no length or is an event stream.
type forwarder struct {
	addr        string
	dialer      net.Dialer
	idleTimeout time.Duration
	maxIdle     int

	mu     sync.Mutex
	idle   []*upstreamConn // most recently used last
	closed bool
	sweep  *time.Timer
	// inUse are the connections carrying a request; interruptAll ends
	// them at the drain deadline, after which aborted refuses new ones.
	inUse   map[*upstreamConn]struct{}
	aborted bool
}

// errAborted fails requests that reach a backend after its drain deadline.
var errAborted = errors.New("the backend's drain deadline passed")

// upstreamConn is one keep-alive connection to the backend.
type upstreamConn struct {
	conn     net.Conn
	br       *bufio.Reader
	bw       *bufio.Writer
	idleFrom time.Time
}

const (
	upstreamBufferSize = 4 << 10
	// forwardMaxIdle bounds the idle connections kept to one backend, as
	// MaxIdleConnsPerHost does for the Transport.
	forwardMaxIdle = 256
)

func newForwarder(addr string, dialTimeout, idleTimeout time.Duration) *forwarder {
	return &forwarder{
		addr:        addr,
		dialer:      net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second},
		idleTimeout: idleTimeout,
		maxIdle:     forwardMaxIdle,
	}
}

// forwardable reports whether the forwarder handles req; ReverseProxy
// handles the rest.
func forwardable(req *http.Request) bool {
	if req.ContentLength < 0 || req.Method == http.MethodConnect || len(req.Trailer) > 0 || req.URL.Opaque != "" {
		return false
	}
	h := req.Header
	// Upgrades (WebSocket), Expect: 100-continue and TE: trailers (gRPC)
	// need what ReverseProxy does for them.
	return len(h["Upgrade"]) == 0 && len(h["Expect"]) == 0 && len(h["Te"]) == 0
}

// errBeforeResponse wraps a failure on a reused connection before any of
// the response arrived: the backend had closed it while it was idle, so a
// request with no body may be sent again on a new connection.
type errBeforeResponse struct{ err error }

func (e errBeforeResponse) Error() string { return e.err.Error() }
func (e errBeforeResponse) Unwrap() error { return e.err }

// forward sends req to the backend and copies the response to w. Before
// the response header is written to w it returns an error for the caller to
// answer with; after that, a failure aborts the response (a panic with
// http.ErrAbortHandler, as ReverseProxy does), so the client sees it cut.
// When ctx ends, the backend connection is closed and the request fails.
func (f *forwarder) forward(ctx context.Context, w http.ResponseWriter, req *http.Request) error {
	replay := replayable(req)
	uc, reused, err := f.get(ctx, !replay)
	if err != nil {
		return err
	}
	interrupt := context.AfterFunc(ctx, uc.interrupt)
	resp, err := exchange(uc, w, req)
	var early errBeforeResponse
	if errors.As(err, &early) && reused && replay && ctx.Err() == nil {
		// The connection failed before any of the response came: most
		// likely the backend had closed it while it was idle. The request
		// may be sent again, so try once on a new connection.
		interrupt()
		f.discard(uc)
		if uc, _, err = f.dial(ctx); err != nil {
			return err
		}
		interrupt = context.AfterFunc(ctx, uc.interrupt)
		resp, err = exchange(uc, w, req)
	}
	if err != nil {
		interrupt()
		f.discard(uc)
		if ctx.Err() != nil {
			return fmt.Errorf("%w (%w)", ctx.Err(), err)
		}
		return err
	}
	err = writeResponse(w, resp)
	if !interrupt() || err != nil || resp.Close {
		// Closing first makes Body.Close return at once instead of reading
		// the rest of an unread body.
		f.discard(uc)
		resp.Body.Close()
		if err != nil || ctx.Err() != nil {
			panic(http.ErrAbortHandler)
		}
		return nil
	}
	resp.Body.Close()
	f.put(uc)
	return nil
}

// interrupt makes the connection's blocked reads and writes return.
func (uc *upstreamConn) interrupt() { _ = uc.conn.SetDeadline(aLongTimeAgo) }

var aLongTimeAgo = time.Unix(1, 0)

// exchange writes req on uc and reads the final response's header,
// passing 1xx informational responses on to w.
func exchange(uc *upstreamConn, w http.ResponseWriter, req *http.Request) (*http.Response, error) {
	if err := writeRequest(uc.bw, req); err != nil {
		return nil, errBeforeResponse{fmt.Errorf("sending the request: %w", err)}
	}
	if req.ContentLength > 0 {
		if n, err := io.CopyN(uc.bw, req.Body, req.ContentLength); err != nil {
			return nil, fmt.Errorf("sending the request body (%d of %d bytes): %w", n, req.ContentLength, err)
		}
	}
	if err := uc.bw.Flush(); err != nil {
		return nil, errBeforeResponse{fmt.Errorf("sending the request: %w", err)}
	}
	for {
		if _, err := uc.br.Peek(1); err != nil {
			return nil, errBeforeResponse{fmt.Errorf("reading the response: %w", err)}
		}
		resp, err := http.ReadResponse(uc.br, req)
		if err != nil {
			return nil, fmt.Errorf("reading the response: %w", err)
		}
		switch {
		case resp.StatusCode < 100 || resp.StatusCode > 999:
			// net/http's ResponseWriter takes no such code.
			resp.Body.Close()
			return nil, fmt.Errorf("the backend answered with status %d", resp.StatusCode)
		case resp.StatusCode == http.StatusSwitchingProtocols:
			return nil, errors.New("the backend switched protocols on a request that asked for no upgrade")
		case resp.StatusCode < 200:
			// A proxy forwards 1xx responses (RFC 9110, section 15.2),
			// such as 103 Early Hints; they have no body.
			h := w.Header()
			for k, vs := range resp.Header {
				h[k] = vs
			}
			w.WriteHeader(resp.StatusCode)
			clear(h)
			continue
		}
		return resp, nil
	}
}

// writeRequest writes the request line and header of req as the proxy
// sends them.
func writeRequest(bw *bufio.Writer, req *http.Request) error {
	bw.WriteString(req.Method)
	bw.WriteByte(' ')
	bw.WriteString(req.URL.RequestURI())
	bw.WriteString(" HTTP/1.1\r\nHost: ")
	bw.WriteString(req.Host)
	bw.WriteString("\r\n")
	connHeader := req.Header["Connection"]
	for k, vs := range req.Header {
		if hopByHop(k, connHeader) || forwardingHeader(k) {
			continue
		}
		for _, v := range vs {
			writeHeaderLine(bw, k, v)
		}
	}
	if req.ContentLength > 0 || req.Method == http.MethodPost || req.Method == http.MethodPut || req.Method == http.MethodPatch {
		bw.WriteString("Content-Length: ")
		bw.Write(strconv.AppendInt(bw.AvailableBuffer(), req.ContentLength, 10))
		bw.WriteString("\r\n")
	}
	if ip, _, err := net.SplitHostPort(req.RemoteAddr); err == nil {
		writeHeaderLine(bw, "X-Forwarded-For", ip)
	}
	writeHeaderLine(bw, "X-Forwarded-Host", req.Host)
	if req.TLS != nil {
		writeHeaderLine(bw, "X-Forwarded-Proto", "https")
	} else {
		writeHeaderLine(bw, "X-Forwarded-Proto", "http")
	}
	_, err := bw.WriteString("\r\n")
	return err
}

func writeHeaderLine(bw *bufio.Writer, k, v string) {
	bw.WriteString(k)
	bw.WriteString(": ")
	bw.WriteString(v)
	bw.WriteString("\r\n")
}

// writeResponse copies resp's header, body and trailers to w, flushing
// after every read of the body when the response is a stream.
func writeResponse(w http.ResponseWriter, resp *http.Response) error {
	h := w.Header()
	connHeader := resp.Header["Connection"]
	for k, vs := range resp.Header {
		if hopByHop(k, connHeader) {
			continue
		}
		h[k] = vs
	}
	announced := len(resp.Trailer)
	if announced > 0 {
		names := make([]string, 0, announced)
		for k := range resp.Trailer {
			names = append(names, k)
		}
		h["Trailer"] = []string{strings.Join(names, ", ")}
	}
	w.WriteHeader(resp.StatusCode)

	var dst io.Writer = w
	if isStream(resp) {
		dst = flushWriter{w: w, rc: http.NewResponseController(w)}
	}
	buf := copyBuffers.Get()
	_, err := io.CopyBuffer(onlyWriter{dst}, onlyReader{resp.Body}, buf)
	copyBuffers.Put(buf)
	if err != nil {
		return err
	}
	if len(resp.Trailer) > 0 {
		// Trailers the backend sent without announcing them go out with
		// the TrailerPrefix, as ReverseProxy does.
		for k, vs := range resp.Trailer {
			if len(resp.Trailer) != announced {
				k = http.TrailerPrefix + k
			}
			h[k] = vs
		}
	}
	return nil
}

// isStream reports whether resp must reach the client as the backend
// writes it: it has no length (chunked or read to the end) or is a
// server-sent event stream.
func isStream(resp *http.Response) bool {
	if resp.ContentLength == -1 {
		return true
	}
	ct, _, _ := strings.Cut(resp.Header.Get("Content-Type"), ";")
	return strings.EqualFold(strings.TrimSpace(ct), "text/event-stream")
}

type flushWriter struct {
	w  io.Writer
	rc *http.ResponseController
}

func (f flushWriter) Write(p []byte) (int, error) {
	n, err := f.w.Write(p)
	if err != nil {
		return n, err
	}
	return n, f.rc.Flush()
}

// onlyWriter and onlyReader hide ReadFrom and WriteTo, so that CopyBuffer
// uses the pooled buffer instead of allocating its own.
type onlyWriter struct{ io.Writer }
type onlyReader struct{ io.Reader }

// hopByHopHeaders are the headers of one connection, which a proxy does
// not forward (RFC 9110, section 7.6.1).
var hopByHopHeaders = []string{
	"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate",
	"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade",
}

// hopByHop reports whether the header k (in canonical form) stays on its
// connection: it is one of hopByHopHeaders or named in connHeader.
func hopByHop(k string, connHeader []string) bool {
	for _, h := range hopByHopHeaders {
		if k == h {
			return true
		}
	}
	return len(connHeader) > 0 && httpguts.HeaderValuesContainsToken(connHeader, k)
}

// forwardingHeader reports whether k is one the proxy sets itself.
func forwardingHeader(k string) bool {
	switch k {
	case "Forwarded", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto":
		return true
	}
	return false
}

// replayable reports whether req may be sent twice, as net/http's
// Transport decides: a method without side effects (RFC 9110, section
// 9.2.1) and no body, or an idempotency key.
func replayable(req *http.Request) bool {
	if req.ContentLength != 0 {
		return false
	}
	switch req.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return true
	}
	return len(req.Header["Idempotency-Key"]) > 0 || len(req.Header["X-Idempotency-Key"]) > 0
}

// get returns an idle connection, or a new one. With check, it first makes
// sure the backend has not closed an idle one, for a request that must not
// be sent twice; a replayable request skips that system call and is sent
// again if the connection turns out closed.
func (f *forwarder) get(ctx context.Context, check bool) (uc *upstreamConn, reused bool, err error) {
	for {
		f.mu.Lock()
		if n := len(f.idle); n > 0 {
			uc = f.idle[n-1]
			f.idle[n-1] = nil
			f.idle = f.idle[:n-1]
		}
		f.mu.Unlock()
		if uc == nil {
			return f.dial(ctx)
		}
		if time.Since(uc.idleFrom) < f.idleTimeout && uc.br.Buffered() == 0 && (!check || connAlive(uc.conn)) {
			if err := f.track(uc); err != nil {
				return nil, false, err
			}
			return uc, true, nil
		}
		uc.conn.Close()
		uc = nil
	}
}

func (f *forwarder) dial(ctx context.Context) (*upstreamConn, bool, error) {
	conn, err := f.dialer.DialContext(ctx, "tcp", f.addr)
	if err != nil {
		return nil, false, err
	}
	uc := &upstreamConn{
		conn: conn,
		br:   bufio.NewReaderSize(conn, upstreamBufferSize),
		bw:   bufio.NewWriterSize(conn, upstreamBufferSize),
	}
	if err := f.track(uc); err != nil {
		return nil, false, err
	}
	return uc, false, nil
}

// track counts uc in use, unless the forwarder was aborted; then it
// closes uc.
func (f *forwarder) track(uc *upstreamConn) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.aborted {
		uc.conn.Close()
		return errAborted
	}
	if f.inUse == nil {
		f.inUse = make(map[*upstreamConn]struct{})
	}
	f.inUse[uc] = struct{}{}
	return nil
}

// put keeps uc for the next request, unless the pool is full or closed.
func (f *forwarder) put(uc *upstreamConn) {
	f.release(uc, true)
}

// discard closes uc, whose request failed or left it unusable.
func (f *forwarder) discard(uc *upstreamConn) {
	f.release(uc, false)
}

func (f *forwarder) release(uc *upstreamConn, keep bool) {
	uc.idleFrom = time.Now()
	f.mu.Lock()
	delete(f.inUse, uc)
	if !keep || f.closed || f.aborted || len(f.idle) >= f.maxIdle {
		f.mu.Unlock()
		uc.conn.Close()
		return
	}
	f.idle = append(f.idle, uc)
	if f.sweep == nil {
		f.sweep = time.AfterFunc(f.idleTimeout, f.closeExpired)
	}
	f.mu.Unlock()
}

// interruptAll ends the requests in flight (their connections' reads and
// writes fail at once) and refuses new ones.
func (f *forwarder) interruptAll() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.aborted = true
	for uc := range f.inUse {
		uc.interrupt()
	}
}

// closeExpired closes the connections idle for idleTimeout, so that an
// idle backend does not hold sockets for ever, and runs again while any
// are left.
func (f *forwarder) closeExpired() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sweep = nil
	if f.closed {
		return
	}
	cutoff := time.Now().Add(-f.idleTimeout)
	n := 0
	for n < len(f.idle) && !f.idle[n].idleFrom.After(cutoff) {
		f.idle[n].conn.Close()
		n++
	}
	f.idle = append(f.idle[:0], f.idle[n:]...)
	clear(f.idle[len(f.idle):cap(f.idle)])
	if len(f.idle) > 0 {
		f.sweep = time.AfterFunc(time.Until(f.idle[0].idleFrom.Add(f.idleTimeout)), f.closeExpired)
	}
}

// closeIdle closes the idle connections; with stop, the forwarder keeps
// none from now on.
func (f *forwarder) closeIdle(stop bool) {
	f.mu.Lock()
	idle := f.idle
	f.idle = nil
	if stop {
		f.closed = true
	}
	if f.sweep != nil {
		f.sweep.Stop()
		f.sweep = nil
	}
	f.mu.Unlock()
	for _, uc := range idle {
		uc.conn.Close()
	}
}
