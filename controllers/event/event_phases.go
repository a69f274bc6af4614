package event

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation/field"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	tinyforgev1alpha1 "github.com/tinyforge/tinyforge/api/v1alpha1"
	"github.com/tinyforge/tinyforge/controllers/index"
	"github.com/tinyforge/tinyforge/controllers/triggerbinding"
	"github.com/tinyforge/tinyforge/controllers/workload"
	"github.com/tinyforge/tinyforge/internal/inbound"
	"github.com/tinyforge/tinyforge/plugins"
)

// LabelEvent names the Event a Rollout was created for.
const LabelEvent = "tinyforge.dev/event"

// retryAfter is how soon bindings whose Match failed are tried again.
const retryAfter = 10 * time.Second

// dispatch runs Match for every enabled binding of ev's Trigger that has
// no final outcome yet, creates a Rollout per match and records the
// outcomes. It returns how soon to try the failed ones again.
func (r *Reconciler) dispatch(ctx context.Context, ev *tinyforgev1alpha1.Event, age time.Duration) (time.Duration, error) {
	base := ev.DeepCopy()
	ev.Status.ObservedGeneration = ev.Generation
	retry, err := r.fanOut(ctx, ev, age)
	if err != nil {
		return 0, err
	}
	if err := r.Client.Status().Patch(ctx, ev, client.MergeFrom(base)); err != nil {
		return 0, client.IgnoreNotFound(err)
	}
	return retry, nil
}

func (r *Reconciler) fanOut(ctx context.Context, ev *tinyforgev1alpha1.Event, age time.Duration) (time.Duration, error) {
	var t tinyforgev1alpha1.Trigger
	if err := r.Client.Get(ctx, types.NamespacedName{Namespace: ev.Namespace, Name: ev.Spec.TriggerRef.Name}, &t); err != nil {
		if apierrors.IsNotFound(err) {
			finish(ev, tinyforgev1alpha1.EventPhaseFailed, tinyforgev1alpha1.EventReasonTriggerNotFound,
				fmt.Sprintf("Trigger %s does not exist", ev.Spec.TriggerRef.Name))
			return 0, nil
		}
		return 0, fmt.Errorf("reading Trigger %s: %w", ev.Spec.TriggerRef.Name, err)
	}
	switch {
	case ev.Spec.Type == tinyforgev1alpha1.EventTypePing:
		finish(ev, tinyforgev1alpha1.EventPhaseIgnored, tinyforgev1alpha1.EventReasonNoBindings, "a ping: the provider tested the webhook")
		return 0, nil
	case t.Spec.Suspend:
		finish(ev, tinyforgev1alpha1.EventPhaseIgnored, tinyforgev1alpha1.ReasonSuspended, "Trigger "+t.Name+" is suspended")
		return 0, nil
	case ev.Spec.Verification == tinyforgev1alpha1.VerificationFailed:
		finish(ev, tinyforgev1alpha1.EventPhaseFailed, tinyforgev1alpha1.EventReasonVerificationFailed, "the delivery failed verification; nothing is deployed")
		return 0, nil
	}
	plugin, err := r.Triggers.Lookup(t.Spec.Kind)
	if err != nil {
		finish(ev, tinyforgev1alpha1.EventPhaseFailed, tinyforgev1alpha1.ReasonUnknownKind, err.Error())
		return 0, nil
	}
	bindings, err := r.enabledBindings(ctx, &t)
	if err != nil {
		return 0, err
	}
	if len(bindings) == 0 {
		finish(ev, tinyforgev1alpha1.EventPhaseIgnored, tinyforgev1alpha1.EventReasonNoBindings,
			fmt.Sprintf("Trigger %s has no enabled TriggerBindings", t.Name))
		return 0, nil
	}

	decided := map[string]tinyforgev1alpha1.BindingOutcome{}
	for _, o := range ev.Status.Outcomes {
		if o.Result != tinyforgev1alpha1.MatchResultFailed {
			decided[o.Binding] = o
		}
	}
	var pending []*tinyforgev1alpha1.TriggerBinding
	for _, b := range bindings {
		if _, ok := decided[b.Name]; !ok {
			pending = append(pending, b)
		}
	}
	results := r.matchAll(ctx, ev, &t, plugin, pending)
	outcomes := make([]tinyforgev1alpha1.BindingOutcome, 0, len(decided)+len(results))
	for _, o := range decided {
		outcomes = append(outcomes, o)
	}
	outcomes = append(outcomes, results...)
	slices.SortFunc(outcomes, func(a, b tinyforgev1alpha1.BindingOutcome) int { return strings.Compare(a.Binding, b.Binding) })
	ev.Status.Outcomes = outcomes

	r.recordOnBindings(ctx, ev, pending, results)
	r.recordOnTrigger(ctx, ev, &t)
	return summarize(ev, age, r.RetryWindow), nil
}

