package dockertest

import (
	"bufio"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"testing"
	"time"
)

// WSRoundTrip opens a WebSocket to wsURL (ws://host:port/path), sends msg as
// one text frame, and returns the text of the first data frame answered,
// closing the connection cleanly. It is enough to prove a WebSocket echo
// works, directly or through the proxy; it speaks unfragmented frames of up
// to 64 KiB, like the test app, and not wss.
func WSRoundTrip(t testing.TB, wsURL, msg string, timeout time.Duration) string {
	t.Helper()
	reply, err := wsRoundTrip(wsURL, msg, timeout)
	if err != nil {
		t.Fatalf("dockertest: WebSocket %s: %v", wsURL, err)
	}
	return reply
}

// wsGUID is the fixed key suffix of RFC 6455 §1.3.
const wsGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

func wsRoundTrip(wsURL, msg string, timeout time.Duration) (string, error) {
	u, err := url.Parse(wsURL)
	if err != nil {
		return "", err
	}
	if u.Scheme != "ws" {
		return "", fmt.Errorf("scheme %q: only ws is supported", u.Scheme)
	}
	if len(msg) > 64<<10 {
		return "", fmt.Errorf("message of %d bytes exceeds 64 KiB", len(msg))
	}
	host := u.Host
	if u.Port() == "" {
		host = net.JoinHostPort(u.Hostname(), "80")
	}
	conn, err := net.DialTimeout("tcp", host, timeout)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(timeout))

	raw := make([]byte, 16)
	_, _ = rand.Read(raw)
	key := base64.StdEncoding.EncodeToString(raw)
	req := fmt.Sprintf("GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n", u.RequestURI(), u.Host, key)
	if _, err := io.WriteString(conn, req); err != nil {
		return "", err
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return "", fmt.Errorf("reading handshake: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSwitchingProtocols {
		return "", fmt.Errorf("handshake answered %s", resp.Status)
	}
	sum := sha1.Sum([]byte(key + wsGUID))
	if got, want := resp.Header.Get("Sec-WebSocket-Accept"), base64.StdEncoding.EncodeToString(sum[:]); got != want {
		return "", fmt.Errorf("Sec-WebSocket-Accept %q, want %q", got, want)
	}

	if err := writeMaskedFrame(conn, 0x1, []byte(msg)); err != nil {
		return "", err
	}
	for {
		op, payload, err := readFrame(br)
		if err != nil {
			return "", err
		}
		switch op {
		case 0x1, 0x2:
			// Start the closing handshake; the peer's answer is not awaited.
			_ = writeMaskedFrame(conn, 0x8, []byte{0x03, 0xE8})
			return string(payload), nil
		case 0x8:
			code := 0
			if len(payload) >= 2 {
				code = int(binary.BigEndian.Uint16(payload))
			}
			return "", fmt.Errorf("peer closed with code %d %q", code, payload[min(2, len(payload)):])
		case 0x9:
			if err := writeMaskedFrame(conn, 0xA, payload); err != nil {
				return "", err
			}
		}
	}
}

// writeMaskedFrame writes one final frame, masked as clients must.
func writeMaskedFrame(w io.Writer, op byte, payload []byte) error {
	hdr := []byte{0x80 | op}
	switch n := len(payload); {
	case n < 126:
		hdr = append(hdr, 0x80|byte(n))
	case n <= 0xFFFF:
		hdr = append(hdr, 0x80|126)
		hdr = binary.BigEndian.AppendUint16(hdr, uint16(n))
	default:
		hdr = append(hdr, 0x80|127)
		hdr = binary.BigEndian.AppendUint64(hdr, uint64(n))
	}
	var key [4]byte
	_, _ = rand.Read(key[:])
	hdr = append(hdr, key[:]...)
	masked := make([]byte, len(payload))
	for i, c := range payload {
		masked[i] = c ^ key[i%4]
	}
	_, err := w.Write(append(hdr, masked...))
	return err
}

// readFrame reads one unmasked server frame of up to 64 KiB.
func readFrame(r io.Reader) (op byte, payload []byte, err error) {
	var h [2]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return 0, nil, fmt.Errorf("reading frame: %w", err)
	}
	if h[0]&0x80 == 0 {
		return 0, nil, fmt.Errorf("fragmented frame (first byte %#x) is not supported", h[0])
	}
	if h[1]&0x80 != 0 {
		return 0, nil, fmt.Errorf("server frame is masked")
	}
	n := uint64(h[1] & 0x7F)
	switch n {
	case 126:
		var ext [2]byte
		if _, err := io.ReadFull(r, ext[:]); err != nil {
			return 0, nil, err
		}
		n = uint64(binary.BigEndian.Uint16(ext[:]))
	case 127:
		var ext [8]byte
		if _, err := io.ReadFull(r, ext[:]); err != nil {
			return 0, nil, err
		}
		n = binary.BigEndian.Uint64(ext[:])
	}
	if n > 64<<10 {
		return 0, nil, fmt.Errorf("frame of %d bytes exceeds 64 KiB", n)
	}
	payload = make([]byte, n)
	if _, err := io.ReadFull(r, payload); err != nil {
		return 0, nil, fmt.Errorf("reading %d-byte payload: %w", n, err)
	}
	return h[0] & 0x0F, payload, nil
}
