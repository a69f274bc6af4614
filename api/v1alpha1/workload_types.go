package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// Defaults of a Workload's spec, as the API server applies them. Controllers
// fall back to them when they meet an object that was never defaulted (for
// example one built in a unit test).
const (
	DefaultRevisionHistoryLimit   int32 = 10
	DefaultPathPrefix                   = "/"
	DefaultDrainTimeout                 = "30s"
	DefaultProgressDeadline             = "5m"
	DefaultHealthCheckInterval          = "2s"
	DefaultHealthCheckTimeout           = "2s"
	DefaultHealthCheckStartPeriod       = "0s"
	DefaultFailureThreshold       int32 = 3
)

// Workload reasons, beside the shared ones in conditions.go.
const (
	// WorkloadReasonDeploying applies to Reconciling=True and Ready=Unknown
	// while a Rollout of this workload is being deployed.
	WorkloadReasonDeploying = "Deploying"

	// WorkloadReasonAwaitingApproval applies to Ready=False while the newest
	// Rollout waits for approval (spec.approval is Manual); the current
	// revision keeps serving.
	WorkloadReasonAwaitingApproval = "AwaitingApproval"

	// WorkloadReasonHealthCheckFailed applies to Ready=False when the new
	// revision never passed its health check; the previous revision keeps
	// serving and the Rollout is Failed.
	WorkloadReasonHealthCheckFailed = "HealthCheckFailed"

	// WorkloadReasonDeployFailed applies to Ready=False when Source.Deploy
	// returned an error (for example an image that cannot be pulled). The
	// controller retries on the next change or resync.
	WorkloadReasonDeployFailed = "DeployFailed"

	// WorkloadReasonProgressDeadlineExceeded applies to Stalled=True and
	// Ready=False when a Rollout did not finish within
	// spec.strategy.progressDeadline.
	WorkloadReasonProgressDeadlineExceeded = "ProgressDeadlineExceeded"

	// WorkloadReasonDegraded applies to Ready=False when containers of the
	// current revision have crashed or disappeared and Source.Reconcile is
	// recreating them.
	WorkloadReasonDegraded = "Degraded"

	// WorkloadReasonSecretNotFound applies to Ready=False when a Secret or key
	// named by spec.env[].valueFrom.secretKeyRef (and not optional) is
	// missing; the controller retries when it appears.
	WorkloadReasonSecretNotFound = "SecretNotFound"
)

// StrategyType is how a new revision replaces the running one.
// +kubebuilder:validation:Enum=BlueGreen;Recreate
type StrategyType string

// Strategy types.
const (
	// StrategyBlueGreen starts the new revision beside the old one, waits for
	// its health check, switches the routes, then drains and removes the old
	// one. Requests are not dropped.
	StrategyBlueGreen StrategyType = "BlueGreen"
	// StrategyRecreate stops the old revision before starting the new one,
	// for workloads that cannot run twice (a fixed host port, a lock on a
	// volume). Expect a short outage.
	StrategyRecreate StrategyType = "Recreate"
)

// ApprovalPolicy decides whether a Rollout deploys at once.
// +kubebuilder:validation:Enum=None;Manual
type ApprovalPolicy string

// Approval policies.
const (
	// ApprovalNone deploys every Rollout as soon as it is created.
	ApprovalNone ApprovalPolicy = "None"
	// ApprovalManual holds every Rollout in AwaitingApproval until a person
	// sets its spec.approved (`forgectl rollout approve`).
	ApprovalManual ApprovalPolicy = "Manual"
)

