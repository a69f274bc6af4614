package routetls

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	tinyforgev1alpha1 "github.com/tinyforge/tinyforge/api/v1alpha1"
	"github.com/tinyforge/tinyforge/controllers/workload"
)

// Reasons of the Events recorded on Workloads. Warnings repeat only when
// the problem changes; the Normal one marks a recovery.
const (
	// EventReasonSecretNotFound: a route names a Secret that does not exist.
	// The host's certificate from that Secret, if any, stops being served.
	EventReasonSecretNotFound = "TLSSecretNotFound"
	// EventReasonInvalidCertificate: the Secret lacks tls.crt or tls.key, or
	// they are not a key pair. The last good certificate keeps serving.
	EventReasonInvalidCertificate = "TLSInvalidCertificate"
	// EventReasonCertificateExpired: the certificate is served but has
	// expired, so clients refuse it.
	EventReasonCertificateExpired = "TLSCertificateExpired"
	// EventReasonHostMismatch: the certificate is served but does not name
	// the route's host, so clients refuse it.
	EventReasonHostMismatch = "TLSHostMismatch"
	// EventReasonCertificateLoaded: a host whose certificate had a problem
	// is served from its Secret again.
	EventReasonCertificateLoaded = "TLSCertificateLoaded"
)

// wantedHost is a host a Workload's routes want served with a Secret's
// certificate.
type wantedHost struct {
	host, secret string
}

// desiredHosts lists the hosts w's routes want TLS for, in route order. A
// route without a host has the workload's default host. When routes of one
// host name different Secrets, the first wins: SNI picks one certificate
// per host.
func desiredHosts(w *tinyforgev1alpha1.Workload) []wantedHost {
	var out []wantedHost
	seen := map[string]bool{}
	for _, rt := range w.Spec.Routes {
		if rt.TLS == nil || rt.TLS.SecretName == "" {
			continue
		}
		host := rt.Host
		if host == "" {
			host = workload.DefaultHost(w.Name, w.Namespace)
		}
		if seen[host] {
			continue
		}
		seen[host] = true
		out = append(out, wantedHost{host: host, secret: rt.TLS.SecretName})
	}
	return out
}

// namesSecret tells whether one of w's routes takes its certificate from the
// Secret name.
func namesSecret(w *tinyforgev1alpha1.Workload, name string) bool {
	for _, rt := range w.Spec.Routes {
		if rt.TLS != nil && rt.TLS.SecretName == name {
			return true
		}
	}
	return false
}

// hostCert is what one host of a Workload gets: a certificate and key to
// serve, a problem, or both (a certificate served despite a warning).
type hostCert struct {
	host   string
	secret types.NamespacedName
	// version identifies the Secret's content, so an unchanged Secret is not
	// loaded again.
	version   secretVersion
	cert, key []byte
	problem   *problem
}

// secretVersion identifies one version of one Secret.
type secretVersion struct {
	uid             types.UID
	resourceVersion string
}

// problem is why a host's certificate is not served as its route asks.
// Messages name the Secret and the host, never the key material.
type problem struct {
	// reason is the Event reason; empty records no Event (an API error that
	// a retry will likely fix).
	reason  string
	message string
	// gone means the Secret does not exist: its certificate stops being
	// served.
	gone bool
	// retry means the workload is retried with backoff.
	retry bool
}

// load reads the Secrets w's routes name and checks their key pairs.
func (r *Reconciler) load(ctx context.Context, w *tinyforgev1alpha1.Workload) []hostCert {
	type read struct {
		s   *corev1.Secret
		err error
	}
	reads := map[string]read{}
	var out []hostCert
	for _, want := range desiredHosts(w) {
		rd, ok := reads[want.secret]
		if !ok {
			s := &corev1.Secret{}
			err := r.APIReader.Get(ctx, client.ObjectKey{Namespace: w.Namespace, Name: want.secret}, s)
			rd = read{s: s, err: err}
			reads[want.secret] = rd
		}
		hc := hostCert{host: want.host, secret: types.NamespacedName{Namespace: w.Namespace, Name: want.secret}}
		switch {
		case apierrors.IsNotFound(rd.err):
			hc.problem = &problem{
				reason:  EventReasonSecretNotFound,
				message: fmt.Sprintf("Secret %q for the TLS certificate of host %s not found", want.secret, want.host),
				gone:    true, retry: true,
			}
		case rd.err != nil:
			hc.problem = &problem{message: fmt.Sprintf("reading Secret %q for host %s: %v", want.secret, want.host, rd.err), retry: true}
		default:
			hc.version = secretVersion{uid: rd.s.UID, resourceVersion: rd.s.ResourceVersion}
			hc.cert, hc.key, hc.problem = checkKeyPair(want.host, want.secret, rd.s.Data, time.Now())
		}
		out = append(out, hc)
	}
	return out
}

// checkKeyPair checks a Secret's tls.crt and tls.key as the proxy will load
// them for host. It returns them when they form a key pair, with a problem
// when clients will still refuse the certificate; otherwise only the
// problem. Messages never quote the data.
func checkKeyPair(host, secret string, data map[string][]byte, now time.Time) (certPEM, keyPEM []byte, p *problem) {
	invalid := func(format string, args ...any) *problem {
		return &problem{
			reason:  EventReasonInvalidCertificate,
			message: fmt.Sprintf("Secret %q for host %s: ", secret, host) + fmt.Sprintf(format, args...),
			retry:   true,
		}
	}
	certPEM, keyPEM = data[corev1.TLSCertKey], data[corev1.TLSPrivateKeyKey]
	switch {
	case len(certPEM) == 0 && len(keyPEM) == 0:
		return nil, nil, invalid("has no %s and no %s", corev1.TLSCertKey, corev1.TLSPrivateKeyKey)
	case len(certPEM) == 0:
		return nil, nil, invalid("has no %s", corev1.TLSCertKey)
	case len(keyPEM) == 0:
		return nil, nil, invalid("has no %s", corev1.TLSPrivateKeyKey)
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, nil, invalid("%s and %s are not a usable key pair: %v", corev1.TLSCertKey, corev1.TLSPrivateKeyKey, err)
	}
	leaf := pair.Leaf
	if leaf == nil {
		if leaf, err = x509.ParseCertificate(pair.Certificate[0]); err != nil {
			return nil, nil, invalid("%s: %v", corev1.TLSCertKey, err)
		}
	}
	switch {
	case now.After(leaf.NotAfter):
		p = &problem{
			reason:  EventReasonCertificateExpired,
			message: fmt.Sprintf("Secret %q for host %s: the certificate expired at %s; it is served, but clients refuse it", secret, host, leaf.NotAfter.UTC().Format(time.RFC3339)),
		}
	case leaf.VerifyHostname(host) != nil:
		p = &problem{
			reason: EventReasonHostMismatch,
			message: fmt.Sprintf("Secret %q: the certificate does not name host %s (it names %s); it is served, but clients refuse it",
				secret, host, certNames(leaf)),
		}
	}
	return certPEM, keyPEM, p
}

// certNames lists the names a certificate is valid for, for messages.
func certNames(c *x509.Certificate) string {
	names := append([]string(nil), c.DNSNames...)
	for _, ip := range c.IPAddresses {
		names = append(names, ip.String())
	}
	if len(names) == 0 {
		if c.Subject.CommonName == "" {
			return "no host"
		}
		return "only the common name " + c.Subject.CommonName + ", which clients ignore"
	}
	const most = 5
	if len(names) > most {
		return strings.Join(names[:most], ", ") + fmt.Sprintf(" and %d more", len(names)-most)
	}
	return strings.Join(names, ", ")
}
