package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Rollout reasons, beside the shared ones in conditions.go. A Rollout's Ready
// is True once it Succeeded; Reconciling is True while it is Pending,
// AwaitingApproval or Deploying; Stalled is True once it Failed.
const (
	// RolloutReasonAwaitingApproval applies to Reconciling=True and
	// Ready=False while the Workload's spec.approval is Manual and
	// spec.approved is not set.
	RolloutReasonAwaitingApproval = "AwaitingApproval"

	// RolloutReasonDeploying applies to Reconciling=True and Ready=Unknown
	// while Source.Deploy runs and the new revision's health is checked.
	RolloutReasonDeploying = "Deploying"

	// RolloutReasonHealthCheckFailed applies to Stalled=True and Ready=False
	// when the new revision never became healthy; the previous revision kept
	// serving.
	RolloutReasonHealthCheckFailed = "HealthCheckFailed"

	// RolloutReasonDeployFailed applies to Stalled=True and Ready=False when
	// Source.Deploy returned an error; the message holds it.
	RolloutReasonDeployFailed = "DeployFailed"

	// RolloutReasonProgressDeadlineExceeded applies to Stalled=True and
	// Ready=False when the deploy took longer than the Workload's
	// spec.strategy.progressDeadline.
	RolloutReasonProgressDeadlineExceeded = "ProgressDeadlineExceeded"

	// RolloutReasonSuperseded applies to Ready=False (with neither
	// Reconciling nor Stalled) when a newer Rollout of the same Workload
	// replaced this one before it deployed.
	RolloutReasonSuperseded = "Superseded"

	// RolloutReasonWorkloadNotFound applies to Stalled=True and Ready=False
	// when spec.workloadRef names no Workload.
	RolloutReasonWorkloadNotFound = "WorkloadNotFound"
)

// RolloutCause is why a Rollout was created (the spec.reason field).
// +kubebuilder:validation:Enum=ConfigChange;Trigger;Manual;Rollback;Cron
type RolloutCause string

// Rollout causes.
const (
	// CauseConfigChange: the Workload's spec changed (a new generation).
	CauseConfigChange RolloutCause = "ConfigChange"
	// CauseTrigger: a Trigger's Event matched through a TriggerBinding.
	CauseTrigger RolloutCause = "Trigger"
	// CauseManual: a person asked for a deploy (`forgectl deploy`).
	CauseManual RolloutCause = "Manual"
	// CauseRollback: a person rolled back to an older revision
	// (`forgectl rollout undo`).
	CauseRollback RolloutCause = "Rollback"
	// CauseCron: a cron Trigger's schedule fired.
	CauseCron RolloutCause = "Cron"
)

// RolloutPhase is where a Rollout is in its life.
// +kubebuilder:validation:Enum=Pending;AwaitingApproval;Deploying;Succeeded;Failed;Superseded
type RolloutPhase string

// Rollout phases.
const (
	// RolloutPhasePending: created, not yet picked up by the Workload
	// controller (or the Workload is suspended).
	RolloutPhasePending RolloutPhase = "Pending"
	// RolloutPhaseAwaitingApproval: waiting for spec.approved.
	RolloutPhaseAwaitingApproval RolloutPhase = "AwaitingApproval"
	// RolloutPhaseDeploying: the new revision is starting, being checked or
	// being switched to.
	RolloutPhaseDeploying RolloutPhase = "Deploying"
	// RolloutPhaseSucceeded: the revision serves traffic (or did, until a
	// later Rollout replaced it).
	RolloutPhaseSucceeded RolloutPhase = "Succeeded"
	// RolloutPhaseFailed: the deploy failed; the previous revision kept
	// serving.
	RolloutPhaseFailed RolloutPhase = "Failed"
	// RolloutPhaseSuperseded: a newer Rollout replaced this one before it
	// deployed.
	RolloutPhaseSuperseded RolloutPhase = "Superseded"
)

// IsFinal reports whether a Rollout in this phase will not change phase
// again.
func (p RolloutPhase) IsFinal() bool {
	switch p {
	case RolloutPhaseSucceeded, RolloutPhaseFailed, RolloutPhaseSuperseded:
		return true
	}
	return false
}

// ServiceAction is what a deploy did to one service of a workload.
// +kubebuilder:validation:Enum=Created;Recreated;BlueGreen;Unchanged;Removed
type ServiceAction string

// Service actions.
const (
	// ServiceActionRecreated: the service was stopped and started again.
	ServiceActionRecreated ServiceAction = "Recreated"
	// ServiceActionBlueGreen: the service was replaced blue-green.
	ServiceActionBlueGreen ServiceAction = "BlueGreen"
	// ServiceActionUnchanged: the service was left running as it was.
	ServiceActionUnchanged ServiceAction = "Unchanged"
	// ServiceActionCreated: the service did not run before and was started.
	ServiceActionCreated ServiceAction = "Created"
	// ServiceActionRemoved: the service left the config and was removed.
	ServiceActionRemoved ServiceAction = "Removed"
)