// WorkloadSpec is what should run, where it is reachable and how new
// revisions replace old ones.
type WorkloadSpec struct {
	// source selects the source plugin that runs the workload and holds its
	// config.
	// +required
	Source WorkloadSource `json:"source"`

	// env is set in every container of the workload, after the image's own
	// environment.
	// +optional
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=256
	Env []EnvVar `json:"env,omitempty"`

	// routes publish the workload through the TinyForge proxy. Each maps a
	// public host and path prefix to a container port of the healthy revision.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=32
	// +kubebuilder:validation:XValidation:rule="self.all(r, self.exists_one(o, (has(o.host) ? o.host : '') == (has(r.host) ? r.host : '') && (has(o.pathPrefix) ? o.pathPrefix : '/') == (has(r.pathPrefix) ? r.pathPrefix : '/')))",message="each host and pathPrefix pair may appear in one route only"
	Routes []Route `json:"routes,omitempty"`

	// healthCheck decides when a new revision is healthy enough to receive
	// traffic, and when a running one has failed.
	// +optional
	// +kubebuilder:default={}
	HealthCheck *HealthCheck `json:"healthCheck,omitempty"`

	// strategy is how a new revision replaces the running one.
	// +optional
	// +kubebuilder:default={}
	Strategy *WorkloadStrategy `json:"strategy,omitempty"`

	// suspend stops the controller from deploying or reconciling this
	// workload; what runs keeps running. New Rollouts wait until it is resumed.
	// +optional
	Suspend bool `json:"suspend,omitempty"`

	// approval is None to deploy every Rollout at once, or Manual to hold each
	// one until it is approved.
	// +optional
	// +kubebuilder:default=None
	Approval ApprovalPolicy `json:"approval,omitempty"`

	// revisionHistoryLimit is how many finished Rollouts are kept for
	// `forgectl rollout history` and rollback; older ones are deleted.
	// +optional
	// +kubebuilder:default=10
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=1000
	RevisionHistoryLimit *int32 `json:"revisionHistoryLimit,omitempty"`

	// removeVolumesOnDelete also removes the Docker volumes the workload
	// created when the workload is deleted. By default volumes are kept, so
	// deleting and re-applying a workload keeps its data.
	// +optional
	RemoveVolumesOnDelete bool `json:"removeVolumesOnDelete,omitempty"`
}

// WorkloadSource selects a source plugin and carries its config.
type WorkloadSource struct {
	// kind is the source plugin: image, compose, static, or any kind listed by
	// `forgectl get sourcekinds`.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	Kind string `json:"kind"`

	// config is the plugin's own config, checked at admission by the plugin's
	// Validate; its schema and a sample are in the SourceKind of the same name.
	// +optional
	// +kubebuilder:pruning:PreserveUnknownFields
	// +kubebuilder:validation:Type=object
	Config *runtime.RawExtension `json:"config,omitempty"`
}

// EnvVar is one environment variable, given literally or read from a Secret.
// +kubebuilder:validation:XValidation:rule="!(has(self.value) && has(self.valueFrom))",message="value and valueFrom are mutually exclusive"
type EnvVar struct {
	// name of the variable.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=256
	// +kubebuilder:validation:Pattern=`^[-._a-zA-Z][-._a-zA-Z0-9]*$`
	Name string `json:"name"`

	// value of the variable. Unset together with valueFrom means the empty
	// string.
	// +optional
	// +kubebuilder:validation:MaxLength=32768
	Value string `json:"value,omitempty"`

	// valueFrom reads the value from a Secret in the workload's namespace.
	// +optional
	ValueFrom *EnvVarSource `json:"valueFrom,omitempty"`
}

// EnvVarSource is where an environment variable's value comes from.
type EnvVarSource struct {
	// secretKeyRef selects a key of a Secret in the workload's namespace.
	// +required
	SecretKeyRef SecretKeySelector `json:"secretKeyRef"`
}

// SecretKeySelector selects one key of a Secret in the same namespace.
type SecretKeySelector struct {
	// name of the Secret.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`

	// key within the Secret's data.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[-._a-zA-Z0-9]+$`
	Key string `json:"key"`

	// optional lets the workload deploy without the variable when the Secret
	// or key is missing. By default a missing Secret holds the deploy.
	// +optional
	Optional *bool `json:"optional,omitempty"`
}

