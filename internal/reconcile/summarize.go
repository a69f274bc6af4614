package reconcile

import (
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"

	tinyforgev1alpha1 "github.com/tinyforge/tinyforge/api/v1alpha1"
)

// Outcome is what a reconcile concluded when it did not fail.
type Outcome struct {
	// Ready is true when the object is what its spec asks for.
	Ready bool
	// Reason and Message explain the outcome to a user.
	Reason, Message string
	// Progressing is true while work is still going on (Reconciling=True).
	Progressing bool
	// Result is the controller-runtime result to return.
	Result ctrl.Result
}

// Summarize sets Ready, Reconciling and Stalled on obj from the reconcile's
// error (if any) or its outcome, and returns what the Reconcile should.
// A stalling error is not returned, so it is not retried with backoff.
func Summarize(obj tinyforgev1alpha1.Conditioned, generation int64, out Outcome, err error) (ctrl.Result, error) {
	conds := obj.GetConditions()
	set := func(t string, s metav1.ConditionStatus, reason, msg string) {
		meta.SetStatusCondition(&conds, metav1.Condition{Type: t, Status: s, Reason: reason, Message: msg, ObservedGeneration: generation})
	}
	var result ctrl.Result
	var retErr error
	switch s, stalled := AsStalling(err); {
	case stalled:
		set(tinyforgev1alpha1.ConditionStalled, metav1.ConditionTrue, s.Reason, s.Error())
		set(tinyforgev1alpha1.ConditionReconciling, metav1.ConditionFalse, s.Reason, "")
		set(tinyforgev1alpha1.ConditionReady, metav1.ConditionFalse, s.Reason, s.Error())
	default:
		if w, waiting := AsWaiting(err); waiting {
			meta.RemoveStatusCondition(&conds, tinyforgev1alpha1.ConditionStalled)
			set(tinyforgev1alpha1.ConditionReconciling, metav1.ConditionTrue, w.Reason, w.Error())
			set(tinyforgev1alpha1.ConditionReady, metav1.ConditionFalse, w.Reason, w.Error())
			result.RequeueAfter = w.RequeueAfter
			break
		}
		if err != nil {
			meta.RemoveStatusCondition(&conds, tinyforgev1alpha1.ConditionStalled)
			set(tinyforgev1alpha1.ConditionReconciling, metav1.ConditionTrue, tinyforgev1alpha1.ReasonProgressing, err.Error())
			set(tinyforgev1alpha1.ConditionReady, metav1.ConditionFalse, tinyforgev1alpha1.ReasonFailed, err.Error())
			retErr = err
			break
		}
		result = out.Result
		if out.Progressing {
			set(tinyforgev1alpha1.ConditionReconciling, metav1.ConditionTrue, out.Reason, out.Message)
		} else {
			meta.RemoveStatusCondition(&conds, tinyforgev1alpha1.ConditionReconciling)
		}
		if !out.Progressing || out.Ready {
			meta.RemoveStatusCondition(&conds, tinyforgev1alpha1.ConditionStalled)
		}
		status := metav1.ConditionFalse
		if out.Ready {
			status = metav1.ConditionTrue
		}
		set(tinyforgev1alpha1.ConditionReady, status, out.Reason, out.Message)
	}
	obj.SetConditions(conds)
	return result, retErr
}
