package routetls

import (
	"fmt"
	"reflect"
	"testing"

	"k8s.io/apimachinery/pkg/types"
)

var (
	wlA = types.NamespacedName{Namespace: "team", Name: "a"}
	wlB = types.NamespacedName{Namespace: "team", Name: "b"}
)

// loaded is a host's good certificate from secret at version rv; the PEM
// is "secret@rv", so the fake shows which version it serves.
func loaded(host, secret, rv string) hostCert {
	return hostCert{
		host: host, secret: types.NamespacedName{Namespace: "team", Name: secret},
		version: secretVersion{uid: types.UID(secret), resourceVersion: rv},
		cert:    []byte(secret + "@" + rv), key: []byte("key"),
	}
}

func failed(host, secret string, p problem) hostCert {
	return hostCert{host: host, secret: types.NamespacedName{Namespace: "team", Name: secret}, problem: &p}
}

var (
	notFound = problem{reason: EventReasonSecretNotFound, message: "Secret not found", gone: true, retry: true}
	badPair  = problem{reason: EventReasonInvalidCertificate, message: "not a usable key pair", retry: true}
	apiError = problem{message: "reading Secret: connection refused", retry: true}
	mismatch = problem{reason: EventReasonHostMismatch, message: "does not name host"}
)

// step is one sync and what it must leave.
type step struct {
	w      types.NamespacedName
	wanted []hostCert
	// served is every host the fake serves afterwards, with its PEM.
	served      map[string]string
	requeue     []types.NamespacedName
	reasons     []string // reasons of the notices, in order
	errs        int
	setCalls    map[string]int // cumulative SetCertificate calls per host, when checked
	removeCalls map[string]int // cumulative RemoveCertificate calls per host, when checked
}