// Route publishes one container port through the TinyForge proxy.
type Route struct {
	// host is the public hostname matched against the request's Host header.
	// Empty matches any host not claimed by another route.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	Host string `json:"host,omitempty"`

	// pathPrefix is the request path prefix the route matches; the longest
	// matching prefix wins. The prefix is passed on unchanged.
	// +optional
	// +kubebuilder:default="/"
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=1024
	// +kubebuilder:validation:Pattern=`^/`
	PathPrefix string `json:"pathPrefix,omitempty"`

	// port is the container port that receives the traffic.
	// +required
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	Port int32 `json:"port"`

	// service is the compose service that receives the traffic; required by
	// the compose source when the project has more than one service, ignored
	// by the others.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	Service string `json:"service,omitempty"`

	// tls serves the route over HTTPS.
	// +optional
	TLS *RouteTLS `json:"tls,omitempty"`
}

// RouteTLS is how the proxy terminates TLS for a route.
type RouteTLS struct {
	// secretName is a Secret in the workload's namespace with tls.crt and
	// tls.key. Empty means the proxy's default certificate.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	SecretName string `json:"secretName,omitempty"`
}

// HealthCheck decides when a revision is healthy. With a path, the proxy
// sends HTTP GETs to it; without one, a revision is healthy once its
// containers have run for minReadySeconds without restarting.
type HealthCheck struct {
	// path is the HTTP path probed with GET; any 2xx or 3xx answer passes.
	// Empty means no HTTP probe.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	// +kubebuilder:validation:Pattern=`^/`
	Path string `json:"path,omitempty"`

	// port is the container port probed. Unset means the port of the first
	// route.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	Port int32 `json:"port,omitempty"`

	// interval between two probes.
	// +optional
	// +kubebuilder:default="2s"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$`
	Interval *metav1.Duration `json:"interval,omitempty"`

	// timeout of one probe.
	// +optional
	// +kubebuilder:default="2s"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$`
	Timeout *metav1.Duration `json:"timeout,omitempty"`

	// startPeriod is a grace period after the containers start during which
	// failed probes do not count towards failureThreshold.
	// +optional
	// +kubebuilder:default="0s"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$`
	StartPeriod *metav1.Duration `json:"startPeriod,omitempty"`

	// minReadySeconds is how long a new revision must run (and pass its
	// probe, if it has one) before it receives traffic.
	// +optional
	// +kubebuilder:default=0
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=3600
	MinReadySeconds int32 `json:"minReadySeconds,omitempty"`

	// failureThreshold is how many probes in a row must fail before a
	// revision counts as unhealthy.
	// +optional
	// +kubebuilder:default=3
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=100
	FailureThreshold int32 `json:"failureThreshold,omitempty"`
}

// WorkloadStrategy is how a new revision replaces the running one.
type WorkloadStrategy struct {
	// type is BlueGreen (start new, switch, drain old) or Recreate (stop old,
	// start new).
	// +optional
	// +kubebuilder:default=BlueGreen
	Type StrategyType `json:"type,omitempty"`

	// drainTimeout is how long the old revision keeps serving in-flight
	// requests after the switch before it is stopped.
	// +optional
	// +kubebuilder:default="30s"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$`
	DrainTimeout *metav1.Duration `json:"drainTimeout,omitempty"`

	// progressDeadline is how long a Rollout may take from the start of its
	// deploy to a healthy switch before it is marked Failed.
	// +optional
	// +kubebuilder:default="5m"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$`
	ProgressDeadline *metav1.Duration `json:"progressDeadline,omitempty"`
}

// WorkloadStatus is what runs and how the last deploy went.
type WorkloadStatus struct {
	// observedGeneration is the metadata.generation the conditions describe.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// conditions: Ready, Reconciling and Stalled, with kstatus meanings.
	// +optional
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MaxItems=16
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// currentRevision is the revision that serves traffic now.
	// +optional
	// +kubebuilder:validation:MaxLength=128
	CurrentRevision string `json:"currentRevision,omitempty"`

	// endpoints are the addresses of the current revision's containers, as
	// the proxy reaches them (host:port).
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MaxLength=512
	Endpoints []string `json:"endpoints,omitempty"`

	// url is the public URL of the first route.
	// +optional
	// +kubebuilder:validation:MaxLength=2048
	URL string `json:"url,omitempty"`

	// routes are the workload's routes as published to the proxies, with
	// the backends serving each one now. The controller writes them at the
	// moment it switches a route, and proxies run apart from the controllers
	// (`tinyforge proxy`) route from them.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=64
	Routes []RouteStatus `json:"routes,omitempty"`

	// lastDeploy summarizes the newest Rollout that started deploying.
	// +optional
	LastDeploy *DeploySummary `json:"lastDeploy,omitempty"`
}

