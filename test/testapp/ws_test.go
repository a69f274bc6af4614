package main

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"io"
	"net"
	"net/http"
	"testing"
	"time"
)

// dialWS opens a WebSocket to /ws on addr (host:port) by hand and checks the
// handshake.
func dialWS(t *testing.T, addr string) (net.Conn, *bufio.Reader) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	const key = "dGhlIHNhbXBsZSBub25jZQ=="
	req := "GET /ws HTTP/1.1\r\nHost: " + addr + "\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n" +
		"Sec-WebSocket-Key: " + key + "\r\nSec-WebSocket-Version: 13\r\n\r\n"
	if _, err := io.WriteString(conn, req); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("handshake status %s", resp.Status)
	}
	// The example of RFC 6455 §1.3.
	if got := resp.Header.Get("Sec-WebSocket-Accept"); got != "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" {
		t.Fatalf("Sec-WebSocket-Accept = %q", got)
	}
	return conn, br
}

// writeClientFrame writes a frame whose first byte is b0 (FIN, RSV and
// opcode), masked as clients must unless masked is false.
func writeClientFrame(t *testing.T, w io.Writer, b0 byte, payload []byte, masked bool) {
	t.Helper()
	var buf bytes.Buffer
	buf.WriteByte(b0)
	var maskBit byte
	if masked {
		maskBit = 0x80
	}
	switch n := len(payload); {
	case n < 126:
		buf.WriteByte(maskBit | byte(n))
	case n <= 0xFFFF:
		buf.WriteByte(maskBit | 126)
		_ = binary.Write(&buf, binary.BigEndian, uint16(n))
	default:
		buf.WriteByte(maskBit | 127)
		_ = binary.Write(&buf, binary.BigEndian, uint64(n))
	}
	if masked {
		key := [4]byte{0x12, 0x34, 0x56, 0x78}
		buf.Write(key[:])
		for i, c := range payload {
			buf.WriteByte(c ^ key[i%4])
		}
	} else {
		buf.Write(payload)
	}
	if _, err := w.Write(buf.Bytes()); err != nil {
		t.Fatal(err)
	}
}

// readServerFrame reads one frame, checking it is final and unmasked.
func readServerFrame(t *testing.T, r io.Reader) (op byte, payload []byte) {
	t.Helper()
	var h [2]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		t.Fatalf("reading frame: %v", err)
	}
	if h[0]&0xF0 != 0x80 {
		t.Fatalf("first byte %#x: want FIN and no RSV bits", h[0])
	}
	if h[1]&0x80 != 0 {
		t.Fatal("server frame is masked")
	}
	n := uint64(h[1] & 0x7F)
	switch n {
	case 126:
		var ext uint16
		if err := binary.Read(r, binary.BigEndian, &ext); err != nil {
			t.Fatal(err)
		}
		n = uint64(ext)
	case 127:
		if err := binary.Read(r, binary.BigEndian, &n); err != nil {
			t.Fatal(err)
		}
	}
	payload = make([]byte, n)
	if _, err := io.ReadFull(r, payload); err != nil {
		t.Fatalf("reading %d-byte payload: %v", n, err)
	}
	return h[0] & 0x0F, payload
}

func closeCode(payload []byte) int {
	if len(payload) < 2 {
		return 0
	}
	return int(binary.BigEndian.Uint16(payload))
}

