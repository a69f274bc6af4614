package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// ConditionResolvedRefs is a TriggerBinding condition: True when both the
// Trigger and the Workload it names exist, False (with a reason naming the
// missing one) otherwise. Ready is never True while it is False.
const ConditionResolvedRefs = "ResolvedRefs"

// TriggerBinding reasons, beside the shared ones in conditions.go.
const (
	// TriggerBindingReasonResolved applies to ResolvedRefs=True: the Trigger
	// and the Workload both exist.
	TriggerBindingReasonResolved = "Resolved"

	// TriggerBindingReasonTriggerNotFound applies to ResolvedRefs=False and
	// Ready=False when spec.triggerRef names no Trigger; the controller
	// retries when one appears.
	TriggerBindingReasonTriggerNotFound = "TriggerNotFound"

	// TriggerBindingReasonWorkloadNotFound applies to ResolvedRefs=False and
	// Ready=False when spec.workloadRef names no Workload; the controller
	// retries when one appears.
	TriggerBindingReasonWorkloadNotFound = "WorkloadNotFound"

	// TriggerBindingReasonTriggerNotReady applies to Ready=False when the
	// Trigger exists but is not Ready (for example its Secret is missing).
	TriggerBindingReasonTriggerNotReady = "TriggerNotReady"
)

// TriggerBindingSpec binds one Trigger to one Workload in the same namespace.
type TriggerBindingSpec struct {
	// triggerRef names the Trigger whose Events this binding receives.
	// +required
	TriggerRef LocalObjectReference `json:"triggerRef"`

	// workloadRef names the Workload to redeploy when the Trigger matches.
	// +required
	WorkloadRef LocalObjectReference `json:"workloadRef"`

	// config overrides top-level fields of the Trigger's spec.config for this
	// workload only (a JSON merge of top-level keys, on a fresh copy). The
	// result is checked by the trigger plugin's Validate and shown in
	// status.effectiveConfig.
	// +optional
	// +kubebuilder:pruning:PreserveUnknownFields
	// +kubebuilder:validation:Type=object
	Config *runtime.RawExtension `json:"config,omitempty"`

	// suspend makes this binding skip every Event, with reason "suspended".
	// +optional
	Suspend bool `json:"suspend,omitempty"`
}

// TriggerBindingStatus is the merged config and the last match.
type TriggerBindingStatus struct {
	// observedGeneration is the metadata.generation the conditions describe.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// conditions: ResolvedRefs, Ready, Reconciling and Stalled.
	// +optional
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MaxItems=16
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// effectiveConfig is the Trigger's config with this binding's overrides
	// merged in: what Trigger.Match sees.
	// +optional
	// +kubebuilder:pruning:PreserveUnknownFields
	// +kubebuilder:validation:Type=object
	EffectiveConfig *runtime.RawExtension `json:"effectiveConfig,omitempty"`

	// lastMatch is the result of the newest Event this binding evaluated.
	// +optional
	LastMatch *MatchSummary `json:"lastMatch,omitempty"`
}

// MatchSummary is what a binding made of one Event.
type MatchSummary struct {
	// event is the name of the Event.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Event string `json:"event"`

	// result is Matched, Skipped or Failed.
	// +required
	Result MatchResult `json:"result"`

	// rollout is the Rollout created when the result is Matched.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	Rollout string `json:"rollout,omitempty"`

	// reason says, for people, why the Event was skipped or how matching
	// failed.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	Reason string `json:"reason,omitempty"`

	// time is when the Event was evaluated.
	// +optional
	Time *metav1.Time `json:"time,omitempty"`
}

// TriggerBinding connects a Trigger to a Workload: each Event of the Trigger
// is matched against the Workload with the merged config, and a match creates
// a Rollout.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Namespaced,shortName=tb,categories=tinyforge
// +kubebuilder:printcolumn:name="Trigger",type=string,JSONPath=`.spec.triggerRef.name`
// +kubebuilder:printcolumn:name="Workload",type=string,JSONPath=`.spec.workloadRef.name`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Last Result",type=string,priority=1,JSONPath=`.status.lastMatch.result`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type TriggerBinding struct {
	metav1.TypeMeta `json:",inline"`

	// metadata is the standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec names the Trigger and the Workload.
	// +required
	Spec TriggerBindingSpec `json:"spec"`

	// status is written by the TriggerBinding and Event controllers.
	// +optional
	Status TriggerBindingStatus `json:"status,omitempty"`
}

// GetConditions returns status.conditions.
func (b *TriggerBinding) GetConditions() []metav1.Condition { return b.Status.Conditions }

// SetConditions replaces status.conditions.
func (b *TriggerBinding) SetConditions(c []metav1.Condition) { b.Status.Conditions = c }

// TriggerBindingList is a list of TriggerBindings.
// +kubebuilder:object:root=true
type TriggerBindingList struct {
	metav1.TypeMeta `json:",inline"`
	// metadata is the standard list metadata.
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`
	// items are the TriggerBindings.
	Items []TriggerBinding `json:"items"`
}

func init() {
	SchemeBuilder.Register(&TriggerBinding{}, &TriggerBindingList{})
}
