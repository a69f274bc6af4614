package trigger

import (
	"context"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/client-go/tools/record"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	tinyforgev1alpha1 "github.com/tinyforge/tinyforge/api/v1alpha1"
	"github.com/tinyforge/tinyforge/internal/reconcile"
	"github.com/tinyforge/tinyforge/plugins"
)

// Reconciler reconciles Triggers.
type Reconciler struct {
	Client client.Client
	// APIReader reads Secrets uncached: the manager caches only their
	// metadata.
	APIReader client.Reader
	Recorder  record.EventRecorder
	// Triggers is the trigger registry; plugins.DefaultTriggers when nil.
	Triggers *plugins.Registry[plugins.Trigger]
	// Now returns the current time; time.Now when nil. Tests move it.
	Now func() time.Time
}

// SetupWithManager registers the controller. It watches Secrets by
// metadata only, so token changes re-publish webhook paths without every
// Secret's data sitting in memory.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.Triggers == nil {
		r.Triggers = plugins.DefaultTriggers
	}
	if r.Now == nil {
		r.Now = time.Now
	}
	return ctrl.NewControllerManagedBy(mgr).
		Named("trigger").
		For(&tinyforgev1alpha1.Trigger{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Watches(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(r.triggersForSecret), builder.OnlyMetadata).
		Complete(r)
}

// triggersForSecret maps a Secret to the Triggers whose token it holds.
func (r *Reconciler) triggersForSecret(ctx context.Context, o client.Object) []ctrl.Request {
	var list tinyforgev1alpha1.TriggerList
	if err := r.Client.List(ctx, &list, client.InNamespace(o.GetNamespace())); err != nil {
		return nil
	}
	var reqs []ctrl.Request
	for i := range list.Items {
		t := &list.Items[i]
		if secretName(t) == o.GetName() {
			reqs = append(reqs, ctrl.Request{NamespacedName: client.ObjectKeyFromObject(t)})
		}
	}
	return reqs
}

// Reconcile publishes one Trigger's webhook path and runs its schedule.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (result ctrl.Result, retErr error) {
	t := &tinyforgev1alpha1.Trigger{}
	if err := r.Client.Get(ctx, req.NamespacedName, t); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	log := ctrl.LoggerFrom(ctx).WithValues("trigger", klog.KObj(t))
	ctx = ctrl.LoggerInto(ctx, log)

	base := t.DeepCopy()
	defer func() {
		if err := r.Client.Status().Patch(ctx, t, client.MergeFrom(base)); err != nil && retErr == nil {
			retErr = client.IgnoreNotFound(err)
		}
	}()
	t.Status.ObservedGeneration = t.Generation
	s := &scope{trigger: t}
	out, err := r.reconcilePhases(ctx, s)
	return reconcile.Summarize(t, t.Generation, out, err)
}

// scope carries what one step learns to the next.
type scope struct {
	trigger *tinyforgev1alpha1.Trigger
	plugin  plugins.Trigger
	config  []byte
	token   []byte
	// requeue is the soonest a step wants to run again; zero for never.
	requeue time.Duration
	// notes are the Ready message's parts.
	notes []string
}

func (r *Reconciler) reconcilePhases(ctx context.Context, s *scope) (reconcile.Outcome, error) {
	for _, phase := range []func(context.Context, *scope) error{
		r.resolvePlugin,
		r.ensureSecret,
		r.publishPath,
		r.schedule,
		r.poll,
	} {
		if err := phase(ctx, s); err != nil {
			return reconcile.Outcome{}, err
		}
	}
	return s.outcome(), nil
}

var specConfigPath = field.NewPath("spec", "config")
