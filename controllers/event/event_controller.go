package event

import (
	"context"
	"time"

	"k8s.io/client-go/tools/record"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	tinyforgev1alpha1 "github.com/tinyforge/tinyforge/api/v1alpha1"
	"github.com/tinyforge/tinyforge/plugins"
)

// Defaults of the Reconciler's tunables.
const (
	DefaultTTL              = 24 * time.Hour
	DefaultRetryWindow      = 10 * time.Minute
	DefaultMatchConcurrency = 8
	DefaultMatchTimeout     = time.Minute
	// DefaultMaxConcurrentReconciles is how many Events are handled at
	// once. Each dispatch waits on at least one API write; in the API
	// benchmark 8 clear a burst of deliveries sooner than 4, for slightly
	// fewer creates/s while the burst lasts.
	DefaultMaxConcurrentReconciles = 8
)

// Reconciler reconciles Events.
type Reconciler struct {
	Client client.Client
	// APIReader reads Secrets for plugins, uncached.
	APIReader client.Reader
	Recorder  record.EventRecorder
	// Triggers is the trigger registry; plugins.DefaultTriggers when nil.
	Triggers *plugins.Registry[plugins.Trigger]
	// TTL is how long an Event is kept after it was created.
	TTL time.Duration
	// RetryWindow is how long bindings whose Match failed are retried
	// before the Event is marked Failed for good.
	RetryWindow time.Duration
	// MatchConcurrency bounds concurrent Match calls of one Event.
	MatchConcurrency int
	// MatchTimeout bounds one Match call.
	MatchTimeout time.Duration
	// MaxConcurrentReconciles bounds Events handled at once.
	MaxConcurrentReconciles int
	// Now returns the current time; time.Now when nil.
	Now func() time.Time
}

// SetupWithManager registers the controller. The binding indexes must be
// registered first (index.AddBindingIndexes).
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.Triggers == nil {
		r.Triggers = plugins.DefaultTriggers
	}
	if r.TTL <= 0 {
		r.TTL = DefaultTTL
	}
	if r.RetryWindow <= 0 {
		r.RetryWindow = DefaultRetryWindow
	}
	if r.MatchConcurrency <= 0 {
		r.MatchConcurrency = DefaultMatchConcurrency
	}
	if r.MatchTimeout <= 0 {
		r.MatchTimeout = DefaultMatchTimeout
	}
	if r.MaxConcurrentReconciles <= 0 {
		r.MaxConcurrentReconciles = DefaultMaxConcurrentReconciles
	}
	if r.Now == nil {
		r.Now = time.Now
	}
	return ctrl.NewControllerManagedBy(mgr).
		Named("event").
		For(&tinyforgev1alpha1.Event{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		WithOptions(controller.Options{MaxConcurrentReconciles: r.MaxConcurrentReconciles}).
		Complete(r)
}

// Reconcile dispatches one Event, or deletes it once its TTL has passed.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	ev := &tinyforgev1alpha1.Event{}
	if err := r.Client.Get(ctx, req.NamespacedName, ev); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	ctx = ctrl.LoggerInto(ctx, ctrl.LoggerFrom(ctx).WithValues("event", klog.KObj(ev)))

	age := r.Now().Sub(ev.CreationTimestamp.Time)
	if age >= r.TTL {
		ctrl.LoggerFrom(ctx).V(1).Info("Deleting expired event", "age", age.Round(time.Second).String())
		return ctrl.Result{}, client.IgnoreNotFound(r.Client.Delete(ctx, ev, client.Preconditions{UID: &ev.UID}))
	}
	expire := ctrl.Result{RequeueAfter: r.TTL - age}
	if ev.Status.Phase.IsFinal() {
		return expire, nil
	}
	retry, err := r.dispatch(ctx, ev, age)
	if err != nil {
		return ctrl.Result{}, err
	}
	if retry > 0 && retry < expire.RequeueAfter {
		return ctrl.Result{RequeueAfter: retry}, nil
	}
	return expire, nil
}