// RolloutSpec is one deploy of one revision of one Workload. Only
// spec.approved may change after creation, and only from false to true.
// +kubebuilder:validation:XValidation:rule="has(self.eventRef) == has(oldSelf.eventRef) && (!has(self.eventRef) || self.eventRef == oldSelf.eventRef)",message="eventRef is immutable"
// +kubebuilder:validation:XValidation:rule="has(self.intent) == has(oldSelf.intent) && (!has(self.intent) || self.intent == oldSelf.intent)",message="intent is immutable"
// +kubebuilder:validation:XValidation:rule="!has(oldSelf.approved) || !oldSelf.approved || (has(self.approved) && self.approved)",message="approved cannot be withdrawn"
type RolloutSpec struct {
	// workloadRef names the Workload to deploy, in the same namespace.
	// +required
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="workloadRef is immutable"
	WorkloadRef LocalObjectReference `json:"workloadRef"`

	// revision pins what to deploy: an image digest, a git commit or a config
	// hash, as the source plugin names its revisions. Empty means the
	// workload's current spec, resolved by the source at deploy time (a
	// config change or a cron redeploy); status.revision says what it was.
	// +optional
	// +kubebuilder:validation:MaxLength=128
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="revision is immutable"
	Revision string `json:"revision,omitempty"`

	// reason the Rollout was created.
	// +required
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="reason is immutable"
	Reason RolloutCause `json:"reason"`

	// eventRef names the Event that caused the Rollout, when a Trigger did.
	// +optional
	EventRef *LocalObjectReference `json:"eventRef,omitempty"`

	// intent is what the source plugin needs to deploy the revision.
	// +optional
	Intent *DeploymentIntent `json:"intent,omitempty"`

	// approved lets the Rollout deploy when the Workload's spec.approval is
	// Manual. Set it with `forgectl rollout approve`; it cannot be unset.
	// +optional
	Approved bool `json:"approved,omitempty"`
}

// DeploymentIntent is the resolved target of a deploy, as a Trigger's Match
// (or the Workload controller, for a config change) worked it out. Fields a
// source does not use are empty.
type DeploymentIntent struct {
	// image is the full image reference to run, pinned by digest where known,
	// as in localhost:5000/hello@sha256:….
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	Image string `json:"image,omitempty"`

	// gitURL is the repository to build or serve from.
	// +optional
	// +kubebuilder:validation:MaxLength=2048
	GitURL string `json:"gitURL,omitempty"`

	// gitRef is the ref that was pushed, as in refs/heads/main.
	// +optional
	// +kubebuilder:validation:MaxLength=256
	GitRef string `json:"gitRef,omitempty"`

	// gitCommit is the commit to deploy.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:Pattern=`^[0-9a-f]{7,64}$`
	GitCommit string `json:"gitCommit,omitempty"`

	// configHash is the hash of the Workload spec the Rollout was made for.
	// +optional
	// +kubebuilder:validation:MaxLength=128
	ConfigHash string `json:"configHash,omitempty"`
}

// RolloutStatus is how the deploy went.
type RolloutStatus struct {
	// observedGeneration is the metadata.generation the conditions describe.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// conditions: Ready, Reconciling and Stalled, with kstatus meanings.
	// +optional
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MaxItems=16
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// phase is where the Rollout is in its life.
	// +optional
	Phase RolloutPhase `json:"phase,omitempty"`

	// revision is what the deploy resolved and ran, or tried to.
	// +optional
	// +kubebuilder:validation:MaxLength=128
	Revision string `json:"revision,omitempty"`

	// previousRevision is the revision that served when the deploy started,
	// the one a failure leaves serving.
	// +optional
	// +kubebuilder:validation:MaxLength=128
	PreviousRevision string `json:"previousRevision,omitempty"`

	// startTime is when the deploy started.
	// +optional
	StartTime *metav1.Time `json:"startTime,omitempty"`

	// completionTime is when the Rollout reached Succeeded, Failed or
	// Superseded.
	// +optional
	CompletionTime *metav1.Time `json:"completionTime,omitempty"`

	// message says, for people, what the deploy is doing or why it failed.
	// +optional
	// +kubebuilder:validation:MaxLength=32768
	Message string `json:"message,omitempty"`

	// services says what the deploy did to each service of a multi-service
	// source (compose).
	// +optional
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=64
	Services []ServiceStatus `json:"services,omitempty"`
}

// ServiceStatus is what a deploy did to one service.
type ServiceStatus struct {
	// name of the service.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	Name string `json:"name"`

	// action taken on the service.
	// +required
	Action ServiceAction `json:"action"`
}

// Rollout is one deploy of one revision of a Workload, owned by it. History
// is bounded by the Workload's spec.revisionHistoryLimit; a rollback is a new
// Rollout of an older revision.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Namespaced,shortName=ro,categories=tinyforge
// +kubebuilder:printcolumn:name="Workload",type=string,JSONPath=`.spec.workloadRef.name`
// +kubebuilder:printcolumn:name="Revision",type=string,JSONPath=`.status.revision`
// +kubebuilder:printcolumn:name="Pinned",type=string,priority=1,JSONPath=`.spec.revision`
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Reason",type=string,priority=1,JSONPath=`.spec.reason`
// +kubebuilder:printcolumn:name="Message",type=string,priority=1,JSONPath=`.status.message`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type Rollout struct {
	metav1.TypeMeta `json:",inline"`

	// metadata is the standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is what to deploy and why.
	// +required
	Spec RolloutSpec `json:"spec"`

	// status is written by the Workload controller.
	// +optional
	Status RolloutStatus `json:"status,omitempty"`
}

// GetConditions returns status.conditions.
func (r *Rollout) GetConditions() []metav1.Condition { return r.Status.Conditions }

// SetConditions replaces status.conditions.
func (r *Rollout) SetConditions(c []metav1.Condition) { r.Status.Conditions = c }

// RolloutList is a list of Rollouts.
// +kubebuilder:object:root=true
type RolloutList struct {
	metav1.TypeMeta `json:",inline"`
	// metadata is the standard list metadata.
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`
	// items are the Rollouts.
	Items []Rollout `json:"items"`
}

func init() {
	SchemeBuilder.Register(&Rollout{}, &RolloutList{})
}
