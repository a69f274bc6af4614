package plugins

import (
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/types"
)

// EventType is what happened, normalized across providers.
type EventType string

// Event types; the API's Event spec.type values.
const (
	// EventTypeImagePush: an image was pushed to a registry; Image is set.
	EventTypeImagePush EventType = "image-push"
	// EventTypeGitPush: commits were pushed to a branch; Git is set.
	EventTypeGitPush EventType = "git-push"
	// EventTypeGitTag: a tag was pushed; Git is set with a refs/tags/ ref.
	EventTypeGitTag EventType = "git-tag"
	// EventTypeManual: a person asked for a deploy; Manual is set.
	EventTypeManual EventType = "manual"
	// EventTypeCronTick: a cron trigger's schedule fired.
	EventTypeCronTick EventType = "cron-tick"
	// EventTypePing: a provider tested the webhook; nothing is deployed.
	EventTypePing EventType = "ping"
)

// InboundEvent is an Event resource as triggers see it: what the ingress (or
// a person, or a schedule) reported, normalized across providers. Exactly
// the part matching Type among Image, Git and Manual is set.
type InboundEvent struct {
	// Name of the Event resource; triggers copy it into
	// DeploymentIntent.EventName.
	Name string

	// Provider that sent the delivery: github, gitlab, gitea, dockerhub,
	// distribution, harbor or generic; empty for manual and cron events.
	Provider string

	// Type of the event.
	Type EventType

	// DeliveryID is the provider's ID of the delivery, unique per provider.
	DeliveryID string

	// Trigger is the namespace and name of the Trigger that received it.
	Trigger types.NamespacedName

	// Image is set for image-push events. For registries that do not sign
	// their webhooks it is a hint: triggers resolve the digest from the
	// registry rather than trust Digest.
	Image *ImageRef

	// Git is set for git-push and git-tag events.
	Git *GitEvent

	// Manual is set for manual events.
	Manual *ManualEvent

	// ReceivedTime is when the ingress received the delivery (or the
	// schedule fired).
	ReceivedTime time.Time
}

// GitEvent is a push of commits or of a tag.
type GitEvent struct {
	// URL of the repository, as git clone takes it.
	URL string
	// Ref that moved, in full: refs/heads/main, refs/tags/v1.2.0.
	Ref string
	// Commit the ref points to now.
	Commit string
	// Before is the commit the ref pointed to before; empty or all zeros
	// when the ref was created.
	Before string
	// Author of the head commit, as "Name <email>" or a user name.
	Author string
	// Message of the head commit.
	Message string
	// ChangedPaths are the paths added, modified or removed by the pushed
	// commits, as far as the provider reports them.
	ChangedPaths []string
}

// Branch returns the branch name when Ref is a branch (refs/heads/…), and
// "", false otherwise.
func (g *GitEvent) Branch() (string, bool) {
	return cutRef(g.Ref, "refs/heads/")
}

// Tag returns the tag name when Ref is a tag (refs/tags/…), and "", false
// otherwise.
func (g *GitEvent) Tag() (string, bool) {
	return cutRef(g.Ref, "refs/tags/")
}

func cutRef(ref, prefix string) (string, bool) {
	name, ok := strings.CutPrefix(ref, prefix)
	if !ok || name == "" {
		return "", false
	}
	return name, true
}

// GitRef returns the repository, ref and commit, as a DeploymentIntent
// carries them.
func (g *GitEvent) GitRef() GitRef {
	return GitRef{URL: g.URL, Ref: g.Ref, Commit: g.Commit}
}

// ManualEvent is a person's request to deploy (forgectl deploy).
type ManualEvent struct {
	// Workload is the name of the workload to deploy, in the Trigger's
	// namespace; empty means every bound workload.
	Workload string
	// Revision to deploy; empty means the trigger decides (for example the
	// current config).
	Revision string
	// Reason the person gave.
	Reason string
	// User who asked, as the API server authenticated them.
	User string
}
