package routetls

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"

	"k8s.io/apimachinery/pkg/types"
)

// Loaded is what one process loaded into its proxy's certificate store,
// kept across the Reconcilers that feed that store. The zero value is
// empty and ready to use.
type Loaded struct {
	t tracker
}

// workloads lists the Workloads that want some host, sorted.
func (t *tracker) workloads() []types.NamespacedName {
	t.mu.Lock()
	defer t.mu.Unlock()
	keys := slices.Collect(maps.Keys(t.wants))
	slices.SortFunc(keys, func(a, b types.NamespacedName) int { return cmp.Compare(a.String(), b.String()) })
	return keys
}

// tracker remembers what this process loaded into its proxy: which hosts
// each Workload wants and from which Secret, and which Secret's certificate
// the proxy holds for each host. Several Workloads may share a host (each
// with its own path), and SNI picks one certificate per host, so a host's
// certificate goes only when no Workload wants it any more.
type tracker struct {
	mu sync.Mutex
	// wants holds, per Workload, its TLS hosts and the Secret of each.
	wants map[types.NamespacedName]map[string]types.NamespacedName
	// served holds, per host, the Secret version the proxy serves.
	served map[string]servedCert
	// warned holds, per Workload and host, the last problem recorded, so a
	// retry meeting the same problem records no new Event.
	warned map[types.NamespacedName]map[string]string
}

// servedCert is the Secret version whose certificate a host is served with.
type servedCert struct {
	secret  types.NamespacedName
	version secretVersion
}

// syncResult is what one sync did and what the caller still has to do.
type syncResult struct {
	set     []hostCert
	removed []string
	// requeue lists Workloads that want a host whose certificate was just
	// removed, so they load theirs.
	requeue []types.NamespacedName
	// notices are Events to record on the Workload.
	notices []notice
	// errs are why some host is not served as asked; the Workload is
	// retried.
	errs []error
}

// notice is an Event to record on a Workload.
type notice struct {
	warning                       bool
	host, secret, reason, message string
}

// sync makes certs serve what Workload w wants now, given the loaded
// certificates of its hosts (none when w is gone), and lets go of the hosts
// it wanted before and no longer does.
func (t *tracker) sync(w types.NamespacedName, wanted []hostCert, certs Certificates) syncResult {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.wants == nil {
		t.wants = map[types.NamespacedName]map[string]types.NamespacedName{}
		t.served = map[string]servedCert{}
		t.warned = map[types.NamespacedName]map[string]string{}
	}
	var out syncResult
	old := t.wants[w]
	now := make(map[string]types.NamespacedName, len(wanted))
	for _, hc := range wanted {
		now[hc.host] = hc.secret
	}
	if len(now) == 0 {
		delete(t.wants, w)
	} else {
		t.wants[w] = now
	}
	for _, host := range slices.Sorted(maps.Keys(old)) {
		if _, ok := now[host]; !ok {
			t.release(host, old[host], true, certs, &out)
			delete(t.warned[w], host)
		}
	}
	for _, hc := range wanted {
		p := hc.problem
		switch {
		case hc.cert != nil:
			if err := t.serve(hc, certs); err != nil {
				p = &problem{reason: EventReasonInvalidCertificate, message: err.Error(), retry: true}
			} else {
				out.set = append(out.set, hc)
			}
		case p != nil && p.gone:
			t.release(hc.host, hc.secret, false, certs, &out)
		}
		if p != nil && p.retry {
			out.errs = append(out.errs, fmt.Errorf("host %s: %s", hc.host, p.message))
		}
		t.note(w, hc, p, &out)
	}
	if len(t.warned[w]) == 0 {
		delete(t.warned, w)
	}
	return out
}

// serve loads hc's certificate unless the proxy already serves that version
// of that Secret for the host.
func (t *tracker) serve(hc hostCert, certs Certificates) error {
	want := servedCert{secret: hc.secret, version: hc.version}
	if cur, ok := t.served[hc.host]; ok && cur == want {
		return nil
	}
	if err := certs.SetCertificate(hc.host, hc.cert, hc.key); err != nil {
		// The proxy's own check failed: say which, never with the data.
		return fmt.Errorf("the proxy refused the certificate of Secret %q for host %s: %w", hc.secret.Name, hc.host, err)
	}
	t.served[hc.host] = want
	return nil
}

// release stops serving host with secret's certificate. With shared, a
// Workload that still wants host from the same Secret keeps it served
// (a route moved, the Secret is still there); without, it goes anyway (the
// Secret is gone). Workloads that want host from another Secret are
// requeued to load theirs.
func (t *tracker) release(host string, secret types.NamespacedName, shared bool, certs Certificates, out *syncResult) {
	cur, ok := t.served[host]
	if !ok || cur.secret != secret {
		return
	}
	var others []types.NamespacedName
	for w, hosts := range t.wants {
		s, ok := hosts[host]
		if !ok {
			continue
		}
		if s == secret {
			if shared {
				return
			}
			continue
		}
		others = append(others, w)
	}
	delete(t.served, host)
	if err := certs.RemoveCertificate(host); err != nil {
		out.errs = append(out.errs, fmt.Errorf("removing the certificate of host %s: %w", host, err))
	} else {
		out.removed = append(out.removed, host)
	}
	slices.SortFunc(others, func(a, b types.NamespacedName) int {
		return cmp.Or(strings.Compare(a.Namespace, b.Namespace), strings.Compare(a.Name, b.Name))
	})
	out.requeue = append(out.requeue, others...)
}

// note turns a host's problem, or its recovery from one, into a notice,
// once per change.
func (t *tracker) note(w types.NamespacedName, hc hostCert, p *problem, out *syncResult) {
	if p != nil && p.reason == "" {
		// An API error: neither a new problem nor a recovery.
		return
	}
	last := t.warned[w][hc.host]
	switch {
	case p != nil && p.message != last:
		if t.warned[w] == nil {
			t.warned[w] = map[string]string{}
		}
		t.warned[w][hc.host] = p.message
		out.notices = append(out.notices, notice{warning: true, host: hc.host, secret: hc.secret.Name, reason: p.reason, message: p.message})
	case p == nil && last != "":
		delete(t.warned[w], hc.host)
		out.notices = append(out.notices, notice{
			host: hc.host, secret: hc.secret.Name, reason: EventReasonCertificateLoaded,
			message: fmt.Sprintf("Serving the certificate of Secret %q for host %s", hc.secret.Name, hc.host),
		})
	}
}
