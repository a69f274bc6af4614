package routetls

import (
	"encoding/base64"
	"encoding/pem"
	"strings"
	"testing"
	"time"

	"github.com/tinyforge/tinyforge/internal/testcert"
)

// keyTypes are the PEM block types a fuzzed key is wrapped in.
var keyTypes = []string{"PRIVATE KEY", "EC PRIVATE KEY", "RSA PRIVATE KEY", "CERTIFICATE", "NONSENSE"}

// FuzzCheckKeyPair feeds arbitrary Secret data to the key-pair check: it
// must not panic, must return data only with a usable pair, and must never
// quote the key.
func FuzzCheckKeyPair(f *testing.F) {
	cert, key := testcert.SelfSigned(f, "a.test")
	_, otherKey := testcert.SelfSigned(f, "a.test")
	der := func(p []byte) []byte {
		b, _ := pem.Decode(p)
		return b.Bytes
	}
	f.Add("a.test", cert, der(key), uint8(0))
	f.Add("b.test", cert, der(key), uint8(0))
	f.Add("a.test", cert, der(otherKey), uint8(0))
	f.Add("a.test", key, der(cert), uint8(3))
	f.Add("", []byte("garbage"), []byte("more garbage, long enough to matter"), uint8(4))
	f.Fuzz(func(t *testing.T, host string, certPEM, keyDER []byte, kind uint8) {
		keyPEM := pem.EncodeToMemory(&pem.Block{Type: keyTypes[int(kind)%len(keyTypes)], Bytes: keyDER})
		c, k, p := checkKeyPair(host, "s", map[string][]byte{"tls.crt": certPEM, "tls.key": keyPEM}, time.Now())
		if c != nil {
			if k == nil {
				t.Fatal("a certificate without its key")
			}
			if p != nil && (p.retry || p.gone) {
				t.Fatalf("a usable pair with a blocking problem %+v", p)
			}
		} else if p == nil || !p.retry || p.reason != EventReasonInvalidCertificate {
			t.Fatalf("no pair and problem %+v, want a retried %s", p, EventReasonInvalidCertificate)
		}
		if p == nil {
			return
		}
		if len(keyDER) >= 12 && strings.Contains(p.message, base64.StdEncoding.EncodeToString(keyDER)[:16]) {
			t.Fatalf("message %q quotes the key", p.message)
		}
		if strings.Contains(p.message, string(keyPEM)) {
			t.Fatalf("message %q quotes the key", p.message)
		}
	})
}
