package main

import (
	"bufio"
	"context"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// The WebSocket echo is written by hand to keep the image stdlib-only. It
// covers what proxy tests need, unfragmented frames up to wsMaxPayload; a
// fragmented message is refused with a close frame rather than echoed wrong.

// wsGUID is the fixed key suffix of RFC 6455 §1.3.
const wsGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// wsMaxPayload is the largest frame payload accepted.
const wsMaxPayload = 64 << 10

// Opcodes (RFC 6455 §5.2).
const (
	opContinuation = 0x0
	opText         = 0x1
	opBinary       = 0x2
	opClose        = 0x8
	opPing         = 0x9
	opPong         = 0xA
)

// Close status codes (RFC 6455 §7.4.1).
const (
	closeGoingAway      = 1001
	closeProtocolError  = 1002
	closeUnsupported    = 1003
	closeInvalidPayload = 1007
	closeTooBig         = 1009
)

// wsError is a peer's violation that ends the connection with a close code.
type wsError struct {
	code   uint16
	reason string
}

func (e *wsError) Error() string { return fmt.Sprintf("websocket %d: %s", e.code, e.reason) }

// acceptKey is the Sec-WebSocket-Accept answer to a Sec-WebSocket-Key.
func acceptKey(key string) string {
	sum := sha1.Sum([]byte(key + wsGUID))
	return base64.StdEncoding.EncodeToString(sum[:])
}

// headerHasToken reports whether a comma-separated header holds token,
// ignoring case ("Connection: keep-alive, Upgrade").
func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for t := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

func (a *app) handleWS(w http.ResponseWriter, r *http.Request) {
	if r.ProtoMajor != 1 || !headerHasToken(r.Header, "Connection", "upgrade") || !headerHasToken(r.Header, "Upgrade", "websocket") {
		w.Header().Set("Upgrade", "websocket")
		text(w, http.StatusUpgradeRequired, "this endpoint speaks WebSocket only")
		return
	}
	if r.Header.Get("Sec-WebSocket-Version") != "13" {
		w.Header().Set("Sec-WebSocket-Version", "13")
		text(w, http.StatusUpgradeRequired, "unsupported Sec-WebSocket-Version %q", r.Header.Get("Sec-WebSocket-Version"))
		return
	}
	key := r.Header.Get("Sec-WebSocket-Key")
	if raw, err := base64.StdEncoding.DecodeString(key); err != nil || len(raw) != 16 {
		text(w, http.StatusBadRequest, "Sec-WebSocket-Key must be 16 bytes in base64")
		return
	}
	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		text(w, http.StatusInternalServerError, "hijacking the connection: %v", err)
		return
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Time{}) // the server's header timeout no longer applies
	c := &wsConn{conn: conn, r: brw.Reader}
	handshake := "HTTP/1.1 101 Switching Protocols\r\n" +
		"Upgrade: websocket\r\n" +
		"Connection: Upgrade\r\n" +
		"Sec-WebSocket-Accept: " + acceptKey(key) + "\r\n\r\n"
	if err := c.writeRaw([]byte(handshake)); err != nil {
		return
	}
	// Registered only once the handshake is out, so a shutdown's close
	// frame can never precede it.
	if !a.ws.add(c) {
		_ = c.sendClose(closeGoingAway, "server shutting down")
		return
	}
	defer a.ws.remove(c)
	c.echo()
}

// wsConn is one upgraded connection. Writes are serialized because shutdown
// sends a close frame from another goroutine.
type wsConn struct {
	conn net.Conn
	r    *bufio.Reader

	mu        sync.Mutex
	closeSent bool
}

func (c *wsConn) writeRaw(b []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	_ = c.conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	_, err := c.conn.Write(b)
	return err
}

// writeFrame sends one final, unmasked frame (servers never mask). Nothing
// is sent after a close frame.
func (c *wsConn) writeFrame(op byte, payload []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closeSent {
		return net.ErrClosed
	}
	if op == opClose {
		c.closeSent = true
	}
	hdr := make([]byte, 0, 10)
	hdr = append(hdr, 0x80|op)
	switch n := len(payload); {
	case n < 126:
		hdr = append(hdr, byte(n))
	case n <= 0xFFFF:
		hdr = append(hdr, 126)
		hdr = binary.BigEndian.AppendUint16(hdr, uint16(n))
	default:
		hdr = append(hdr, 127)
		hdr = binary.BigEndian.AppendUint64(hdr, uint64(n))
	}
	_ = c.conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	bufs := net.Buffers{hdr, payload}
	_, err := bufs.WriteTo(c.conn)
	return err
}

func (c *wsConn) sendClose(code uint16, reason string) error {
	payload := binary.BigEndian.AppendUint16(nil, code)
	return c.writeFrame(opClose, append(payload, reason...))
}

// fail starts the closing handshake after a peer's error, then reads and
// drops what the peer still sends until it closes (or a second passes):
// closing a socket with unread input would reset it and could destroy the
// close frame before the peer reads it.
func (c *wsConn) fail(code uint16, reason string) {
	if err := c.sendClose(code, reason); err != nil {
		return
	}
	_ = c.conn.SetReadDeadline(time.Now().Add(time.Second))
	_, _ = io.Copy(io.Discard, c.r)
}

