package plugins

import (
	"time"

	"k8s.io/apimachinery/pkg/types"
)

// Workload is what a source needs to know about one Workload, independent of
// the API version. The Workload controller fills it from the API object:
// defaults applied, durations parsed, env values resolved from Secrets. A
// plugin treats it as read-only.
type Workload struct {
	// Namespace and Name of the Workload object; with UID they go into the
	// Docker labels and names of everything the source creates.
	Namespace string
	Name      string
	UID       types.UID

	// Generation is metadata.generation, for messages and events.
	Generation int64

	// Config is spec.source.config as JSON; nil means {}.
	Config []byte

	// Env is spec.env with every valueFrom resolved, in spec order.
	// Optional variables whose Secret is missing are left out.
	Env []EnvVar

	// Routes is spec.routes with defaults applied (PathPrefix is never empty).
	Routes []Route

	// HealthCheck is spec.healthCheck with defaults applied.
	HealthCheck HealthCheck

	// Strategy is spec.strategy with defaults applied.
	Strategy Strategy

	// CurrentRevision is status.currentRevision: the revision serving now,
	// empty before the first successful deploy.
	CurrentRevision string

	// RemoveVolumes is spec.removeVolumesOnDelete: Teardown also removes the
	// workload's Docker volumes.
	RemoveVolumes bool
}

// NamespacedName returns the Workload's namespace and name.
func (w Workload) NamespacedName() types.NamespacedName {
	return types.NamespacedName{Namespace: w.Namespace, Name: w.Name}
}

// EnvStrings returns Env as Docker wants it: NAME=value, in order.
func (w Workload) EnvStrings() []string {
	if len(w.Env) == 0 {
		return nil
	}
	out := make([]string, 0, len(w.Env))
	for _, e := range w.Env {
		out = append(out, e.Name+"="+e.Value)
	}
	return out
}

// EnvVar is one resolved environment variable.
type EnvVar struct {
	Name  string
	Value string
}

// Route publishes one container port through the proxy.
type Route struct {
	// Host is the public hostname; empty matches any host no other route
	// claims.
	Host string
	// PathPrefix is the request path prefix, "/" at least.
	PathPrefix string
	// Port is the container port that receives the traffic.
	Port int32
	// Service is the compose service that receives the traffic; other
	// sources ignore it.
	Service string
}

// Key returns the key under which the route is published in a RouteTable.
func (r Route) Key() RouteKey {
	p := r.PathPrefix
	if p == "" {
		p = "/"
	}
	return RouteKey{Host: r.Host, PathPrefix: p}
}

// HealthCheck decides when a revision is healthy.
type HealthCheck struct {
	// Path is the HTTP path probed with GET; empty means no HTTP probe, and
	// a revision is healthy once its containers have run for MinReady.
	Path string
	// Port is the container port probed; zero means the first route's port.
	Port int32
	// Interval between two probes.
	Interval time.Duration
	// Timeout of one probe.
	Timeout time.Duration
	// StartPeriod after the containers start during which failed probes do
	// not count.
	StartPeriod time.Duration
	// MinReady is spec.healthCheck.minReadySeconds: how long a new revision
	// must run (and pass its probe) before it receives traffic.
	MinReady time.Duration
	// FailureThreshold is how many probes in a row must fail before a
	// revision counts as unhealthy; at least 1.
	FailureThreshold int32
}

// StrategyType is how a new revision replaces the running one.
type StrategyType string

// Strategy types; the API's spec.strategy.type values.
const (
	// StrategyBlueGreen starts the new revision beside the old one, waits
	// until it is healthy, switches the routes, then drains and removes the
	// old one.
	StrategyBlueGreen StrategyType = "BlueGreen"
	// StrategyRecreate stops the old revision before starting the new one.
	StrategyRecreate StrategyType = "Recreate"
)

// Strategy is how a new revision replaces the running one.
type Strategy struct {
	// Type is BlueGreen or Recreate.
	Type StrategyType
	// DrainTimeout is how long the old revision keeps serving in-flight
	// requests after the switch before it is stopped.
	DrainTimeout time.Duration
	// ProgressDeadline bounds a whole deploy; the controller also puts it on
	// the context passed to Deploy.
	ProgressDeadline time.Duration
}
