package event

import (
	"context"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	tinyforgev1alpha1 "github.com/tinyforge/tinyforge/api/v1alpha1"
)

// finish sets a final phase and the Ready condition that goes with it.
func finish(ev *tinyforgev1alpha1.Event, phase tinyforgev1alpha1.EventPhase, reason, msg string) {
	ev.Status.Phase = phase
	conds := &ev.Status.Conditions
	meta.RemoveStatusCondition(conds, tinyforgev1alpha1.ConditionReconciling)
	status := metav1.ConditionTrue
	if phase == tinyforgev1alpha1.EventPhaseFailed {
		status = metav1.ConditionFalse
		set(ev, tinyforgev1alpha1.ConditionStalled, metav1.ConditionTrue, reason, msg)
	} else {
		meta.RemoveStatusCondition(conds, tinyforgev1alpha1.ConditionStalled)
	}
	set(ev, tinyforgev1alpha1.ConditionReady, status, reason, msg)
}

func set(ev *tinyforgev1alpha1.Event, typ string, status metav1.ConditionStatus, reason, msg string) {
	meta.SetStatusCondition(&ev.Status.Conditions, metav1.Condition{
		Type: typ, Status: status, Reason: reason, Message: msg, ObservedGeneration: ev.Generation,
	})
}

// summarize sets the phase from the outcomes and returns how soon to retry
// failed bindings (zero for never).
func summarize(ev *tinyforgev1alpha1.Event, age, retryWindow time.Duration) time.Duration {
	var matched, skipped, failed int
	var firstFailure string
	for _, o := range ev.Status.Outcomes {
		switch o.Result {
		case tinyforgev1alpha1.MatchResultMatched:
			matched++
		case tinyforgev1alpha1.MatchResultSkipped:
			skipped++
		case tinyforgev1alpha1.MatchResultFailed:
			if failed == 0 {
				firstFailure = fmt.Sprintf("binding %s: %s", o.Binding, o.Reason)
			}
			failed++
		}
	}
	counts := fmt.Sprintf("%d matched, %d skipped, %d failed", matched, skipped, failed)
	switch {
	case failed > 0 && age < retryWindow:
		ev.Status.Phase = tinyforgev1alpha1.EventPhasePending
		meta.RemoveStatusCondition(&ev.Status.Conditions, tinyforgev1alpha1.ConditionStalled)
		msg := fmt.Sprintf("%s; retrying the failed ones (first: %s)", counts, firstFailure)
		set(ev, tinyforgev1alpha1.ConditionReconciling, metav1.ConditionTrue, tinyforgev1alpha1.EventReasonPartiallyFailed, msg)
		set(ev, tinyforgev1alpha1.ConditionReady, metav1.ConditionFalse, tinyforgev1alpha1.EventReasonPartiallyFailed, msg)
		return retryAfter
	case failed > 0:
		finish(ev, tinyforgev1alpha1.EventPhaseFailed, tinyforgev1alpha1.EventReasonPartiallyFailed,
			fmt.Sprintf("%s; gave up after %s (first: %s)", counts, retryWindow, firstFailure))
	case matched > 0:
		finish(ev, tinyforgev1alpha1.EventPhaseDispatched, tinyforgev1alpha1.EventReasonDispatched, counts)
	default:
		finish(ev, tinyforgev1alpha1.EventPhaseIgnored, tinyforgev1alpha1.EventReasonDispatched, counts+": no binding matched")
	}
	return 0
}

// recordOnBindings writes each binding's last match. A failure to write it
// is logged, not retried: the Event's status is the record.
func (r *Reconciler) recordOnBindings(ctx context.Context, ev *tinyforgev1alpha1.Event, bindings []*tinyforgev1alpha1.TriggerBinding, outcomes []tinyforgev1alpha1.BindingOutcome) {
	now := metav1.NewTime(r.Now())
	for i, b := range bindings {
		o := outcomes[i]
		base := b.DeepCopy()
		b.Status.LastMatch = &tinyforgev1alpha1.MatchSummary{Event: ev.Name, Result: o.Result, Rollout: o.Rollout, Reason: o.Reason, Time: &now}
		if err := r.Client.Status().Patch(ctx, b, client.MergeFrom(base)); err != nil {
			ctrl.LoggerFrom(ctx).V(1).Info("Could not record the last match on the binding", "binding", b.Name, "error", err.Error())
		}
	}
}

// recordOnTrigger points the trigger's status.lastEvent at ev when ev is
// newer than the one there.
func (r *Reconciler) recordOnTrigger(ctx context.Context, ev *tinyforgev1alpha1.Event, t *tinyforgev1alpha1.Trigger) {
	if last := t.Status.LastEvent; last != nil && (last.Name == ev.Name || (last.ReceivedTime != nil && last.ReceivedTime.After(ev.Spec.ReceivedTime.Time))) {
		return
	}
	base := t.DeepCopy()
	received := ev.Spec.ReceivedTime
	t.Status.LastEvent = &tinyforgev1alpha1.EventSummary{Name: ev.Name, Type: ev.Spec.Type, ReceivedTime: &received}
	if err := r.Client.Status().Patch(ctx, t, client.MergeFrom(base)); err != nil {
		ctrl.LoggerFrom(ctx).V(1).Info("Could not record the last event on the trigger", "error", err.Error())
	}
}