// enabledBindings lists the trigger's bindings that are not suspended,
// sorted by name.
func (r *Reconciler) enabledBindings(ctx context.Context, t *tinyforgev1alpha1.Trigger) ([]*tinyforgev1alpha1.TriggerBinding, error) {
	var list tinyforgev1alpha1.TriggerBindingList
	if err := r.Client.List(ctx, &list, client.InNamespace(t.Namespace), client.MatchingFields{index.BindingTrigger: t.Name}); err != nil {
		return nil, fmt.Errorf("listing bindings of Trigger %s: %w", t.Name, err)
	}
	var out []*tinyforgev1alpha1.TriggerBinding
	for i := range list.Items {
		if b := &list.Items[i]; !b.Spec.Suspend && b.DeletionTimestamp.IsZero() {
			out = append(out, b)
		}
	}
	slices.SortFunc(out, func(a, b *tinyforgev1alpha1.TriggerBinding) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// matchAll runs matchOne for each binding, at most MatchConcurrency at once.
func (r *Reconciler) matchAll(ctx context.Context, ev *tinyforgev1alpha1.Event, t *tinyforgev1alpha1.Trigger, p plugins.Trigger, bindings []*tinyforgev1alpha1.TriggerBinding) []tinyforgev1alpha1.BindingOutcome {
	out := make([]tinyforgev1alpha1.BindingOutcome, len(bindings))
	sem := make(chan struct{}, r.MatchConcurrency)
	var wg sync.WaitGroup
	in := inbound.FromEvent(ev)
	for i, b := range bindings {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			out[i] = r.matchOne(ctx, ev, in, t, p, b)
		}()
	}
	wg.Wait()
	return out
}

// matchOne decides one binding's outcome, creating its Rollout on a match.
func (r *Reconciler) matchOne(ctx context.Context, ev *tinyforgev1alpha1.Event, in plugins.InboundEvent, t *tinyforgev1alpha1.Trigger, p plugins.Trigger, b *tinyforgev1alpha1.TriggerBinding) (o tinyforgev1alpha1.BindingOutcome) {
	o = tinyforgev1alpha1.BindingOutcome{Binding: b.Name, Workload: b.Spec.WorkloadRef.Name}
	failed := func(format string, args ...any) tinyforgev1alpha1.BindingOutcome {
		o.Result = tinyforgev1alpha1.MatchResultFailed
		o.Reason = cutReason(fmt.Sprintf(format, args...))
		return o
	}
	defer func() {
		// A plugin bug fails its binding, not the controller.
		if v := recover(); v != nil {
			ctrl.LoggerFrom(ctx).Error(fmt.Errorf("%v", v), "Trigger plugin panicked", "kind", p.Kind(), "binding", b.Name)
			o = failed("the %s trigger plugin panicked: %v", p.Kind(), v)
		}
	}()
	var w tinyforgev1alpha1.Workload
	if err := r.Client.Get(ctx, types.NamespacedName{Namespace: b.Namespace, Name: b.Spec.WorkloadRef.Name}, &w); err != nil {
		if apierrors.IsNotFound(err) {
			return failed("Workload %s does not exist", b.Spec.WorkloadRef.Name)
		}
		return failed("reading Workload %s: %v", b.Spec.WorkloadRef.Name, err)
	}
	cfg, err := triggerbinding.EffectiveConfig(t, b)
	if err != nil {
		return failed("%v", err)
	}
	if errs := p.Validate(field.NewPath("config"), cfg); len(errs) > 0 {
		return failed("the binding's effective config is invalid: %v", errs.ToAggregate())
	}
	mctx, cancel := context.WithTimeout(ctx, r.MatchTimeout)
	defer cancel()
	log := ctrl.LoggerFrom(ctx).WithValues("binding", b.Name, "workload", w.Name)
	res, err := p.Match(mctx, r.deps(log), plugins.MatchRequest{Workload: matchWorkload(&w), Config: cfg, Event: in})
	if err != nil {
		return failed("%v", err)
	}
	if err := res.Validate(); err != nil {
		return failed("the %s trigger plugin returned an invalid result: %v", p.Kind(), err)
	}
	if res.Intent == nil {
		o.Result = tinyforgev1alpha1.MatchResultSkipped
		o.Reason = cutReason(res.SkipReason)
		return o
	}
	name, err := r.createRollout(ctx, ev, b, &w, *res.Intent)
	if err != nil {
		return failed("creating the Rollout: %v", err)
	}
	log.Info("Matched", "rollout", name, "revision", res.Intent.Revision)
	o.Result = tinyforgev1alpha1.MatchResultMatched
	o.Rollout = name
	o.Reason = cutReason(res.Intent.Reason)
	return o
}

// matchWorkload is what a trigger sees of a workload. Env is not resolved:
// triggers decide what to deploy, not how to run it.
func matchWorkload(w *tinyforgev1alpha1.Workload) plugins.Workload {
	pw := plugins.Workload{
		Namespace: w.Namespace, Name: w.Name, UID: w.UID, Generation: w.Generation,
		CurrentRevision: w.Status.CurrentRevision,
	}
	if w.Spec.Source.Config != nil {
		pw.Config = w.Spec.Source.Config.Raw
	}
	return pw
}

// RolloutName is the Rollout an Event creates for one binding: the same
// for every retry, so a retried reconcile creates no duplicate.
func RolloutName(workloadName, event, binding string) string {
	sum := sha256.Sum256([]byte(event + "\x00" + binding))
	suffix := "e" + hex.EncodeToString(sum[:])[:10]
	if len(workloadName)+1+len(suffix) > 253 {
		workloadName = workloadName[:253-1-len(suffix)]
	}
	return workloadName + "-" + suffix
}

// createRollout creates (or finds) the Rollout of intent for w.
func (r *Reconciler) createRollout(ctx context.Context, ev *tinyforgev1alpha1.Event, b *tinyforgev1alpha1.TriggerBinding, w *tinyforgev1alpha1.Workload, intent plugins.DeploymentIntent) (string, error) {
	ro := &tinyforgev1alpha1.Rollout{
		ObjectMeta: metav1.ObjectMeta{
			Name:      RolloutName(w.Name, ev.Name, b.Name),
			Namespace: w.Namespace,
			Labels:    map[string]string{workload.LabelWorkload: w.Name},
		},
		Spec: tinyforgev1alpha1.RolloutSpec{
			WorkloadRef: tinyforgev1alpha1.LocalObjectReference{Name: w.Name},
			Revision:    intent.Revision,
			Reason:      cause(ev.Spec.Type),
			EventRef:    &tinyforgev1alpha1.LocalObjectReference{Name: ev.Name},
		},
	}
	if len(ev.Name) <= 63 {
		ro.Labels[LabelEvent] = ev.Name
	}
	if len(w.Name) > 63 {
		delete(ro.Labels, workload.LabelWorkload)
	}
	if intent.Reason != "" {
		ro.Annotations = map[string]string{workload.AnnotationChangeCause: cutReason(intent.Reason)}
	}
	if intent.Image != nil || intent.Git != nil {
		ro.Spec.Intent = &tinyforgev1alpha1.DeploymentIntent{}
		if intent.Image != nil {
			ro.Spec.Intent.Image = intent.Image.String()
		}
		if g := intent.Git; g != nil {
			ro.Spec.Intent.GitURL, ro.Spec.Intent.GitRef, ro.Spec.Intent.GitCommit = g.URL, g.Ref, g.Commit
		}
	}
	if err := controllerutil.SetControllerReference(w, ro, r.Client.Scheme()); err != nil {
		return "", err
	}
	err := r.Client.Create(ctx, ro)
	if apierrors.IsAlreadyExists(err) {
		return ro.Name, nil
	}
	if err != nil {
		return "", err
	}
	r.Recorder.Eventf(w, corev1.EventTypeNormal, "RolloutCreated", "Created rollout %s for event %s: %s", ro.Name, ev.Name, cutReason(intent.Reason))
	return ro.Name, nil
}

// cause maps an Event type to the Rollout's reason.
func cause(t tinyforgev1alpha1.EventType) tinyforgev1alpha1.RolloutCause {
	switch t {
	case tinyforgev1alpha1.EventTypeManual:
		return tinyforgev1alpha1.CauseManual
	case tinyforgev1alpha1.EventTypeCronTick:
		return tinyforgev1alpha1.CauseCron
	default:
		return tinyforgev1alpha1.CauseTrigger
	}
}

func cutReason(s string) string {
	const max = 1024
	if len(s) <= max {
		return s
	}
	return strings.ToValidUTF8(s[:max], "")
}

func (r *Reconciler) deps(log logr.Logger) plugins.Deps {
	return plugins.Deps{
		Client:   r.Client,
		Recorder: r.Recorder,
		Secrets:  plugins.APISecretReader(r.APIReader),
		Log:      log,
	}
}
