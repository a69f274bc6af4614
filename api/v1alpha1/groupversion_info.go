package v1alpha1

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/scheme"
)

// GroupName is the API group of every TinyForge resource.
const GroupName = "tinyforge.dev"

var (
	// GroupVersion is the group and version of the types in this package.
	GroupVersion = schema.GroupVersion{Group: GroupName, Version: "v1alpha1"}

	// SchemeBuilder registers the types of this package with a runtime.Scheme.
	SchemeBuilder = &scheme.Builder{GroupVersion: GroupVersion}

	// AddToScheme adds the types of this package to a runtime.Scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)

// Kinds of this group, for owner references, events and error messages.
const (
	KindWorkload       = "Workload"
	KindTrigger        = "Trigger"
	KindTriggerBinding = "TriggerBinding"
	KindEvent          = "Event"
	KindRollout        = "Rollout"
	KindSourceKind     = "SourceKind"
	KindTriggerKind    = "TriggerKind"
)

// Resource qualifies a resource name (plural, lower case) with this group.
func Resource(resource string) schema.GroupResource {
	return GroupVersion.WithResource(resource).GroupResource()
}
