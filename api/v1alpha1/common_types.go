package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// LocalObjectReference names another object of a known kind in the same
// namespace (for cluster-scoped referrers, of a cluster-scoped kind).
type LocalObjectReference struct {
	// name of the referenced object.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
}

// Provider is the service a webhook delivery comes from; it decides how the
// ingress verifies and parses the delivery.
// +kubebuilder:validation:Enum=github;gitlab;gitea;dockerhub;distribution;harbor;generic
type Provider string

// Webhook providers.
const (
	// ProviderGitHub: GitHub push, tag and ping deliveries, HMAC-SHA256 signed.
	ProviderGitHub Provider = "github"
	// ProviderGitLab: GitLab push and tag push deliveries, shared-token checked.
	ProviderGitLab Provider = "gitlab"
	// ProviderGitea: Gitea and Forgejo push deliveries, HMAC-SHA256 signed.
	ProviderGitea Provider = "gitea"
	// ProviderDockerHub: Docker Hub repository push callbacks.
	ProviderDockerHub Provider = "dockerhub"
	// ProviderDistribution: CNCF Distribution (docker-registry) notifications.
	ProviderDistribution Provider = "distribution"
	// ProviderHarbor: Harbor webhook policies (PUSH_ARTIFACT).
	ProviderHarbor Provider = "harbor"
	// ProviderGeneric: TinyForge's own JSON payload, for scripts and CI jobs.
	ProviderGeneric Provider = "generic"
)

// EventType is what happened, normalized across providers.
// +kubebuilder:validation:Enum=image-push;git-push;git-tag;manual;cron-tick;ping
type EventType string

// Event types.
const (
	// EventTypeImagePush: an image was pushed to a registry; spec.image is set.
	EventTypeImagePush EventType = "image-push"
	// EventTypeGitPush: commits were pushed to a branch; spec.git is set.
	EventTypeGitPush EventType = "git-push"
	// EventTypeGitTag: a tag was pushed; spec.git is set with a refs/tags/ ref.
	EventTypeGitTag EventType = "git-tag"
	// EventTypeManual: a person asked for a deploy; spec.manual is set.
	EventTypeManual EventType = "manual"
	// EventTypeCronTick: a cron trigger's schedule fired.
	EventTypeCronTick EventType = "cron-tick"
	// EventTypePing: a provider tested the webhook; nothing is deployed.
	EventTypePing EventType = "ping"
)

// MatchResult is what one TriggerBinding made of one Event.
// +kubebuilder:validation:Enum=Matched;Skipped;Failed
type MatchResult string

// Match results.
const (
	// MatchResultMatched: the trigger matched and a Rollout was created.
	MatchResultMatched MatchResult = "Matched"
	// MatchResultSkipped: the trigger did not match (for example the tag is
	// outside the tag policy, or the binding is suspended); the reason says why.
	MatchResultSkipped MatchResult = "Skipped"
	// MatchResultFailed: matching or creating the Rollout failed; the reason
	// holds the error.
	MatchResultFailed MatchResult = "Failed"
)

// MaxRevisionLength bounds every revision string in this API (an image
// digest, a git commit or a config hash, possibly prefixed), so revisions fit
// in Docker labels, object names and printer columns.
const MaxRevisionLength = 128

// Reasons of SourceKind and TriggerKind conditions, beside the shared ones in
// conditions.go.
const (
	// PluginKindReasonRegistered applies to Ready=True: the plugin of this
	// kind is compiled into the running server.
	PluginKindReasonRegistered = "Registered"

	// PluginKindReasonUnregistered applies to Ready=False when the object was
	// published by an earlier server whose plugin the running one lacks;
	// objects naming the kind stall with ReasonUnknownKind.
	PluginKindReasonUnregistered = "Unregistered"
)

// PluginKindSpec describes one registered plugin kind: what it does, the JSON
// schema of its config and a sample config. The server writes it at start;
// it is read-only for users.
type PluginKindSpec struct {
	// description says in a sentence or two what the plugin does.
	// +optional
	// +kubebuilder:validation:MaxLength=4096
	Description string `json:"description,omitempty"`

	// schema is the JSON schema (draft 2020-12 subset understood by OpenAPI
	// v3) of the plugin's config.
	// +optional
	// +kubebuilder:pruning:PreserveUnknownFields
	// +kubebuilder:validation:Type=object
	Schema *runtime.RawExtension `json:"schema,omitempty"`

	// sample is a config the plugin accepts, to copy from.
	// +optional
	// +kubebuilder:pruning:PreserveUnknownFields
	// +kubebuilder:validation:Type=object
	Sample *runtime.RawExtension `json:"sample,omitempty"`
}

// PluginKindStatus says whether the running server has the plugin.
type PluginKindStatus struct {
	// observedGeneration is the metadata.generation the conditions describe.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// conditions: Ready is True while the running server has the plugin.
	// +optional
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MaxItems=16
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}
