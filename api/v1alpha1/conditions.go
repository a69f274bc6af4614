package v1alpha1

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// Condition types shared by every kind. They follow kstatus
// (sigs.k8s.io/cli-utils/pkg/kstatus), so `kubectl wait --for=condition=Ready`,
// Flux and Argo CD health checks read TinyForge objects without custom code.
// Kind-specific condition types and reasons live beside each kind.
const (
	// ConditionReady is the summary condition. True when the object's spec has
	// been fully acted on for status.observedGeneration; False when it has
	// failed or is waiting on something; Unknown while the controller is still
	// working on it.
	ConditionReady = "Ready"

	// ConditionReconciling is True while the controller is working towards the
	// spec (a new generation, a rollout in progress, a retry after a transient
	// failure) and is removed once the object is Ready or Stalled. kstatus
	// reads it as "in progress".
	ConditionReconciling = "Reconciling"

	// ConditionStalled is True when the controller cannot make progress
	// without a person changing something (an invalid config, an unknown
	// plugin kind, a progress deadline exceeded). It is not retried hot, and is
	// removed when the spec or the failing dependency changes. kstatus reads it
	// as "failed".
	ConditionStalled = "Stalled"
)

// Condition reasons shared by every kind. Reasons are CamelCase and stable:
// tooling may match on them; messages are for people and may change.
const (
	// ReasonSucceeded applies to Ready=True: the spec of
	// status.observedGeneration has been acted on.
	ReasonSucceeded = "Succeeded"

	// ReasonProgressing applies to Reconciling=True (and Ready=Unknown) while
	// the controller works on a new generation or retries.
	ReasonProgressing = "Progressing"

	// ReasonFailed applies to Ready=False after a failure that has no more
	// specific reason; the message says what failed. The controller retries.
	ReasonFailed = "Failed"

	// ReasonSuspended applies to Ready=False (with neither Reconciling nor
	// Stalled) while spec.suspend is true: the controller leaves the object
	// and what it manages alone until it is resumed.
	ReasonSuspended = "Suspended"

	// ReasonInvalidConfig applies to Stalled=True and Ready=False when a
	// plugin's Validate rejects the object's config (a Workload's
	// spec.source.config, a Trigger's spec.config or a TriggerBinding's merged
	// config). Admission normally refuses such objects; this reason covers
	// objects stored before a plugin tightened its rules.
	ReasonInvalidConfig = "InvalidConfig"

	// ReasonUnknownKind applies to Stalled=True and Ready=False when the
	// source or trigger kind named in the spec is not registered in this
	// server; the message lists the known kinds.
	ReasonUnknownKind = "UnknownKind"

	// ReasonDeleting applies to Ready=False (with Reconciling=True) while a
	// deleted object's finalizer tears down what it manages.
	ReasonDeleting = "Deleting"
)

// Conditioned is implemented by every kind of this group so that status
// helpers can read and write conditions without knowing the kind.
// Use k8s.io/apimachinery/pkg/api/meta (FindStatusCondition,
// SetStatusCondition, IsStatusConditionTrue) on the returned slice.
// +kubebuilder:object:generate=false
type Conditioned interface {
	// GetConditions returns status.conditions.
	GetConditions() []metav1.Condition
	// SetConditions replaces status.conditions.
	SetConditions(conditions []metav1.Condition)
}

// Every kind carries conditions.
var (
	_ Conditioned = (*Workload)(nil)
	_ Conditioned = (*Trigger)(nil)
	_ Conditioned = (*TriggerBinding)(nil)
	_ Conditioned = (*Event)(nil)
	_ Conditioned = (*Rollout)(nil)
	_ Conditioned = (*SourceKind)(nil)
	_ Conditioned = (*TriggerKind)(nil)
)
