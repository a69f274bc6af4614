package routetls

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	tinyforgev1alpha1 "github.com/tinyforge/tinyforge/api/v1alpha1"
	"github.com/tinyforge/tinyforge/internal/testcert"
)

type routeOpt func(*tinyforgev1alpha1.Route)

func withHost(h string) routeOpt { return func(r *tinyforgev1alpha1.Route) { r.Host = h } }
func withPath(p string) routeOpt { return func(r *tinyforgev1alpha1.Route) { r.PathPrefix = p } }
func withTLS(secret string) routeOpt {
	return func(r *tinyforgev1alpha1.Route) { r.TLS = &tinyforgev1alpha1.RouteTLS{SecretName: secret} }
}

func route(opts ...routeOpt) tinyforgev1alpha1.Route {
	r := tinyforgev1alpha1.Route{Port: 8080}
	for _, o := range opts {
		o(&r)
	}
	return r
}

func newWorkload(name string, routes ...tinyforgev1alpha1.Route) *tinyforgev1alpha1.Workload {
	return &tinyforgev1alpha1.Workload{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "team"},
		Spec:       tinyforgev1alpha1.WorkloadSpec{Routes: routes},
	}
}

func TestDesiredHosts(t *testing.T) {
	tests := []struct {
		name string
		w    *tinyforgev1alpha1.Workload
		want []wantedHost
	}{
		{name: "no routes", w: newWorkload("web")},
		{name: "routes without tls", w: newWorkload("web", route(withHost("a.test")), route())},
		{name: "tls without a secret uses the default certificate", w: newWorkload("web", route(withHost("a.test"), func(r *tinyforgev1alpha1.Route) {
			r.TLS = &tinyforgev1alpha1.RouteTLS{}
		}))},
		{
			name: "a route without a host has the default host",
			w:    newWorkload("web", route(withTLS("web-tls"))),
			want: []wantedHost{{host: "web.team.localhost", secret: "web-tls"}},
		},
		{
			name: "route order, one entry per host, the first secret wins",
			w: newWorkload("web",
				route(withHost("b.test"), withTLS("b-tls")),
				route(withHost("a.test"), withTLS("a-tls")),
				route(withHost("b.test"), withPath("/api"), withTLS("other-tls")),
				route(withHost("c.test")),
			),
			want: []wantedHost{{host: "b.test", secret: "b-tls"}, {host: "a.test", secret: "a-tls"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := desiredHosts(tt.w); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("desiredHosts = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestNamesSecret(t *testing.T) {
	w := newWorkload("web", route(withHost("a.test")), route(withHost("b.test"), withTLS("b-tls")))
	tests := []struct {
		name, secret string
		want         bool
	}{
		{name: "named", secret: "b-tls", want: true},
		{name: "not named", secret: "a-tls"},
		{name: "empty", secret: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := namesSecret(w, tt.secret); got != tt.want {
				t.Errorf("namesSecret(%q) = %v, want %v", tt.secret, got, tt.want)
			}
		})
	}
}

func TestCheckKeyPair(t *testing.T) {
	now := time.Now()
	cert, key := testcert.SelfSigned(t, "a.test", "www.a.test")
	otherCert, otherKey := testcert.SelfSigned(t, "a.test")
	expired, expiredKey := testcert.SelfSignedUntil(t, now.Add(-time.Minute), "a.test")
	tests := []struct {
		name       string
		host       string
		data       map[string][]byte
		wantLoaded bool
		wantReason string
		wantRetry  bool
		wantInMsg  []string
	}{
		{name: "a good pair", host: "a.test", data: map[string][]byte{"tls.crt": cert, "tls.key": key}, wantLoaded: true},
		{name: "a second name of the certificate", host: "www.a.test", data: map[string][]byte{"tls.crt": cert, "tls.key": key}, wantLoaded: true},
		{
			name: "no data", host: "a.test", data: nil,
			wantReason: EventReasonInvalidCertificate, wantRetry: true, wantInMsg: []string{`Secret "s"`, "a.test", "has no tls.crt and no tls.key"},
		},
		{
			name: "no key", host: "a.test", data: map[string][]byte{"tls.crt": cert},
			wantReason: EventReasonInvalidCertificate, wantRetry: true, wantInMsg: []string{"has no tls.key"},
		},
		{
			name: "no certificate", host: "a.test", data: map[string][]byte{"tls.key": key},
			wantReason: EventReasonInvalidCertificate, wantRetry: true, wantInMsg: []string{"has no tls.crt"},
		},
		{
			name: "the key of another certificate", host: "a.test", data: map[string][]byte{"tls.crt": cert, "tls.key": otherKey},
			wantReason: EventReasonInvalidCertificate, wantRetry: true, wantInMsg: []string{"not a usable key pair", "does not match"},
		},
		{
			name: "swapped", host: "a.test", data: map[string][]byte{"tls.crt": otherKey, "tls.key": otherCert},
			wantReason: EventReasonInvalidCertificate, wantRetry: true, wantInMsg: []string{"not a usable key pair"},
		},
		{
			name: "garbage", host: "a.test", data: map[string][]byte{"tls.crt": []byte("hello"), "tls.key": []byte("secret-value-123")},
			wantReason: EventReasonInvalidCertificate, wantRetry: true, wantInMsg: []string{"not a usable key pair"},
		},
		{
			name: "expired is served with a warning", host: "a.test", data: map[string][]byte{"tls.crt": expired, "tls.key": expiredKey},
			wantLoaded: true, wantReason: EventReasonCertificateExpired, wantInMsg: []string{"expired at", "clients refuse it"},
		},
		{
			name: "another host is served with a warning", host: "b.test", data: map[string][]byte{"tls.crt": cert, "tls.key": key},
			wantLoaded: true, wantReason: EventReasonHostMismatch, wantInMsg: []string{"does not name host b.test", "a.test, www.a.test"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, k, p := checkKeyPair(tt.host, "s", tt.data, now)
			if loaded := c != nil && k != nil; loaded != tt.wantLoaded {
				t.Fatalf("loaded = %v, want %v (problem %+v)", loaded, tt.wantLoaded, p)
			}
			if tt.wantLoaded && (!bytes.Equal(c, tt.data["tls.crt"]) || !bytes.Equal(k, tt.data["tls.key"])) {
				t.Errorf("the returned pair is not the Secret's")
			}
			if tt.wantReason == "" {
				if p != nil {
					t.Fatalf("problem %+v, want none", p)
				}
				return
			}
			if p == nil {
				t.Fatalf("no problem, want %s", tt.wantReason)
			}
			if p.reason != tt.wantReason || p.retry != tt.wantRetry || p.gone {
				t.Errorf("problem %+v, want reason %s retry %v", p, tt.wantReason, tt.wantRetry)
			}
			for _, w := range tt.wantInMsg {
				if !strings.Contains(p.message, w) {
					t.Errorf("message %q lacks %q", p.message, w)
				}
			}
			for _, v := range tt.data {
				if len(v) > 0 && strings.Contains(p.message, string(v)) {
					t.Errorf("message %q quotes the Secret's data", p.message)
				}
			}
			if strings.Contains(p.message, "PRIVATE KEY-----") || strings.Contains(p.message, "BEGIN") {
				t.Errorf("message %q quotes PEM", p.message)
			}
		})
	}
}

func TestCertNames(t *testing.T) {
	cert, key := testcert.SelfSigned(t, "a.test", "b.test", "c.test", "d.test", "e.test", "f.test", "g.test")
	_, _, p := checkKeyPair("x.test", "s", map[string][]byte{corev1.TLSCertKey: cert, corev1.TLSPrivateKeyKey: key}, time.Now())
	if p == nil || !strings.Contains(p.message, "a.test, b.test, c.test, d.test, e.test and 2 more") {
		t.Errorf("problem %+v, want the first five names and a count", p)
	}
}