func TestWebSocketEcho(t *testing.T) {
	srv := newTestServer(t, config{})
	conn, br := dialWS(t, srv.Listener.Addr().String())
	defer conn.Close()

	big := bytes.Repeat([]byte("0123456789abcdef"), wsMaxPayload/16)
	frames := []struct {
		name    string
		op      byte
		payload []byte
		wantOp  byte
	}{
		{name: "text", op: opText, payload: []byte("hello"), wantOp: opText},
		{name: "empty text", op: opText, payload: nil, wantOp: opText},
		{name: "16-bit length", op: opText, payload: bytes.Repeat([]byte("x"), 300), wantOp: opText},
		{name: "64 KiB binary", op: opBinary, payload: big, wantOp: opBinary},
		{name: "ping", op: opPing, payload: []byte("are you there"), wantOp: opPong},
	}
	for _, f := range frames {
		t.Run(f.name, func(t *testing.T) {
			writeClientFrame(t, conn, 0x80|f.op, f.payload, true)
			op, got := readServerFrame(t, br)
			if op != f.wantOp || !bytes.Equal(got, f.payload) {
				t.Fatalf("got op %#x with %d bytes, want op %#x with %d bytes", op, len(got), f.wantOp, len(f.payload))
			}
		})
	}

	// An unsolicited pong gets no answer; the next text still echoes.
	writeClientFrame(t, conn, 0x80|opPong, nil, true)
	writeClientFrame(t, conn, 0x80|opText, []byte("after pong"), true)
	if op, got := readServerFrame(t, br); op != opText || string(got) != "after pong" {
		t.Fatalf("got op %#x %q", op, got)
	}

	// The closing handshake: the status code comes back, then EOF.
	writeClientFrame(t, conn, 0x80|opClose, []byte{0x03, 0xE8, 'b', 'y', 'e'}, true)
	op, got := readServerFrame(t, br)
	if op != opClose || closeCode(got) != 1000 {
		t.Fatalf("got op %#x code %d, want close 1000", op, closeCode(got))
	}
	if _, err := br.ReadByte(); err != io.EOF {
		t.Fatalf("after close: %v, want EOF", err)
	}
}

func TestWebSocketRefusesBadFrames(t *testing.T) {
	tests := []struct {
		name     string
		b0       byte
		payload  []byte
		unmasked bool
		wantCode int
	}{
		{name: "unmasked", b0: 0x80 | opText, payload: []byte("hi"), unmasked: true, wantCode: closeProtocolError},
		{name: "fragment", b0: opText, payload: []byte("part"), wantCode: closeUnsupported},
		{name: "stray continuation", b0: 0x80 | opContinuation, payload: []byte("x"), wantCode: closeProtocolError},
		{name: "too big", b0: 0x80 | opBinary, payload: make([]byte, wsMaxPayload+1), wantCode: closeTooBig},
		{name: "invalid UTF-8", b0: 0x80 | opText, payload: []byte{0xff, 0xfe}, wantCode: closeInvalidPayload},
		{name: "reserved bit", b0: 0x80 | 0x40 | opText, payload: []byte("x"), wantCode: closeProtocolError},
		{name: "unknown opcode", b0: 0x80 | 0x3, payload: nil, wantCode: closeProtocolError},
		{name: "long control frame", b0: 0x80 | opPing, payload: make([]byte, 126), wantCode: closeProtocolError},
		{name: "one-byte close", b0: 0x80 | opClose, payload: []byte{1}, wantCode: closeProtocolError},
	}
	srv := newTestServer(t, config{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conn, br := dialWS(t, srv.Listener.Addr().String())
			defer conn.Close()
			writeClientFrame(t, conn, tt.b0, tt.payload, !tt.unmasked)
			op, got := readServerFrame(t, br)
			if op != opClose || closeCode(got) != tt.wantCode {
				t.Fatalf("got op %#x code %d (%q), want close %d", op, closeCode(got), got, tt.wantCode)
			}
		})
	}
}

func TestWebSocketHandshakeErrors(t *testing.T) {
	tests := []struct {
		name       string
		headers    map[string]string
		wantStatus int
	}{
		{name: "plain GET", headers: nil, wantStatus: 426},
		{name: "old version", headers: map[string]string{"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "8", "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="}, wantStatus: 426},
		{name: "bad key", headers: map[string]string{"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": "c2hvcnQ="}, wantStatus: 400},
		{name: "no key", headers: map[string]string{"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "13"}, wantStatus: 400},
	}
	srv := newTestServer(t, config{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest("GET", srv.URL+"/ws", nil)
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range tt.headers {
				req.Header.Set(k, v)
			}
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.wantStatus {
				t.Errorf("status %d, want %d", resp.StatusCode, tt.wantStatus)
			}
		})
	}
}

func TestHeaderHasToken(t *testing.T) {
	h := http.Header{"Connection": {"keep-alive, Upgrade"}}
	if !headerHasToken(h, "Connection", "upgrade") {
		t.Error("missed a token in a list")
	}
	if headerHasToken(h, "Connection", "close") || headerHasToken(h, "Upgrade", "websocket") {
		t.Error("found a token that is not there")
	}
}
