package workload

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	tinyforgev1alpha1 "github.com/tinyforge/tinyforge/api/v1alpha1"
	"github.com/tinyforge/tinyforge/plugins"
)

// setDeploying marks the workload Reconciling while ro deploys.
func setDeploying(w *tinyforgev1alpha1.Workload, ro *tinyforgev1alpha1.Rollout, previous string) {
	msg := fmt.Sprintf("deploying rollout %s", ro.Name)
	if previous != "" {
		msg += "; revision " + previous + " serves meanwhile"
	}
	meta.SetStatusCondition(&w.Status.Conditions, metav1.Condition{
		Type: tinyforgev1alpha1.ConditionReconciling, Status: metav1.ConditionTrue,
		Reason: tinyforgev1alpha1.WorkloadReasonDeploying, Message: msg, ObservedGeneration: w.Generation,
	})
	w.Status.LastDeploy = &tinyforgev1alpha1.DeploySummary{
		Rollout: ro.Name, Phase: tinyforgev1alpha1.RolloutPhaseDeploying, StartTime: ro.Status.StartTime,
	}
}

// setDeployed records a finished deploy in the workload's summary.
func setDeployed(w *tinyforgev1alpha1.Workload, ro *tinyforgev1alpha1.Rollout, res plugins.DeployResult) {
	w.Status.LastDeploy = &tinyforgev1alpha1.DeploySummary{
		Rollout:        ro.Name,
		Revision:       ro.Status.Revision,
		Phase:          ro.Status.Phase,
		Message:        ro.Status.Message,
		StartTime:      ro.Status.StartTime,
		CompletionTime: ro.Status.CompletionTime,
	}
}

// setRolloutPhase moves a Rollout to phase with a condition saying why.
func (r *Reconciler) setRolloutPhase(ctx context.Context, ro *tinyforgev1alpha1.Rollout, phase tinyforgev1alpha1.RolloutPhase, reason, msg string) error {
	return r.patchRollout(ctx, ro, func(ro *tinyforgev1alpha1.Rollout) {
		ro.Status.Phase = phase
		ro.Status.Message = msg
		if phase.IsFinal() {
			now := metav1.Now()
			ro.Status.CompletionTime = &now
		}
		meta.SetStatusCondition(&ro.Status.Conditions, metav1.Condition{
			Type: tinyforgev1alpha1.ConditionReady, Status: metav1.ConditionFalse, Reason: reason, Message: msg,
			ObservedGeneration: ro.Generation,
		})
	})
}

// patchRollout applies mutate to ro's status and patches it.
func (r *Reconciler) patchRollout(ctx context.Context, ro *tinyforgev1alpha1.Rollout, mutate func(*tinyforgev1alpha1.Rollout)) error {
	base := ro.DeepCopy()
	mutate(ro)
	switch ro.Status.Phase {
	case tinyforgev1alpha1.RolloutPhaseSucceeded:
		meta.SetStatusCondition(&ro.Status.Conditions, metav1.Condition{
			Type: tinyforgev1alpha1.ConditionReady, Status: metav1.ConditionTrue, Reason: tinyforgev1alpha1.ReasonSucceeded,
			Message: "revision " + ro.Status.Revision + " deployed", ObservedGeneration: ro.Generation,
		})
	case tinyforgev1alpha1.RolloutPhaseFailed:
		meta.SetStatusCondition(&ro.Status.Conditions, metav1.Condition{
			Type: tinyforgev1alpha1.ConditionReady, Status: metav1.ConditionFalse, Reason: tinyforgev1alpha1.RolloutReasonDeployFailed,
			Message: ro.Status.Message, ObservedGeneration: ro.Generation,
		})
	case tinyforgev1alpha1.RolloutPhaseDeploying:
		meta.SetStatusCondition(&ro.Status.Conditions, metav1.Condition{
			Type: tinyforgev1alpha1.ConditionReady, Status: metav1.ConditionFalse, Reason: tinyforgev1alpha1.RolloutReasonDeploying,
			Message: "deploying", ObservedGeneration: ro.Generation,
		})
	}
	if err := r.Client.Status().Patch(ctx, ro, client.MergeFrom(base)); err != nil {
		return fmt.Errorf("updating rollout %s: %w", ro.Name, err)
	}
	return nil
}

// event records a core Event on the workload, so describe tells the story.
func (r *Reconciler) event(w *tinyforgev1alpha1.Workload, kind, reason, format string, args ...any) {
	if r.Recorder != nil {
		r.Recorder.Eventf(w, kind, reason, format, args...)
	}
}

// serviceStatuses says what a deploy did to each service, in the API's
// words: a replaced service was replaced blue-green or recreated in place.
func serviceStatuses(results []plugins.ServiceResult) []tinyforgev1alpha1.ServiceStatus {
	if len(results) == 0 {
		return nil
	}
	out := make([]tinyforgev1alpha1.ServiceStatus, 0, len(results))
	for _, r := range results {
		action := tinyforgev1alpha1.ServiceActionUnchanged
		switch r.Action {
		case plugins.ServiceCreated:
			action = tinyforgev1alpha1.ServiceActionCreated
		case plugins.ServiceRemoved:
			action = tinyforgev1alpha1.ServiceActionRemoved
		case plugins.ServiceReplaced:
			action = tinyforgev1alpha1.ServiceActionRecreated
			if r.BlueGreen {
				action = tinyforgev1alpha1.ServiceActionBlueGreen
			}
		}
		out = append(out, tinyforgev1alpha1.ServiceStatus{Name: r.Name, Action: action})
	}
	return out
}
