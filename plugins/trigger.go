package plugins

import (
	"context"
	"errors"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/types"

	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Trigger decides whether an inbound event redeploys a workload, and with
// which revision. Kinds: registry, git, manual, cron.
//
// A Trigger holds no state between calls. Match is called once per
// TriggerBinding of the event's Trigger, concurrently for different bindings.
type Trigger interface {
	// Kind is the value of spec.kind that selects this plugin: constant, a
	// DNS label.
	Kind() string

	// Validate checks a trigger config and returns every problem found, each
	// with a path under path (for example spec.config.tagPolicy). Admission
	// calls it for Trigger spec.config and for the result of merging a
	// TriggerBinding's spec.config over it, so it must be fast and must not
	// reach the network. A nil or empty config means {}.
	Validate(path *field.Path, config []byte) field.ErrorList

	// Match decides what m.Event means for m.Workload under the merged
	// config m.Config:
	//   - MatchResult.Intent set: deploy that intent (MatchResult.Matched);
	//   - MatchResult.SkipReason set: do nothing, and say why
	//     (MatchResult.Skipped), for example "tag 1.2.0-rc1 is outside
	//     the tag policy";
	//   - error: matching could not be decided (the registry did not answer,
	//     a Secret is missing); the binding's outcome is Failed with the
	//     error's message.
	// Exactly one of the three holds; MatchResult.Validate checks it.
	Match(ctx context.Context, deps Deps, m MatchRequest) (MatchResult, error)
}

// MatchRequest is one Event seen by one TriggerBinding.
type MatchRequest struct {
	// Workload is the binding's spec.workloadRef, as sources see it.
	Workload Workload
	// Config is the Trigger's spec.config with the binding's spec.config
	// merged over it (MergeConfig); never nil.
	Config []byte
	// Event is the normalized inbound event.
	Event InboundEvent
}

// MatchResult is Match's verdict when it did not fail: an intent to deploy,
// or a reason to skip. The zero value is invalid.
type MatchResult struct {
	// Intent, when set, is what to deploy.
	Intent *DeploymentIntent
	// SkipReason, when Intent is nil, says why nothing is deployed; it is
	// shown to people in the Event's status.
	SkipReason string
}

// Matched returns a MatchResult that deploys intent.
func Matched(intent DeploymentIntent) MatchResult {
	return MatchResult{Intent: &intent}
}

// Skipped returns a MatchResult that deploys nothing, for the reason given
// as a fmt format and arguments.
func Skipped(format string, args ...any) MatchResult {
	return MatchResult{SkipReason: fmt.Sprintf(format, args...)}
}

// Validate checks that r is either a valid intent or a skip with a reason.
// The controller calls it on every result, so a buggy plugin fails the
// binding with a clear message instead of deploying nonsense.
func (r MatchResult) Validate() error {
	switch {
	case r.Intent != nil && r.SkipReason != "":
		return errors.New("match result has both an intent and a skip reason")
	case r.Intent != nil:
		if err := r.Intent.Validate(); err != nil {
			return fmt.Errorf("match result intent: %w", err)
		}
		return nil
	case r.SkipReason == "":
		return errors.New("match result has neither an intent nor a skip reason")
	default:
		return nil
	}
}

// Poller is implemented by triggers that can look for a change themselves
// instead of (or beside) waiting for a webhook, such as a registry trigger
// resolving its tag policy against the registry. The Trigger controller
// calls Poll every PollInterval and creates an Event from the result,
// named after its DeliveryID, so the same state polled twice creates one
// Event only.
type Poller interface {
	// PollInterval returns how often to poll under config; zero means the
	// config does not ask for polling.
	PollInterval(config []byte) time.Duration

	// Poll returns the event that describes the current state of what the
	// trigger watches (for a registry trigger: the image its tag policy
	// picks, with its digest). DeliveryID must change exactly when that
	// state does. trigger is the Trigger's namespace and name, for reading
	// its Secrets.
	Poll(ctx context.Context, deps Deps, trigger types.NamespacedName, config []byte) (InboundEvent, error)
}

// Scheduler is implemented by triggers that fire on a schedule (cron). The
// Trigger controller, on the leader only, creates a cron-tick Event at each
// time Next returns.
type Scheduler interface {
	// Next returns the first time after after at which the schedule in
	// config fires.
	Next(config []byte, after time.Time) (time.Time, error)
}

// EventAcceptor is implemented by triggers that act on some event types
// only. The webhook ingress answers a delivery of any other type "ignored"
// and creates no Event, so a registry trigger's URL pasted into a git
// provider does not fill the cluster with Events that can never match.
type EventAcceptor interface {
	// Accepts reports whether events of type t can ever match.
	Accepts(t EventType) bool
}
