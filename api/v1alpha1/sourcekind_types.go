package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// SourceKind publishes one registered source plugin (image, compose,
// static …): how a Workload runs. Its name is the kind, as written in a
// Workload's spec.source.kind. The server writes one per plugin at start;
// users list them with `forgectl get sourcekinds` to discover kinds, config
// schemas and samples.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,shortName=sk,categories=tinyforge
// +kubebuilder:printcolumn:name="Description",type=string,JSONPath=`.spec.description`
// +kubebuilder:printcolumn:name="Ready",type=string,priority=1,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type SourceKind struct {
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
func (k *SourceKind) GetConditions() []metav1.Condition { return k.Status.Conditions }

// SetConditions replaces status.conditions.
func (k *SourceKind) SetConditions(c []metav1.Condition) { k.Status.Conditions = c }

// SourceKindList is a list of SourceKinds.
// +kubebuilder:object:root=true
type SourceKindList struct {
	metav1.TypeMeta `json:",inline"`
	// metadata is the standard list metadata.
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`
	// items are the SourceKinds.
	Items []SourceKind `json:"items"`
}

func init() {
	SchemeBuilder.Register(&SourceKind{}, &SourceKindList{})
}
