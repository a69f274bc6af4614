package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TriggerKind publishes one registered trigger plugin (registry, git,
// manual, cron …): when a Trigger fires. Its name is the kind, as written in
// a Trigger's spec.kind. The server writes one per plugin at start; users
// list them with `forgectl get triggerkinds` to discover kinds, config
// schemas and samples.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,shortName=tk,categories=tinyforge
// +kubebuilder:printcolumn:name="Description",type=string,JSONPath=`.spec.description`
// +kubebuilder:printcolumn:name="Ready",type=string,priority=1,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type TriggerKind struct {
	metav1.TypeMeta `json:",inline"`

	// metadata is the standard object metadata; the name is the plugin kind.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec describes the plugin.
	// +required
	Spec PluginKindSpec `json:"spec"`

	// status says whether the running server has the plugin.
	// +optional
	Status PluginKindStatus `json:"status,omitempty"`
}

// GetConditions returns status.conditions.
func (k *TriggerKind) GetConditions() []metav1.Condition { return k.Status.Conditions }

// SetConditions replaces status.conditions.
func (k *TriggerKind) SetConditions(c []metav1.Condition) { k.Status.Conditions = c }

// TriggerKindList is a list of TriggerKinds.
// +kubebuilder:object:root=true
type TriggerKindList struct {
	metav1.TypeMeta `json:",inline"`
	// metadata is the standard list metadata.
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`
	// items are the TriggerKinds.
	Items []TriggerKind `json:"items"`
}

func init() {
	SchemeBuilder.Register(&TriggerKind{}, &TriggerKindList{})
}
