package apiserver

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// certValidity is how long generated certificates last; like k3s, a restart
// after expiry regenerates nothing by itself, so keep it long.
const certValidity = 10 * 365 * 24 * time.Hour

// etcdTLS names the files that secure the embedded etcd: only a client with
// the API server's certificate may talk to it.
type etcdTLS struct {
	CA, ServerCert, ServerKey, ClientCert, ClientKey string
}

// ensureEtcdPKI creates, once, a CA and the etcd server and client
// certificates under dir/tls/etcd, and reuses them afterwards.
func ensureEtcdPKI(dir string) (etcdTLS, error) {
	d := filepath.Join(dir, "tls", "etcd")
	t := etcdTLS{
		CA:         filepath.Join(d, "ca.crt"),
		ServerCert: filepath.Join(d, "server.crt"),
		ServerKey:  filepath.Join(d, "server.key"),
		ClientCert: filepath.Join(d, "client.crt"),
		ClientKey:  filepath.Join(d, "client.key"),
	}
	if allExist(t.CA, t.ServerCert, t.ServerKey, t.ClientCert, t.ClientKey) {
		return t, nil
	}
	if err := os.MkdirAll(d, 0o700); err != nil {
		return t, fmt.Errorf("creating %s: %w", d, err)
	}
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return t, err
	}
	caTmpl := template("tinyforge-etcd-ca")
	caTmpl.IsCA = true
	caTmpl.BasicConstraintsValid = true
	caTmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return t, fmt.Errorf("creating etcd CA: %w", err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		return t, err
	}
	issue := func(cn string, usage x509.ExtKeyUsage, certFile, keyFile string) error {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return err
		}
		tmpl := template(cn)
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{usage}
		if usage == x509.ExtKeyUsageServerAuth {
			tmpl.DNSNames = []string{"localhost"}
			tmpl.IPAddresses = []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("::1")}
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
		if err != nil {
			return fmt.Errorf("issuing %s certificate: %w", cn, err)
		}
		return writeKeyPair(certFile, keyFile, der, key)
	}
	if err := issue("tinyforge-etcd", x509.ExtKeyUsageServerAuth, t.ServerCert, t.ServerKey); err != nil {
		return t, err
	}
	if err := issue("tinyforge-apiserver", x509.ExtKeyUsageClientAuth, t.ClientCert, t.ClientKey); err != nil {
		return t, err
	}
	// The CA goes last: its presence marks the set complete.
	return t, writeFile(t.CA, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o644)
}

func template(cn string) *x509.Certificate {
	serial, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	now := time.Now()
	return &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: cn, Organization: []string{"tinyforge"}},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(certValidity),
	}
}

func writeKeyPair(certFile, keyFile string, der []byte, key *ecdsa.PrivateKey) error {
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return err
	}
	if err := writeFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return err
	}
	return writeFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
}

// writeFile writes atomically, so a crash never leaves half a key behind.
func writeFile(path string, data []byte, mode os.FileMode) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, mode); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

func allExist(paths ...string) bool {
	for _, p := range paths {
		if _, err := os.Stat(p); errors.Is(err, os.ErrNotExist) {
			return false
		}
	}
	return true
}
