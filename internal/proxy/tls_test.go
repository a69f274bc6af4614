package proxy

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/tinyforge/tinyforge/internal/testcert"
)

// servedName is the common name of the certificate the proxy presents for
// serverName, or the handshake error.
func servedName(addr, serverName string) (string, error) {
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: testTimeout}, "tcp", addr, &tls.Config{
		ServerName:         serverName,
		InsecureSkipVerify: true, // the test looks at which certificate, not whether to trust it
	})
	if err != nil {
		return "", err
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0].Subject.CommonName, nil
}

func TestSNICertificateSelection(t *testing.T) {
	p := newTestProxy(t, withHTTPS())
	for _, host := range []string{"a.test", "B.test", "*.wild.test"} {
		cert, key := testcert.SelfSigned(t, host)
		if err := p.SetCertificate(host, cert, key); err != nil {
			t.Fatalf("SetCertificate(%s): %v", host, err)
		}
	}

	tests := []struct {
		name, serverName, want string
	}{
		{name: "exact host", serverName: "a.test", want: "a.test"},
		{name: "host case", serverName: "b.TEST", want: "B.test"},
		{name: "wildcard", serverName: "x.wild.test", want: "*.wild.test"},
		{name: "wildcard covers one label only", serverName: "x.y.wild.test"},
		{name: "unknown host without default", serverName: "c.test"},
		{name: "no SNI without default", serverName: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := servedName(p.TLSAddr(), tt.serverName)
			if tt.want == "" {
				if err == nil {
					t.Errorf("handshake for %q served %q, want a failure", tt.serverName, got)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("handshake for %q = %q, %v; want %q", tt.serverName, got, err, tt.want)
			}
		})
	}

	cert, key := testcert.SelfSigned(t, "default.test")
	if err := p.SetCertificate("", cert, key); err != nil {
		t.Fatal(err)
	}
	if got, err := servedName(p.TLSAddr(), "c.test"); err != nil || got != "default.test" {
		t.Errorf("unknown host with a default = %q, %v", got, err)
	}
	if err := p.RemoveCertificate("a.test"); err != nil {
		t.Fatal(err)
	}
	if got, err := servedName(p.TLSAddr(), "a.test"); err != nil || got != "default.test" {
		t.Errorf("removed host = %q, %v; want the default", got, err)
	}
}

func TestSetCertificateRejectsGarbage(t *testing.T) {
	p := newTestProxy(t, withHTTPS())
	cert, key := testcert.SelfSigned(t, "a.test")
	_, otherKey := testcert.SelfSigned(t, "a.test")
	tests := []struct {
		name      string
		host      string
		cert, key []byte
	}{
		{name: "not PEM", host: "a.test", cert: []byte("garbage"), key: key},
		{name: "key of another certificate", host: "a.test", cert: cert, key: otherKey},
		{name: "host with port", host: "a.test:443", cert: cert, key: key},
		{name: "wildcard of nothing", host: "*.", cert: cert, key: key},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := p.SetCertificate(tt.host, tt.cert, tt.key); err == nil {
				t.Error("SetCertificate succeeded")
			}
		})
	}
	if _, err := servedName(p.TLSAddr(), "a.test"); err == nil {
		t.Error("a rejected certificate is served")
	}
}

func TestHTTPSRequestThroughProxy(t *testing.T) {
	p := newTestProxy(t, withHTTPS())
	cert, certKey := testcert.SelfSigned(t, "secure.test")
	if err := p.SetCertificate("secure.test", cert, certKey); err != nil {
		t.Fatal(err)
	}
	_, b := newBackend(t, "app")
	setRoute(t, p.Router, key("secure.test", "/"), b)

	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(cert)
	tr := &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: roots},
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, p.TLSAddr())
		},
		ForceAttemptHTTP2: true,
	}
	t.Cleanup(tr.CloseIdleConnections)
	c := &http.Client{Timeout: testTimeout, Transport: tr}
	resp, err := c.Get("https://secure.test/x")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !strings.Contains(string(body), "proto=https") {
		t.Errorf("got %s %q; want the backend told the client used https", resp.Status, body)
	}
	if resp.ProtoMajor != 2 {
		t.Errorf("served over %s, want HTTP/2 for TLS clients that offer it", resp.Proto)
	}
}
