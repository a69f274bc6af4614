package proxy

import (
	"crypto/tls"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
)

// ErrNoCertificate is wrapped by the TLS handshake error when neither the
// SNI host nor a wildcard for it has a certificate and there is no default
// one.
var ErrNoCertificate = errors.New("no certificate for host")

// certStore holds a certificate per host, chosen by SNI during handshakes.
// The empty host holds the default certificate, for hosts without their own
// and clients that send no SNI.
type certStore struct {
	log logr.Logger

	mu    sync.RWMutex
	certs map[string]*tls.Certificate
}

func newCertStore(log logr.Logger) *certStore {
	return &certStore{log: log, certs: make(map[string]*tls.Certificate)}
}

// SetCertificate serves certPEM (the chain, leaf first) and keyPEM for host
// over HTTPS, replacing any certificate host had; handshakes that started
// before keep the old one. These are the tls.crt and tls.key of a Kubernetes
// Secret of type kubernetes.io/tls. host may be a wildcard such as
// *.example.com, which serves hosts one label under example.com that have no
// certificate of their own, or empty for the default certificate.
func (s *Server) SetCertificate(host string, certPEM, keyPEM []byte) error {
	return s.certs.set(host, certPEM, keyPEM)
}

// RemoveCertificate stops serving host's certificate; the host then gets a
// wildcard or the default certificate, if any. Removing a certificate that
// is not set succeeds.
func (s *Server) RemoveCertificate(host string) error {
	return s.certs.remove(host)
}

func (c *certStore) set(host string, certPEM, keyPEM []byte) error {
	key, err := certKey(host)
	if err != nil {
		return err
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return fmt.Errorf("certificate for host %q: %w", host, err)
	}
	if leaf := cert.Leaf; leaf != nil {
		// Worth a warning but not a refusal: a certificate about to be
		// renewed, or one for a name the user tests with, still serves.
		if time.Now().After(leaf.NotAfter) {
			c.log.Info("Certificate has expired", "host", key, "notAfter", leaf.NotAfter)
		}
		probe := key
		if parent, ok := strings.CutPrefix(key, "*."); ok {
			probe = "any." + parent
		}
		if key != "" && leaf.VerifyHostname(probe) != nil {
			c.log.Info("Certificate does not name its host", "host", key, "dnsNames", leaf.DNSNames)
		}
	}
	c.mu.Lock()
	c.certs[key] = &cert
	c.mu.Unlock()
	c.log.V(1).Info("Certificate set", "host", key)
	return nil
}

func (c *certStore) remove(host string) error {
	key, err := certKey(host)
	if err != nil {
		return err
	}
	c.mu.Lock()
	delete(c.certs, key)
	c.mu.Unlock()
	return nil
}

// certKey checks a certificate's host as a route host, allowing one leading
// wildcard label.
func certKey(host string) (string, error) {
	rest, wildcard := strings.CutPrefix(host, "*.")
	key, err := normalizeKeyHost(rest)
	if err != nil {
		return "", fmt.Errorf("certificate host: %w", err)
	}
	if wildcard {
		if key == "" {
			return "", fmt.Errorf("certificate host %q: wildcard of nothing: %w", host, ErrInvalidRoute)
		}
		key = "*." + key
	}
	return key, nil
}

// getCertificate is tls.Config.GetCertificate.
func (c *certStore) getCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	name := normalizeHost(hello.ServerName)
	c.mu.RLock()
	defer c.mu.RUnlock()
	if name != "" {
		if cert, ok := c.certs[name]; ok {
			return cert, nil
		}
		if _, parent, ok := strings.Cut(name, "."); ok {
			if cert, ok := c.certs["*."+parent]; ok {
				return cert, nil
			}
		}
	}
	if cert, ok := c.certs[""]; ok {
		return cert, nil
	}
	return nil, fmt.Errorf("%w %q", ErrNoCertificate, name)
}
