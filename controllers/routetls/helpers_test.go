package routetls

import (
	"sync"
)

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
