package triggerbinding

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	tinyforgev1alpha1 "github.com/tinyforge/tinyforge/api/v1alpha1"
	"github.com/tinyforge/tinyforge/controllers/index"
	"github.com/tinyforge/tinyforge/internal/reconcile"
	"github.com/tinyforge/tinyforge/plugins"
)

// Reconciler reconciles TriggerBindings.
type Reconciler struct {
	Client client.Client
	// Triggers is the trigger registry; plugins.DefaultTriggers when nil.
	Triggers *plugins.Registry[plugins.Trigger]
}

// SetupWithManager registers the controller; bindings are reconciled again
// when their Trigger or Workload appears, changes or goes. The field
// indexes it lists by must be registered first (index.AddBindingIndexes).
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.Triggers == nil {
		r.Triggers = plugins.DefaultTriggers
	}
	return ctrl.NewControllerManagedBy(mgr).
		Named("triggerbinding").
		For(&tinyforgev1alpha1.TriggerBinding{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Watches(&tinyforgev1alpha1.Trigger{}, handler.EnqueueRequestsFromMapFunc(r.bindingsBy(index.BindingTrigger)),
			builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Watches(&tinyforgev1alpha1.Workload{}, handler.EnqueueRequestsFromMapFunc(r.bindingsBy(index.BindingWorkload)),
			builder.WithPredicates(createOrDelete{})).
		Complete(r)
}

// createOrDelete passes only creations and deletions: a binding cares
// whether its workload exists, not what it says.
type createOrDelete struct{ predicate.Funcs }

func (createOrDelete) Create(event.CreateEvent) bool { return true }
func (createOrDelete) Delete(event.DeleteEvent) bool { return true }

func (r *Reconciler) bindingsBy(field string) handler.MapFunc {
	return func(ctx context.Context, o client.Object) []ctrl.Request {
		var list tinyforgev1alpha1.TriggerBindingList
		if err := r.Client.List(ctx, &list, client.InNamespace(o.GetNamespace()), client.MatchingFields{field: o.GetName()}); err != nil {
			return nil
		}
		reqs := make([]ctrl.Request, 0, len(list.Items))
		for i := range list.Items {
			reqs = append(reqs, ctrl.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])})
		}
		return reqs
	}
}

// Reconcile resolves one binding's references and effective config.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (result ctrl.Result, retErr error) {
	b := &tinyforgev1alpha1.TriggerBinding{}
	if err := r.Client.Get(ctx, req.NamespacedName, b); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	ctx = ctrl.LoggerInto(ctx, ctrl.LoggerFrom(ctx).WithValues("triggerbinding", klog.KObj(b)))
	base := b.DeepCopy()
	defer func() {
		if err := r.Client.Status().Patch(ctx, b, client.MergeFrom(base)); err != nil && retErr == nil {
			retErr = client.IgnoreNotFound(err)
		}
	}()
	b.Status.ObservedGeneration = b.Generation
	out, err := r.resolve(ctx, b)
	return reconcile.Summarize(b, b.Generation, out, err)
}

// resolve sets ResolvedRefs and the effective config.
func (r *Reconciler) resolve(ctx context.Context, b *tinyforgev1alpha1.TriggerBinding) (reconcile.Outcome, error) {
	key := func(name string) client.ObjectKey { return client.ObjectKey{Namespace: b.Namespace, Name: name} }
	var t tinyforgev1alpha1.Trigger
	if err := r.Client.Get(ctx, key(b.Spec.TriggerRef.Name), &t); err != nil {
		return r.unresolved(b, err, tinyforgev1alpha1.TriggerBindingReasonTriggerNotFound, "Trigger", b.Spec.TriggerRef.Name)
	}
	var w tinyforgev1alpha1.Workload
	if err := r.Client.Get(ctx, key(b.Spec.WorkloadRef.Name), &w); err != nil {
		return r.unresolved(b, err, tinyforgev1alpha1.TriggerBindingReasonWorkloadNotFound, "Workload", b.Spec.WorkloadRef.Name)
	}
	setResolved(b, metav1.ConditionTrue, tinyforgev1alpha1.TriggerBindingReasonResolved,
		fmt.Sprintf("Trigger %s and Workload %s exist", t.Name, w.Name))

	merged, err := EffectiveConfig(&t, b)
	if err != nil {
		b.Status.EffectiveConfig = nil
		return reconcile.Outcome{}, reconcile.Stalling(tinyforgev1alpha1.ReasonInvalidConfig, "%v", err)
	}
	b.Status.EffectiveConfig = &runtime.RawExtension{Raw: merged}
	p, err := r.Triggers.Lookup(t.Spec.Kind)
	if err != nil {
		return reconcile.Outcome{}, reconcile.Stalling(tinyforgev1alpha1.ReasonUnknownKind, "%v", err)
	}
	if errs := p.Validate(field.NewPath("status", "effectiveConfig"), merged); len(errs) > 0 {
		return reconcile.Outcome{}, reconcile.Stalling(tinyforgev1alpha1.ReasonInvalidConfig, "the merged config is invalid: %v", errs.ToAggregate())
	}
	msg := fmt.Sprintf("Events of %s trigger %s can deploy workload %s", t.Spec.Kind, t.Name, w.Name)
	if b.Spec.Suspend {
		msg = "suspended: Events of trigger " + t.Name + " do not reach workload " + w.Name
	}
	return reconcile.Outcome{Ready: true, Reason: tinyforgev1alpha1.ReasonSucceeded, Message: msg}, nil
}

// unresolved records a missing reference. The watches bring the binding
// back when the object appears, so it is not requeued.
func (r *Reconciler) unresolved(b *tinyforgev1alpha1.TriggerBinding, err error, reason, kind, name string) (reconcile.Outcome, error) {
	if !apierrors.IsNotFound(err) {
		return reconcile.Outcome{}, fmt.Errorf("reading %s %s: %w", kind, name, err)
	}
	msg := fmt.Sprintf("%s %s does not exist in namespace %s", kind, name, b.Namespace)
	setResolved(b, metav1.ConditionFalse, reason, msg)
	b.Status.EffectiveConfig = nil
	return reconcile.Outcome{Reason: reason, Message: msg}, nil
}

func setResolved(b *tinyforgev1alpha1.TriggerBinding, status metav1.ConditionStatus, reason, msg string) {
	meta.SetStatusCondition(&b.Status.Conditions, metav1.Condition{
		Type: tinyforgev1alpha1.ConditionResolvedRefs, Status: status, Reason: reason, Message: msg, ObservedGeneration: b.Generation,
	})
}

// EffectiveConfig is the trigger's config with the binding's override
// merged over it, as a fresh copy: what Trigger.Match sees for this binding.
func EffectiveConfig(t *tinyforgev1alpha1.Trigger, b *tinyforgev1alpha1.TriggerBinding) ([]byte, error) {
	var base, override []byte
	if t.Spec.Config != nil {
		base = t.Spec.Config.Raw
	}
	if b.Spec.Config != nil {
		override = b.Spec.Config.Raw
	}
	merged, err := plugins.MergeConfig(base, override)
	if err != nil {
		return nil, fmt.Errorf("merging spec.config over trigger %s's config: %w", t.Name, err)
	}
	return merged, nil
}
