package e2e

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tinyforge/tinyforge/internal/apiserver/apiservertest"
	"github.com/tinyforge/tinyforge/internal/docker"
	"github.com/tinyforge/tinyforge/internal/docker/dockertest"
	"github.com/tinyforge/tinyforge/internal/testcert"
)

// selfSignedFiles writes a self-signed certificate for host and its key as
// PEM files, for `forgectl create secret tls`, and returns the certificate.
func selfSignedFiles(t *testing.T, host string) (cert *x509.Certificate, certFile, keyFile string) {
	t.Helper()
	certPEM, keyPEM := testcert.SelfSigned(t, host)
	cert = testcert.Parse(t, certPEM)
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	if err := os.WriteFile(certFile, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	return cert, certFile, keyFile
}

// httpsGet fetches path for host from the proxy's HTTPS address, trusting
// only roots, and returns the answer and the certificate the handshake
// presented.
func httpsGet(addr, host, path string, roots *x509.CertPool) (code int, body string, peer *x509.Certificate, err error) {
	c := &http.Client{
		Timeout: 5 * time.Second,
		Transport: &http.Transport{
			TLSClientConfig:   &tls.Config{ServerName: host, RootCAs: roots, MinVersion: tls.VersionTLS12},
			DisableKeepAlives: true,
		},
	}
	req, err := http.NewRequest(http.MethodGet, "https://"+addr+path, nil)
	if err != nil {
		return 0, "", nil, err
	}
	req.Host = host
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if resp.TLS != nil && len(resp.TLS.PeerCertificates) > 0 {
		peer = resp.TLS.PeerCertificates[0]
	}
	return resp.StatusCode, string(b), peer, err
}

func TestRouteTLS(t *testing.T) {
	const host = "secure.example.test"
	cli := dockertest.Client(t)
	// Registered before the server starts: cleanups run last-in first-out,
	// and a running server would recreate removed containers.
	dockertest.CleanupContainers(t, cli, docker.LabelWorkload+"=tls-web", docker.LabelNamespace+"=default")
	tag := fmt.Sprintf("tinyforge-e2e/tls-web-%d", time.Now().UnixNano())
	dockertest.BuildTestApp(t, cli, tag+":v1", dockertest.WithVersion("v1"))
	ports, err := apiservertest.FreePorts(1)
	if err != nil {
		t.Fatal(err)
	}
	tlsAddr := "127.0.0.1:" + strconv.Itoa(ports[0])
	s := startServer(t, "", "--proxy-https-address", tlsAddr)
	t.Cleanup(s.stop)

	cert, certFile, keyFile := selfSignedFiles(t, host)
	roots := x509.NewCertPool()
	roots.AddCert(cert)

	s.mustApply(t, fmt.Sprintf(`apiVersion: tinyforge.dev/v1alpha1
kind: Workload
metadata: {name: tls-web, namespace: default}
spec:
  source:
    kind: image
    config:
      image: %s:v1
      ports: [{containerPort: 8080}]
  routes: [{port: 8080, host: %s, tls: {secretName: web-tls}}]
  healthCheck: {path: /healthz, interval: 200ms, timeout: 1s}
  strategy: {drainTimeout: 5s, progressDeadline: 40s}
`, tag, host))
	s.forgectl(t, "wait", "--for=condition=Ready", "wl/tls-web", "--timeout=120s")

	t.Run("without its Secret the route has no certificate and the workload says why", func(t *testing.T) {
		pollOutput(t, "the TLSSecretNotFound event", func() string {
			out, _, _ := s.tryForgectl(nil, "get", "events", "--field-selector", "involvedObject.name=tls-web")
			return out
		}, "TLSSecretNotFound")
		if _, _, _, err := httpsGet(tlsAddr, host, "/", roots); err == nil {
			t.Errorf("HTTPS for %s answered before its Secret existed", host)
		}
		// Plain HTTP is not affected.
		s.waitServes(t, host, "version=v1")
	})

	t.Run("a tls Secret created with forgectl is served by SNI", func(t *testing.T) {
		mustContain(t, "create secret", s.forgectl(t, "create", "secret", "tls", "web-tls", "--cert="+certFile, "--key="+keyFile), "web-tls")
		var code int
		var body string
		var peer *x509.Certificate
		var err error
		for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(100 * time.Millisecond) {
			code, body, peer, err = httpsGet(tlsAddr, host, "/", roots)
			if err == nil && code == http.StatusOK && strings.Contains(body, "version=v1") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("HTTPS for %s never answered from the container; last: %d %q %v\nevents:\n%s", host, code, body, err,
					s.forgectl(t, "get", "events", "--field-selector", "involvedObject.name=tls-web"))
			}
		}
		if peer == nil || !bytes.Equal(peer.Raw, cert.Raw) {
			t.Errorf("the handshake presented %v, want the Secret's certificate", peer)
		}
		// Another SNI name gets no certificate: there is no default one.
		if _, _, _, err := httpsGet(tlsAddr, "other.example.test", "/", roots); err == nil {
			t.Errorf("a host without a certificate completed a handshake")
		}
	})
}
