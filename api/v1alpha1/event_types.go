package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Event reasons, beside the shared ones in conditions.go.
const (
	// EventReasonDispatched applies to Ready=True once every binding of the
	// Trigger has been evaluated and status.outcomes records each result.
	EventReasonDispatched = "Dispatched"

	// EventReasonPartiallyFailed applies to Ready=False when fan-out finished
	// but one or more bindings Failed; status.outcomes says which and why.
	EventReasonPartiallyFailed = "PartiallyFailed"

	// EventReasonTriggerNotFound applies to Stalled=True and Ready=False when
	// spec.triggerRef names no Trigger (it was deleted after the delivery).
	EventReasonTriggerNotFound = "TriggerNotFound"

	// EventReasonNoBindings applies to Ready=True with phase Ignored when the
	// Trigger has no bindings, or the event is a ping: nothing to deploy.
	EventReasonNoBindings = "NoBindings"

	// EventReasonVerificationFailed applies to Stalled=True and Ready=False
	// when spec.verification is Failed: the Event is never dispatched.
	EventReasonVerificationFailed = "VerificationFailed"

	// EventReasonExpired applies to Ready=True with phase Expired once the
	// Event has outlived its TTL and waits to be deleted.
	EventReasonExpired = "Expired"
)

// EventPhase is where an Event is in its life.
// +kubebuilder:validation:Enum=Pending;Dispatched;Ignored;Failed;Expired
type EventPhase string

// Event phases.
const (
	// EventPhasePending: received, not yet fanned out to the bindings.
	EventPhasePending EventPhase = "Pending"
	// EventPhaseDispatched: every binding was evaluated; see status.outcomes.
	EventPhaseDispatched EventPhase = "Dispatched"
	// EventPhaseIgnored: nothing to evaluate (a ping, no bindings, or a
	// suspended Trigger).
	EventPhaseIgnored EventPhase = "Ignored"
	// EventPhaseFailed: the Event could not be dispatched (its Trigger is
	// gone or its verification failed); the Ready condition says why.
	EventPhaseFailed EventPhase = "Failed"
	// EventPhaseExpired: the Event outlived its TTL and is about to be deleted.
	EventPhaseExpired EventPhase = "Expired"
)

// IsFinal reports whether the Event controller is done with an Event in this
// phase, apart from expiring it.
func (p EventPhase) IsFinal() bool {
	switch p {
	case EventPhaseDispatched, EventPhaseIgnored, EventPhaseFailed, EventPhaseExpired:
		return true
	}
	return false
}

// VerificationResult is how the ingress checked a delivery's origin.
// +kubebuilder:validation:Enum=Verified;Unverified;Failed
type VerificationResult string

// Verification results.
const (
	// VerificationVerified: the signature or token matched the Trigger's secret.
	VerificationVerified VerificationResult = "Verified"
	// VerificationUnverified: nothing to check against (the Trigger has no
	// secretRef, or the provider does not sign, like Docker Hub). Such an
	// event is a hint: registry triggers resolve the digest themselves.
	VerificationUnverified VerificationResult = "Unverified"
	// VerificationFailed: the signature or token did not match; the Event is
	// kept for the record and never dispatched.
	VerificationFailed VerificationResult = "Failed"
)

// EventSpec is what the ingress (or forgectl, or the cron scheduler)
// received, normalized across providers. It cannot change after creation.
// +kubebuilder:validation:XValidation:rule="self.type != 'image-push' || has(self.image)",message="image is required for type image-push"
// +kubebuilder:validation:XValidation:rule="!(self.type in ['git-push', 'git-tag']) || has(self.git)",message="git is required for types git-push and git-tag"
// +kubebuilder:validation:XValidation:rule="self.type != 'manual' || has(self.manual)",message="manual is required for type manual"
type EventSpec struct {
	// triggerRef names the Trigger the delivery was addressed to.
	// +required
	TriggerRef LocalObjectReference `json:"triggerRef"`

	// provider that sent the delivery. Empty for events TinyForge made itself
	// (manual, cron-tick).
	// +optional
	Provider Provider `json:"provider,omitempty"`

	// type of what happened.
	// +required
	Type EventType `json:"type"`

	// deliveryID is the provider's delivery identifier (for example
	// X-GitHub-Delivery). The Event's name derives from it, so a redelivery
	// creates nothing.
	// +optional
	// +kubebuilder:validation:MaxLength=256
	DeliveryID string `json:"deliveryID,omitempty"`

	// receivedTime is when the delivery arrived.
	// +required
	ReceivedTime metav1.Time `json:"receivedTime"`

	// verification is how the delivery's origin was checked. Empty for events
	// TinyForge made itself.
	// +optional
	Verification VerificationResult `json:"verification,omitempty"`

	// image is set for image-push events.
	// +optional
	Image *ImageEvent `json:"image,omitempty"`

	// git is set for git-push and git-tag events.
	// +optional
	Git *GitEvent `json:"git,omitempty"`

	// manual is set for manual events.
	// +optional
	Manual *ManualEvent `json:"manual,omitempty"`
}