// RouteStatus is one published route and the backends serving it.
type RouteStatus struct {
	// host the route serves (the workload's default host when its spec
	// names none).
	// +required
	// +kubebuilder:validation:MaxLength=253
	Host string `json:"host"`

	// pathPrefix the route matches.
	// +required
	// +kubebuilder:validation:MaxLength=1024
	PathPrefix string `json:"pathPrefix"`

	// backends serve the route, all alike; none means the route is claimed
	// but nothing serves it (the proxy answers 503, the gap of a Recreate
	// deploy).
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=64
	Backends []RouteBackend `json:"backends,omitempty"`
}

// RouteBackend is one address serving a route.
type RouteBackend struct {
	// address is host:port as the proxy reaches the container.
	// +required
	// +kubebuilder:validation:MaxLength=512
	Address string `json:"address"`

	// revision the backend runs.
	// +optional
	// +kubebuilder:validation:MaxLength=128
	Revision string `json:"revision,omitempty"`
}

// DeploySummary is a copy of the essentials of one Rollout, so a Workload
// tells how its last deploy went without a second lookup.
type DeploySummary struct {
	// rollout is the name of the Rollout.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Rollout string `json:"rollout"`

	// revision the Rollout deploys.
	// +optional
	// +kubebuilder:validation:MaxLength=128
	Revision string `json:"revision,omitempty"`

	// phase of the Rollout.
	// +optional
	Phase RolloutPhase `json:"phase,omitempty"`

	// message from the Rollout: progress, or why it failed.
	// +optional
	// +kubebuilder:validation:MaxLength=32768
	Message string `json:"message,omitempty"`

	// startTime is when the deploy started.
	// +optional
	StartTime *metav1.Time `json:"startTime,omitempty"`

	// completionTime is when the deploy succeeded or failed.
	// +optional
	CompletionTime *metav1.Time `json:"completionTime,omitempty"`
}

// Workload is an application TinyForge runs on Docker: a source plugin and
// its config, environment, public routes, health check and rollout strategy.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Namespaced,shortName=wl,categories=tinyforge
// +kubebuilder:printcolumn:name="Source",type=string,JSONPath=`.spec.source.kind`
// +kubebuilder:printcolumn:name="Revision",type=string,JSONPath=`.status.currentRevision`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Status",type=string,priority=1,JSONPath=`.status.conditions[?(@.type=="Ready")].message`
// +kubebuilder:printcolumn:name="URL",type=string,priority=1,JSONPath=`.status.url`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type Workload struct {
	metav1.TypeMeta `json:",inline"`

	// metadata is the standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is what should run.
	// +required
	Spec WorkloadSpec `json:"spec"`

	// status is what runs, written by the Workload controller.
	// +optional
	Status WorkloadStatus `json:"status,omitempty"`
}

// GetConditions returns status.conditions.
func (w *Workload) GetConditions() []metav1.Condition { return w.Status.Conditions }

// SetConditions replaces status.conditions.
func (w *Workload) SetConditions(c []metav1.Condition) { w.Status.Conditions = c }

// WorkloadList is a list of Workloads.
// +kubebuilder:object:root=true
type WorkloadList struct {
	metav1.TypeMeta `json:",inline"`
	// metadata is the standard list metadata.
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`
	// items are the Workloads.
	Items []Workload `json:"items"`
}

func init() {
	SchemeBuilder.Register(&Workload{}, &WorkloadList{})
}