func TestTrackerSync(t *testing.T) {
	withWarning := func(hc hostCert, p problem) hostCert { hc.problem = &p; return hc }
	tests := []struct {
		name  string
		fail  []string // hosts the proxy refuses
		steps []step
	}{
		{
			name: "set once, again only for a new version",
			steps: []step{
				{w: wlA, wanted: []hostCert{loaded("a.test", "s", "1"), loaded("b.test", "s", "1")}, served: map[string]string{"a.test": "s@1", "b.test": "s@1"}},
				{w: wlA, wanted: []hostCert{loaded("a.test", "s", "1"), loaded("b.test", "s", "1")}, served: map[string]string{"a.test": "s@1", "b.test": "s@1"}, setCalls: map[string]int{"a.test": 1}},
				{w: wlA, wanted: []hostCert{loaded("a.test", "s", "2"), loaded("b.test", "s", "2")}, served: map[string]string{"a.test": "s@2", "b.test": "s@2"}, setCalls: map[string]int{"a.test": 2}},
			},
		},
		{
			name: "a host no longer wanted is removed, then all when the workload is gone",
			steps: []step{
				{w: wlA, wanted: []hostCert{loaded("a.test", "s", "1"), loaded("b.test", "t", "1")}, served: map[string]string{"a.test": "s@1", "b.test": "t@1"}},
				{w: wlA, wanted: []hostCert{loaded("b.test", "t", "1")}, served: map[string]string{"b.test": "t@1"}, removeCalls: map[string]int{"a.test": 1}},
				{w: wlA, served: map[string]string{}, removeCalls: map[string]int{"a.test": 1, "b.test": 1}},
				{w: wlA, served: map[string]string{}, removeCalls: map[string]int{"a.test": 1, "b.test": 1}},
			},
		},
		{
			name: "a host shared from one Secret stays until the last workload lets go",
			steps: []step{
				{w: wlA, wanted: []hostCert{loaded("h.test", "s", "1")}, served: map[string]string{"h.test": "s@1"}},
				{w: wlB, wanted: []hostCert{loaded("h.test", "s", "1")}, served: map[string]string{"h.test": "s@1"}, setCalls: map[string]int{"h.test": 1}},
				{w: wlA, served: map[string]string{"h.test": "s@1"}, removeCalls: map[string]int{"h.test": 0}},
				{w: wlB, served: map[string]string{}, removeCalls: map[string]int{"h.test": 1}},
			},
		},
		{
			name: "a host shared from two Secrets passes to the workload left, which is requeued",
			steps: []step{
				{w: wlA, wanted: []hostCert{loaded("h.test", "s1", "1")}, served: map[string]string{"h.test": "s1@1"}},
				{w: wlB, wanted: []hostCert{loaded("h.test", "s2", "1")}, served: map[string]string{"h.test": "s2@1"}},
				{w: wlB, served: map[string]string{}, requeue: []types.NamespacedName{wlA}},
				{w: wlA, wanted: []hostCert{loaded("h.test", "s1", "1")}, served: map[string]string{"h.test": "s1@1"}},
			},
		},
		{
			name: "a workload leaving a host another's Secret serves removes nothing",
			steps: []step{
				{w: wlA, wanted: []hostCert{loaded("h.test", "s1", "1")}, served: map[string]string{"h.test": "s1@1"}},
				{w: wlB, wanted: []hostCert{loaded("h.test", "s2", "1")}, served: map[string]string{"h.test": "s2@1"}},
				{w: wlA, served: map[string]string{"h.test": "s2@1"}, removeCalls: map[string]int{"h.test": 0}},
			},
		},
		{
			name: "a Secret gone stops serving, warns once, recovers with a Normal notice",
			steps: []step{
				{w: wlA, wanted: []hostCert{loaded("a.test", "s", "1")}, served: map[string]string{"a.test": "s@1"}},
				{w: wlA, wanted: []hostCert{failed("a.test", "s", notFound)}, served: map[string]string{}, reasons: []string{EventReasonSecretNotFound}, errs: 1},
				{w: wlA, wanted: []hostCert{failed("a.test", "s", notFound)}, served: map[string]string{}, errs: 1, removeCalls: map[string]int{"a.test": 1}},
				{w: wlA, wanted: []hostCert{loaded("a.test", "s", "3")}, served: map[string]string{"a.test": "s@3"}, reasons: []string{EventReasonCertificateLoaded}},
				{w: wlA, wanted: []hostCert{loaded("a.test", "s", "3")}, served: map[string]string{"a.test": "s@3"}},
			},
		},
		{
			name: "a Secret gone hands a shared host to the other Secret's workload",
			steps: []step{
				{w: wlB, wanted: []hostCert{loaded("h.test", "s2", "1")}, served: map[string]string{"h.test": "s2@1"}},
				{w: wlA, wanted: []hostCert{loaded("h.test", "s1", "1")}, served: map[string]string{"h.test": "s1@1"}},
				{w: wlA, wanted: []hostCert{failed("h.test", "s1", notFound)}, served: map[string]string{}, requeue: []types.NamespacedName{wlB}, reasons: []string{EventReasonSecretNotFound}, errs: 1},
				{w: wlB, wanted: []hostCert{loaded("h.test", "s2", "1")}, served: map[string]string{"h.test": "s2@1"}},
			},
		},
		{
			name: "a bad key pair keeps the last good certificate",
			steps: []step{
				{w: wlA, wanted: []hostCert{loaded("a.test", "s", "1")}, served: map[string]string{"a.test": "s@1"}},
				{w: wlA, wanted: []hostCert{failed("a.test", "s", badPair)}, served: map[string]string{"a.test": "s@1"}, reasons: []string{EventReasonInvalidCertificate}, errs: 1},
				{w: wlA, wanted: []hostCert{failed("a.test", "s", notFound)}, served: map[string]string{}, reasons: []string{EventReasonSecretNotFound}, errs: 1},
			},
		},
		{
			name: "an API error keeps serving and notices nothing",
			steps: []step{
				{w: wlA, wanted: []hostCert{loaded("a.test", "s", "1")}, served: map[string]string{"a.test": "s@1"}},
				{w: wlA, wanted: []hostCert{failed("a.test", "s", apiError)}, served: map[string]string{"a.test": "s@1"}, errs: 1},
				{w: wlA, wanted: []hostCert{loaded("a.test", "s", "1")}, served: map[string]string{"a.test": "s@1"}, setCalls: map[string]int{"a.test": 1}},
			},
		},
		{
			name: "a warning is served, noticed once, and recovers",
			steps: []step{
				{w: wlA, wanted: []hostCert{withWarning(loaded("a.test", "s", "1"), mismatch)}, served: map[string]string{"a.test": "s@1"}, reasons: []string{EventReasonHostMismatch}},
				{w: wlA, wanted: []hostCert{withWarning(loaded("a.test", "s", "1"), mismatch)}, served: map[string]string{"a.test": "s@1"}},
				{w: wlA, wanted: []hostCert{loaded("a.test", "s", "2")}, served: map[string]string{"a.test": "s@2"}, reasons: []string{EventReasonCertificateLoaded}},
			},
		},
		{
			name: "the proxy refusing a certificate is a retried warning",
			fail: []string{"a.test"},
			steps: []step{
				{w: wlA, wanted: []hostCert{loaded("a.test", "s", "1"), loaded("b.test", "s", "1")}, served: map[string]string{"b.test": "s@1"}, reasons: []string{EventReasonInvalidCertificate}, errs: 1},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var tr tracker
			certs := NewFakeCerts()
			for _, h := range tt.fail {
				certs.Fail[h] = true
			}
			for i, st := range tt.steps {
				out := tr.sync(st.w, st.wanted, certs)
				where := fmt.Sprintf("step %d (%s)", i, st.w.Name)
				served := map[string]string{}
				certs.mu.Lock()
				for h, c := range certs.certs {
					served[h] = string(c)
				}
				certs.mu.Unlock()
				if !reflect.DeepEqual(served, st.served) {
					t.Errorf("%s: served %v, want %v", where, served, st.served)
				}
				if !reflect.DeepEqual(out.requeue, st.requeue) {
					t.Errorf("%s: requeue %v, want %v", where, out.requeue, st.requeue)
				}
				var reasons []string
				for _, n := range out.notices {
					reasons = append(reasons, n.reason)
					if n.warning != (n.reason != EventReasonCertificateLoaded) {
						t.Errorf("%s: notice %+v has the wrong type", where, n)
					}
				}
				if !reflect.DeepEqual(reasons, st.reasons) {
					t.Errorf("%s: notices %v, want %v", where, reasons, st.reasons)
				}
				if len(out.errs) != st.errs {
					t.Errorf("%s: errors %v, want %d", where, out.errs, st.errs)
				}
				for h, n := range st.setCalls {
					if got, _ := certs.Counts(h); got != n {
						t.Errorf("%s: %d SetCertificate calls for %s, want %d", where, got, h, n)
					}
				}
				for h, n := range st.removeCalls {
					if _, got := certs.Counts(h); got != n {
						t.Errorf("%s: %d RemoveCertificate calls for %s, want %d", where, got, h, n)
					}
				}
			}
			// Every workload gone leaves no state behind.
			for _, w := range []types.NamespacedName{wlA, wlB} {
				tr.sync(w, nil, certs)
			}
			if len(tr.wants) != 0 || len(tr.served) != 0 || len(tr.warned) != 0 {
				t.Errorf("state left after every workload went: wants %v served %v warned %v", tr.wants, tr.served, tr.warned)
			}
		})
	}
}
