// Package v1alpha1 holds the tinyforge.dev/v1alpha1 API: Workload, Trigger,
// TriggerBinding, Event and Rollout, plus the cluster-scoped SourceKind and
// TriggerKind catalogue that the server publishes at start.
//
// +kubebuilder:object:generate=true
// +groupName=tinyforge.dev
package v1alpha1
