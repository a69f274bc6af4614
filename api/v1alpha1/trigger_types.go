package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// DefaultTriggerSecretKey is the key read from spec.secretRef's Secret when
// the reference names none.
const DefaultTriggerSecretKey = "token"

// Trigger reasons, beside the shared ones in conditions.go.
const (
	// TriggerReasonSecretNotFound applies to Ready=False when the Secret or
	// key named by spec.secretRef is missing. The webhook path is kept, but
	// the ingress refuses deliveries it cannot verify; the controller retries
	// when the Secret appears.
	TriggerReasonSecretNotFound = "SecretNotFound"

	// TriggerReasonProviderUnsupported applies to Stalled=True and Ready=False
	// when spec.provider is one the trigger kind cannot receive (for example a
	// git provider on a registry trigger).
	TriggerReasonProviderUnsupported = "ProviderUnsupported"
)

// TriggerSpec is when workloads bound to this trigger should redeploy.
type TriggerSpec struct {
	// kind is the trigger plugin: registry, git, manual, cron, or any kind
	// listed by `forgectl get triggerkinds`.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	Kind string `json:"kind"`

	// config is the plugin's own config, checked at admission by the plugin's
	// Validate; its schema and a sample are in the TriggerKind of the same
	// name. A TriggerBinding may override its top-level fields.
	// +optional
	// +kubebuilder:pruning:PreserveUnknownFields
	// +kubebuilder:validation:Type=object
	Config *runtime.RawExtension `json:"config,omitempty"`

	// provider is the service that sends the webhooks, which decides how
	// deliveries are verified and parsed. Empty means detect it from each
	// delivery's headers.
	// +optional
	Provider Provider `json:"provider,omitempty"`

	// secretRef names the Secret holding the token that webhook signatures or
	// tokens are checked against. Without it the ingress cannot verify
	// deliveries, and their Events say so in spec.verification.
	// +optional
	SecretRef *TriggerSecretReference `json:"secretRef,omitempty"`

	// suspend makes the ingress answer deliveries without creating Events.
	// +optional
	Suspend bool `json:"suspend,omitempty"`
}

// TriggerSecretReference names a key of a Secret in the trigger's namespace.
type TriggerSecretReference struct {
	// name of the Secret.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`

	// key within the Secret's data.
	// +optional
	// +kubebuilder:default=token
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[-._a-zA-Z0-9]+$`
	Key string `json:"key,omitempty"`
}

// TriggerStatus is where the trigger listens and what it last received.
type TriggerStatus struct {
	// observedGeneration is the metadata.generation the conditions describe.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// conditions: Ready, Reconciling and Stalled, with kstatus meanings.
	// +optional
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MaxItems=16
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// webhookPath is the path, starting with /hooks/, at which the webhook
	// ingress accepts deliveries for this trigger. It is derived from a hash
	// of the token, name and namespace, never the token itself, so it changes
	// when the token does. `forgectl webhook-url` prints the full URL.
	// +optional
	// +kubebuilder:validation:MaxLength=256
	WebhookPath string `json:"webhookPath,omitempty"`

	// secretName is the Secret in this namespace holding the webhook token:
	// spec.secretRef.name, or the Secret the controller generated when
	// spec.secretRef is absent (key "token").
	// +optional
	// +kubebuilder:validation:MaxLength=253
	SecretName string `json:"secretName,omitempty"`

	// lastScheduleTime is when the schedule of a cron trigger last fired.
	// A restarted or newly elected controller fires at most the one tick
	// missed most recently, never a burst.
	// +optional
	LastScheduleTime *metav1.Time `json:"lastScheduleTime,omitempty"`

	// lastEvent is the newest Event created for this trigger.
	// +optional
	LastEvent *EventSummary `json:"lastEvent,omitempty"`
}

// EventSummary is a short reference to one Event.
type EventSummary struct {
	// name of the Event.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`

	// type of the Event.
	// +optional
	Type EventType `json:"type,omitempty"`

	// receivedTime is when the ingress received the delivery.
	// +optional
	ReceivedTime *metav1.Time `json:"receivedTime,omitempty"`
}

// Trigger turns webhook deliveries (or a schedule, or a person) into Events
// for the workloads bound to it by TriggerBindings.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Namespaced,shortName=trg,categories=tinyforge
// +kubebuilder:printcolumn:name="Kind",type=string,JSONPath=`.spec.kind`
// +kubebuilder:printcolumn:name="Provider",type=string,priority=1,JSONPath=`.spec.provider`
// +kubebuilder:printcolumn:name="Webhook Path",type=string,JSONPath=`.status.webhookPath`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Last Event",type=date,priority=1,JSONPath=`.status.lastEvent.receivedTime`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type Trigger struct {
	metav1.TypeMeta `json:",inline"`

	// metadata is the standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is what the trigger listens for.
	// +required
	Spec TriggerSpec `json:"spec"`

	// status is written by the Trigger controller and the webhook ingress.
	// +optional
	Status TriggerStatus `json:"status,omitempty"`
}

// GetConditions returns status.conditions.
func (t *Trigger) GetConditions() []metav1.Condition { return t.Status.Conditions }

// SetConditions replaces status.conditions.
func (t *Trigger) SetConditions(c []metav1.Condition) { t.Status.Conditions = c }

// TriggerList is a list of Triggers.
// +kubebuilder:object:root=true
type TriggerList struct {
	metav1.TypeMeta `json:",inline"`
	// metadata is the standard list metadata.
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`
	// items are the Triggers.
	Items []Trigger `json:"items"`
}

func init() {
	SchemeBuilder.Register(&Trigger{}, &TriggerList{})
}
