package routetls

import (
	"context"
	"errors"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/tools/record"
	"k8s.io/klog/v2"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/source"

	tinyforgev1alpha1 "github.com/tinyforge/tinyforge/api/v1alpha1"
)

// ErrNotLoaded is wrapped by the error Reconcile returns when a route's
// certificate could not be loaded, so the workload is retried with backoff.
var ErrNotLoaded = errors.New("route TLS certificates not loaded")

// Certificates is the proxy's certificate store, as *proxy.Server has it:
// one certificate per host, chosen by SNI.
type Certificates interface {
	// SetCertificate serves certPEM and keyPEM (a Secret's tls.crt and
	// tls.key) for host, replacing any certificate host had.
	SetCertificate(host string, certPEM, keyPEM []byte) error
	// RemoveCertificate stops serving host's certificate.
	RemoveCertificate(host string) error
}

// Reconciler loads the certificates of Workload routes into Certificates.
// It writes no Workload status: the workload controller owns it, and this
// controller runs on every replica, leader or not.
type Reconciler struct {
	Client client.Client
	// APIReader reads Secrets uncached: the manager caches only their
	// metadata.
	APIReader    client.Reader
	Certificates Certificates
	Recorder     record.EventRecorder
	// MaxConcurrentReconciles bounds workloads handled at once.
	MaxConcurrentReconciles int

	// Loaded is what this process loaded into Certificates. It outlives
	// the Reconciler when the caller keeps it: a controller manager started
	// again in the same process (after a lost Lease) must know what its
	// predecessor loaded, or a certificate let go of in between would stay
	// served. Nil starts empty.
	Loaded *Loaded
	// requeue enqueues workloads whose host another workload let go of.
	requeue chan event.GenericEvent
}

// SetupWithManager registers the controller. It watches Secrets by metadata
// only, so a Secret created or renewed later is loaded without every
// Secret's data sitting in memory. It does not need leader election: every
// replica runs its own proxy.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.Certificates == nil {
		return errors.New("route TLS controller: no certificate store")
	}
	if r.MaxConcurrentReconciles <= 0 {
		r.MaxConcurrentReconciles = 2
	}
	if r.Loaded == nil {
		r.Loaded = &Loaded{}
	}
	r.requeue = make(chan event.GenericEvent, 64)
	// Workloads a previous Reconciler loaded certificates for are looked at
	// again: one deleted meanwhile is in no list, and its certificates go
	// only when its reconcile finds it gone.
	if err := mgr.Add(revisit{r}); err != nil {
		return err
	}
	return ctrl.NewControllerManagedBy(mgr).
		Named("routetls").
		For(&tinyforgev1alpha1.Workload{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Watches(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(r.workloadsForSecret), builder.OnlyMetadata).
		WatchesRawSource(source.Channel(r.requeue, &handler.EnqueueRequestForObject{})).
		WithOptions(controller.Options{
			NeedLeaderElection:      ptr.To(false),
			MaxConcurrentReconciles: r.MaxConcurrentReconciles,
		}).
		Complete(r)
}

// revisit enqueues, once at start, every Workload the Loaded record holds.
type revisit struct{ r *Reconciler }

// NeedLeaderElection is false: every replica feeds its own proxy.
func (revisit) NeedLeaderElection() bool { return false }

func (v revisit) Start(ctx context.Context) error {
	for _, key := range v.r.Loaded.t.workloads() {
		w := &tinyforgev1alpha1.Workload{}
		w.Namespace, w.Name = key.Namespace, key.Name
		select {
		case v.r.requeue <- event.GenericEvent{Object: w}:
		case <-ctx.Done():
			return nil
		}
	}
	return nil
}

// workloadsForSecret maps a Secret to the Workloads in its namespace whose
// routes name it.
func (r *Reconciler) workloadsForSecret(ctx context.Context, o client.Object) []ctrl.Request {
	var list tinyforgev1alpha1.WorkloadList
	if err := r.Client.List(ctx, &list, client.InNamespace(o.GetNamespace())); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "Listing workloads for a Secret", "secret", klog.KObj(o))
		return nil
	}
	var reqs []ctrl.Request
	for i := range list.Items {
		if namesSecret(&list.Items[i], o.GetName()) {
			reqs = append(reqs, ctrl.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])})
		}
	}
	return reqs
}

// Reconcile loads the certificates one Workload's routes name and removes
// those of hosts it no longer wants.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	log := ctrl.LoggerFrom(ctx).WithValues("workload", req.NamespacedName)
	ctx = ctrl.LoggerInto(ctx, log)

	w := &tinyforgev1alpha1.Workload{}
	var wanted []hostCert
	switch err := r.Client.Get(ctx, req.NamespacedName, w); {
	case apierrors.IsNotFound(err):
		// Gone: every host it had is let go of below.
		w = nil
	case err != nil:
		return ctrl.Result{}, fmt.Errorf("reading workload: %w", err)
	default:
		wanted = r.load(ctx, w)
	}

	out := r.Loaded.t.sync(req.NamespacedName, wanted, r.Certificates)
	for _, h := range out.set {
		log.V(1).Info("Certificate loaded", "host", h.host, "secret", h.secret.Name)
	}
	for _, h := range out.removed {
		log.V(1).Info("Certificate removed", "host", h)
	}
	for _, k := range out.requeue {
		o := &tinyforgev1alpha1.Workload{}
		o.Namespace, o.Name = k.Namespace, k.Name
		select {
		case r.requeue <- event.GenericEvent{Object: o}:
		case <-ctx.Done():
			return ctrl.Result{}, ctx.Err()
		}
	}
	if w != nil {
		for _, n := range out.notices {
			r.notify(ctx, w, n)
		}
	}
	var failed []string
	for _, e := range out.errs {
		failed = append(failed, e.Error())
	}
	if len(failed) > 0 {
		return ctrl.Result{}, fmt.Errorf("%w: %s", ErrNotLoaded, strings.Join(failed, "; "))
	}
	return ctrl.Result{}, nil
}

// notify logs a notice and records it as an Event on the Workload.
func (r *Reconciler) notify(ctx context.Context, w *tinyforgev1alpha1.Workload, n notice) {
	log := ctrl.LoggerFrom(ctx)
	if n.warning {
		log.Info("Route certificate problem", "host", n.host, "secret", n.secret, "reason", n.reason, "message", n.message)
	} else {
		log.Info("Route certificate loaded", "host", n.host, "secret", n.secret)
	}
	if r.Recorder == nil {
		return
	}
	kind := corev1.EventTypeNormal
	if n.warning {
		kind = corev1.EventTypeWarning
	}
	r.Recorder.Event(w, kind, n.reason, n.message)
}
