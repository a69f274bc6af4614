package plugins

import (
	"context"

	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Source runs a workload on Docker: it turns a DeploymentIntent into running
// containers, keeps them running, and removes them. Kinds: image, compose,
// static.
//
// A Source holds no state between calls. Docker labels (see internal/docker)
// and the API objects are the state, so any controller replica can call any
// method after a restart. Only the Workload controller calls Deploy, Reconcile
// and Teardown, and never two of them at once for the same workload.
type Source interface {
	// Kind is the value of spec.source.kind that selects this plugin. It is
	// constant, a DNS label (lowercase letters, digits and '-', at most 63
	// characters).
	Kind() string

	// Validate checks spec.source.config and returns every problem found,
	// each with a path under path (for example spec.source.config.image). It
	// runs in admission, so it must be fast and must not reach Docker or the
	// network. A nil or empty config means {}.
	Validate(path *field.Path, config []byte) field.ErrorList

	// Deploy makes intent.Revision the running revision of w: start it, wait
	// until it is healthy, route traffic to it and retire the previous one, as
	// w.Strategy says. If the new revision never becomes healthy, the previous
	// one keeps serving and Deploy returns an error. Deploy is called again
	// after a failure or a controller restart, so it must pick up whatever a
	// previous attempt left behind (found by its labels) rather than fail on
	// it.
	Deploy(ctx context.Context, deps Deps, w Workload, intent DeploymentIntent) (DeployResult, error)

	// Reconcile repairs drift of w's current revision (w.CurrentRevision):
	// containers that crashed or were removed are recreated, routes are
	// re-published. It does not change the revision. An error means the
	// repair could not be attempted; a failed repair is reported as
	// Healthy=false with a message.
	Reconcile(ctx context.Context, deps Deps, w Workload) (ReconcileResult, error)

	// Teardown removes everything the plugin created for w: routes,
	// containers, networks, and volumes when w.RemoveVolumes is set. It
	// succeeds when there is nothing left to remove, so it may be called any
	// number of times.
	Teardown(ctx context.Context, deps Deps, w Workload) error
}

// DeployResult is what a successful Deploy reports; the controller copies it
// into the Rollout's and the Workload's status.
type DeployResult struct {
	// Revision is the revision now serving, normally the intent's. A source
	// may refine it (for example an image tag resolved to its digest).
	Revision string

	// Endpoints are the addresses of the new revision's containers as the
	// proxy reaches them (host:port).
	Endpoints []string

	// Message is a one-line summary for people, such as "started 2
	// containers, drained web-3f2a".
	Message string

	// Services lists what happened to each service (container or compose
	// service) of the workload.
	Services []ServiceResult
}

// ServiceAction is what a deploy did to one service.
type ServiceAction string

// Service actions.
const (
	// ServiceCreated: the service did not run before and was started.
	ServiceCreated ServiceAction = "Created"
	// ServiceReplaced: a new revision of the service replaced the old one.
	ServiceReplaced ServiceAction = "Replaced"
	// ServiceUnchanged: the service already ran the wanted revision.
	ServiceUnchanged ServiceAction = "Unchanged"
	// ServiceRemoved: the service is gone from the config and was removed.
	ServiceRemoved ServiceAction = "Removed"
)

// ServiceResult is what a deploy did to one service of a workload.
type ServiceResult struct {
	// Name of the service: the container name for single-container sources,
	// the compose service name for compose.
	Name string
	// Action taken.
	Action ServiceAction
	// BlueGreen is set when a Replaced service was replaced blue-green
	// (started beside the old one, health-gated, switched, drained) rather
	// than stopped and recreated in place.
	BlueGreen bool
}

// ReconcileResult is what Reconcile found and did.
type ReconcileResult struct {
	// Healthy is true when every container of the current revision runs and
	// passes its health check after the repair.
	Healthy bool

	// Message says what is wrong when Healthy is false, or summarizes the
	// repair.
	Message string

	// Recreated names the containers (or compose services) that were
	// recreated, so the controller can record an event about each.
	Recreated []string

	// Endpoints are the current revision's addresses after the repair; a
	// recreated container may have a new one. The controller replaces
	// status.endpoints with them.
	Endpoints []string
}