// goingAway starts the closing handshake for server shutdown, and bounds how
// long the echo loop waits for the peer's answer.
func (c *wsConn) goingAway() {
	_ = c.sendClose(closeGoingAway, "server shutting down")
	_ = c.conn.SetReadDeadline(time.Now().Add(time.Second))
}

// echo answers frames until the peer closes, breaks the protocol, or the
// connection fails.
func (c *wsConn) echo() {
	for {
		fin, op, payload, err := readFrame(c.r)
		if err != nil {
			if we, ok := errors.AsType[*wsError](err); ok {
				c.fail(we.code, we.reason)
			}
			return
		}
		switch op {
		case opText, opBinary:
			if !fin {
				c.fail(closeUnsupported, "fragmented messages are not supported")
				return
			}
			if op == opText && !utf8.Valid(payload) {
				c.fail(closeInvalidPayload, "text frame is not valid UTF-8")
				return
			}
			if err := c.writeFrame(op, payload); err != nil {
				return
			}
		case opContinuation:
			// Every first fragment is refused, so no continuation can be valid.
			c.fail(closeProtocolError, "unexpected continuation frame")
			return
		case opPing:
			if err := c.writeFrame(opPong, payload); err != nil {
				return
			}
		case opPong:
			// Unsolicited pongs are allowed and need no answer.
		case opClose:
			if len(payload) == 1 {
				c.fail(closeProtocolError, "close payload of one byte")
				return
			}
			// Echo the status code (§5.5.1); after our own close this is a no-op.
			if len(payload) >= 2 {
				payload = payload[:2]
			}
			_ = c.writeFrame(opClose, payload)
			return
		default:
			c.fail(closeProtocolError, fmt.Sprintf("unknown opcode %#x", op))
			return
		}
	}
}

// readFrame reads one client frame and unmasks its payload. Errors that
// deserve a close frame are *wsError; others mean the connection is gone.
func readFrame(r io.Reader) (fin bool, op byte, payload []byte, err error) {
	var h [2]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return false, 0, nil, err
	}
	fin = h[0]&0x80 != 0
	op = h[0] & 0x0F
	if h[0]&0x70 != 0 {
		return false, 0, nil, &wsError{closeProtocolError, "reserved bits set without an extension"}
	}
	if h[1]&0x80 == 0 {
		return false, 0, nil, &wsError{closeProtocolError, "client frames must be masked"}
	}
	n := uint64(h[1] & 0x7F)
	switch n {
	case 126:
		var ext [2]byte
		if _, err := io.ReadFull(r, ext[:]); err != nil {
			return false, 0, nil, err
		}
		n = uint64(binary.BigEndian.Uint16(ext[:]))
	case 127:
		var ext [8]byte
		if _, err := io.ReadFull(r, ext[:]); err != nil {
			return false, 0, nil, err
		}
		n = binary.BigEndian.Uint64(ext[:])
	}
	if op >= opClose && (!fin || n > 125) {
		return false, 0, nil, &wsError{closeProtocolError, "control frames must be final and at most 125 bytes"}
	}
	if n > wsMaxPayload {
		return false, 0, nil, &wsError{closeTooBig, fmt.Sprintf("frame of %d bytes exceeds %d", n, wsMaxPayload)}
	}
	var key [4]byte
	if _, err := io.ReadFull(r, key[:]); err != nil {
		return false, 0, nil, err
	}
	payload = make([]byte, n)
	if _, err := io.ReadFull(r, payload); err != nil {
		return false, 0, nil, err
	}
	for i := range payload {
		payload[i] ^= key[i%4]
	}
	return fin, op, payload, nil
}

// wsConns tracks upgraded connections, which http.Server.Shutdown neither
// closes nor waits for.
type wsConns struct {
	mu       sync.Mutex
	conns    map[*wsConn]struct{}
	wg       sync.WaitGroup
	shutdown bool
}

// add registers c, or reports false once shutdown has begun.
func (s *wsConns) add(c *wsConn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.shutdown {
		return false
	}
	if s.conns == nil {
		s.conns = make(map[*wsConn]struct{})
	}
	s.conns[c] = struct{}{}
	s.wg.Add(1)
	return true
}

func (s *wsConns) remove(c *wsConn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	s.wg.Done()
}

// closeAll sends every peer a going-away close frame; registered with
// http.Server.RegisterOnShutdown.
func (s *wsConns) closeAll() {
	s.mu.Lock()
	s.shutdown = true
	conns := make([]*wsConn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.goingAway()
	}
}

// wait blocks until every connection has ended or ctx is done. It refuses
// new connections first, so no add races with the wait.
func (s *wsConns) wait(ctx context.Context) error {
	s.mu.Lock()
	s.shutdown = true
	s.mu.Unlock()
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("waiting for WebSocket connections: %w", ctx.Err())
	}
}
