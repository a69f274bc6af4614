package routetls

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"sync"
	"testing"
	"time"
)

// SelfSigned returns a PEM certificate for names, valid for an hour, and
// its key, as a kubernetes.io/tls Secret holds them.
func SelfSigned(t testing.TB, names ...string) (certPEM, keyPEM []byte) {
	t.Helper()
	return SelfSignedUntil(t, time.Now().Add(time.Hour), names...)
}

// SelfSignedUntil is SelfSigned with the certificate's end of validity.
func SelfSignedUntil(t testing.TB, notAfter time.Time, names ...string) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: names[0]},
		DNSNames:              names,
		NotBefore:             notAfter.Add(-2 * time.Hour),
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
}

// FakeCerts records what the controller asks of the proxy. Tests of this
// package and of package routetls_test (which drives the real controller
// manager) share it and the certificate helpers.
type FakeCerts struct {
	mu      sync.Mutex
	certs   map[string][]byte // host → certificate PEM served
	sets    map[string]int
	removes map[string]int
	// Fail makes SetCertificate fail for these hosts.
	Fail map[string]bool
}

// NewFakeCerts returns a FakeCerts serving nothing.
func NewFakeCerts() *FakeCerts {
	return &FakeCerts{certs: map[string][]byte{}, sets: map[string]int{}, removes: map[string]int{}, Fail: map[string]bool{}}
}

func (f *FakeCerts) SetCertificate(host string, certPEM, _ []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.Fail[host] {
		return errProxyRefused
	}
	f.certs[host] = append([]byte(nil), certPEM...)
	f.sets[host]++
	return nil
}

func (f *FakeCerts) RemoveCertificate(host string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.certs, host)
	f.removes[host]++
	return nil
}

// Served returns the certificate served for host, nil for none.
func (f *FakeCerts) Served(host string) []byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.certs[host]
}

// Counts returns how often host was set and removed.
func (f *FakeCerts) Counts(host string) (sets, removes int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.sets[host], f.removes[host]
}

type proxyError string

func (e proxyError) Error() string { return string(e) }

const errProxyRefused = proxyError("certificate host: invalid route")