// ImageEvent is an image pushed to a registry.
type ImageEvent struct {
	// repository is the image repository including its registry host, as in
	// localhost:5000/hello or docker.io/library/nginx.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=512
	Repository string `json:"repository"`

	// tag that was pushed. Empty for a push by digest.
	// +optional
	// +kubebuilder:validation:MaxLength=128
	Tag string `json:"tag,omitempty"`

	// digest of the pushed manifest, as the payload claims it. A hint only:
	// registry triggers resolve the digest from the registry.
	// +optional
	// +kubebuilder:validation:MaxLength=128
	// +kubebuilder:validation:Pattern=`^[a-z0-9]+([+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$`
	Digest string `json:"digest,omitempty"`
}

// GitEvent is a push of commits or a tag to a git repository.
type GitEvent struct {
	// url is the repository's clone URL.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=2048
	URL string `json:"url"`

	// ref is the full ref pushed, as in refs/heads/main or refs/tags/v1.2.0.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=256
	Ref string `json:"ref"`

	// commit is the commit the ref points to after the push. Some providers
	// leave it out (a GitHub create event); git triggers then resolve it.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:Pattern=`^[0-9a-f]{7,64}$`
	Commit string `json:"commit,omitempty"`

	// before is the commit the ref pointed to before the push; all zeros for
	// a new ref.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:Pattern=`^[0-9a-f]{7,64}$`
	Before string `json:"before,omitempty"`

	// author of the head commit, as "Name <email>" or a user name.
	// +optional
	// +kubebuilder:validation:MaxLength=256
	Author string `json:"author,omitempty"`

	// message of the head commit, truncated to 4096 bytes.
	// +optional
	// +kubebuilder:validation:MaxLength=4096
	Message string `json:"message,omitempty"`

	// changedPaths are the files added, modified or removed by the pushed
	// commits, when the provider lists them (at most 256; more are dropped),
	// for path filters.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=256
	// +kubebuilder:validation:items:MaxLength=1024
	ChangedPaths []string `json:"changedPaths,omitempty"`
}

// ManualEvent is a deploy a person asked for.
type ManualEvent struct {
	// workload to deploy. Empty means every workload bound to the Trigger.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	Workload string `json:"workload,omitempty"`

	// revision to deploy. Empty means the source's newest.
	// +optional
	// +kubebuilder:validation:MaxLength=128
	Revision string `json:"revision,omitempty"`

	// reason the person gave.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	Reason string `json:"reason,omitempty"`

	// user who asked, as the API server authenticated them.
	// +optional
	// +kubebuilder:validation:MaxLength=256
	User string `json:"user,omitempty"`
}

// EventStatus is what the fan-out made of the Event.
type EventStatus struct {
	// observedGeneration is the metadata.generation the conditions describe.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// conditions: Ready, Reconciling and Stalled, with kstatus meanings.
	// +optional
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MaxItems=16
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// phase is where the Event is in its life.
	// +optional
	Phase EventPhase `json:"phase,omitempty"`

	// outcomes holds one entry per TriggerBinding of the Trigger.
	// +optional
	// +listType=map
	// +listMapKey=binding
	// +kubebuilder:validation:MaxItems=512
	Outcomes []BindingOutcome `json:"outcomes,omitempty"`
}

// BindingOutcome is what one TriggerBinding made of the Event.
type BindingOutcome struct {
	// binding is the name of the TriggerBinding.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Binding string `json:"binding"`

	// workload is the name of the bound Workload.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	Workload string `json:"workload,omitempty"`

	// result is Matched, Skipped or Failed.
	// +required
	Result MatchResult `json:"result"`

	// rollout is the Rollout created when the result is Matched.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	Rollout string `json:"rollout,omitempty"`

	// reason says, for people, why the binding skipped the Event or how
	// matching failed.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	Reason string `json:"reason,omitempty"`
}

// Event is one thing that happened to a Trigger: a webhook delivery, a
// manual deploy request or a cron tick, normalized, with what each binding
// made of it. Events expire after a TTL. Its resource is events.tinyforge.dev;
// the bare word "events" means core/v1 Events, so use the short name tfev.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Namespaced,shortName=tfev;tfevent,categories=tinyforge
// +kubebuilder:printcolumn:name="Type",type=string,JSONPath=`.spec.type`
// +kubebuilder:printcolumn:name="Trigger",type=string,JSONPath=`.spec.triggerRef.name`
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Provider",type=string,priority=1,JSONPath=`.spec.provider`
// +kubebuilder:printcolumn:name="Delivery",type=string,priority=1,JSONPath=`.spec.deliveryID`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type Event struct {
	metav1.TypeMeta `json:",inline"`

	// metadata is the standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is what was received; it cannot change after creation.
	// +required
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="spec is immutable"
	Spec EventSpec `json:"spec"`

	// status is written by the Event controller.
	// +optional
	Status EventStatus `json:"status,omitempty"`
}

// GetConditions returns status.conditions.
func (e *Event) GetConditions() []metav1.Condition { return e.Status.Conditions }

// SetConditions replaces status.conditions.
func (e *Event) SetConditions(c []metav1.Condition) { e.Status.Conditions = c }

// EventList is a list of Events.
// +kubebuilder:object:root=true
type EventList struct {
	metav1.TypeMeta `json:",inline"`
	// metadata is the standard list metadata.
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`
	// items are the Events.
	Items []Event `json:"items"`
}

func init() {
	SchemeBuilder.Register(&Event{}, &EventList{})
}
