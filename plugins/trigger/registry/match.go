package registry

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/go-logr/logr"
	"github.com/opencontainers/go-digest"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/tinyforge/tinyforge/plugins"
)

// configPath is where Match and Poll report a config that does not
// validate; admission normally refuses it first.
var configPath = field.NewPath("spec", "config")

// Match decides what m.Event means for a workload under the registry
// trigger config m.Config:
//   - image-push: a push of a tag the policy admits (and, for semver and
//     ordered regex policies, the newest such tag) deploys the digest the
//     registry serves for the tag now; the event's digest is only a hint;
//   - manual: the digest in Manual.Revision if the registry has it, else
//     the tag the policy picks from the registry's tags;
//   - cron-tick: the tag the policy picks;
//   - anything else is skipped.
//
// A registry that does not answer, or a missing Secret, is an error.
func (t *Trigger) Match(ctx context.Context, deps plugins.Deps, m plugins.MatchRequest) (plugins.MatchResult, error) {
	set, errs := parseConfig(configPath, m.Config)
	if len(errs) > 0 {
		return plugins.MatchResult{}, fmt.Errorf("invalid registry trigger config: %w", errs.ToAggregate())
	}
	ctx, cancel := context.WithTimeout(ctx, registryTimeout)
	defer cancel()
	namespace := m.Event.Trigger.Namespace
	if namespace == "" {
		namespace = m.Workload.Namespace
	}
	mt := &matcher{
		deps: deps, set: set, req: m, namespace: namespace,
		log: deps.Log.WithValues("repository", set.Repository, "eventName", m.Event.Name),
	}
	switch m.Event.Type {
	case plugins.EventTypeImagePush:
		return mt.push(ctx)
	case plugins.EventTypeManual:
		return mt.manual(ctx)
	case plugins.EventTypeCronTick:
		return mt.current(ctx, func(ref string) string { return "scheduled deploy of " + ref })
	default:
		return plugins.Skipped("a registry trigger acts on image-push, manual and cron-tick events, not %q", m.Event.Type), nil
	}
}

// matcher is one Match call.
type matcher struct {
	deps      plugins.Deps
	log       logr.Logger
	set       *settings
	req       plugins.MatchRequest
	namespace string // the Trigger's, where its Secret is
}

func (mt *matcher) push(ctx context.Context) (plugins.MatchResult, error) {
	img, set := mt.req.Event.Image, mt.set
	if img == nil {
		return plugins.Skipped("the image-push event names no image"), nil
	}
	pushed, err := parseRepository(img.Repository)
	if err != nil {
		return plugins.Skipped("the pushed repository %q is not an image repository", img.Repository), nil
	}
	if pushed.Name() != set.repo.Name() {
		return plugins.Skipped("pushed repository %s is not %s", img.Repository, set.Repository), nil
	}
	if img.Tag == "" {
		return plugins.Skipped("the push of %s names no tag, and the trigger deploys tags (%s)", img.Repository, set.policy), nil
	}
	cand, reason := set.policy.admit(img.Tag)
	if reason != "" {
		return plugins.Skipped("%s", reason), nil
	}

	client, err := connect(ctx, mt.deps, mt.namespace, set)
	if err != nil {
		return plugins.MatchResult{}, err
	}
	if set.policy.ordered() {
		tags, err := client.tags(ctx)
		if err != nil {
			return plugins.MatchResult{}, err
		}
		// The pushed tag counts even if the listing does not show it yet.
		if newer, ok := set.policy.supersededBy(cand, append(tags, img.Tag)); ok {
			return plugins.Skipped("tag %s is not the newest in %s: %s is newer", img.Tag, set.policy, newer), nil
		}
	}
	d, err := client.digest(ctx, img.Tag)
	if errors.Is(err, ErrManifestNotFound) {
		return plugins.Skipped("tag %s of %s is no longer in the registry", img.Tag, set.Repository), nil
	}
	if err != nil {
		return plugins.MatchResult{}, err
	}
	if img.Digest != "" && img.Digest != d {
		mt.log.Info("The pushed digest differs from the registry's; deploying the registry's",
			"tag", img.Tag, "eventDigest", img.Digest, "digest", d)
	}
	return mt.deploy(img.Tag, d, "image "+set.Repository+":"+img.Tag+" pushed"), nil
}

func (mt *matcher) manual(ctx context.Context) (plugins.MatchResult, error) {
	man := mt.req.Event.Manual
	if man == nil {
		man = &plugins.ManualEvent{}
	}
	if man.Workload != "" && man.Workload != mt.req.Workload.Name {
		return plugins.Skipped("the manual deploy is for workload %s, not %s", man.Workload, mt.req.Workload.Name), nil
	}
	reason := func(ref string) string {
		r := "manual deploy of " + ref
		if man.User != "" {
			r += " by " + man.User
		}
		if why := strings.Join(strings.Fields(man.Reason), " "); why != "" {
			r += ": " + why
		}
		return r
	}
	if man.Revision == "" {
		return mt.current(ctx, reason)
	}
	if _, err := digest.Parse(man.Revision); err != nil {
		return plugins.Skipped("manual revision %q is not an image digest (sha256:…)", man.Revision), nil
	}
	client, err := connect(ctx, mt.deps, mt.namespace, mt.set)
	if err != nil {
		return plugins.MatchResult{}, err
	}
	d, err := client.digest(ctx, man.Revision)
	if errors.Is(err, ErrManifestNotFound) {
		return plugins.Skipped("the registry has no image %s@%s", mt.set.Repository, man.Revision), nil
	}
	if err != nil {
		return plugins.MatchResult{}, err
	}
	return mt.deploy("", d, reason(mt.set.Repository+"@"+d)), nil
}

// current deploys the tag the policy picks from the registry now, with
// the reason reason gives for repository:tag.
func (mt *matcher) current(ctx context.Context, reason func(ref string) string) (plugins.MatchResult, error) {
	client, err := connect(ctx, mt.deps, mt.namespace, mt.set)
	if err != nil {
		return plugins.MatchResult{}, err
	}
	tag, d, skip, err := pick(ctx, client, mt.set)
	switch {
	case err != nil:
		return plugins.MatchResult{}, err
	case skip != "":
		return plugins.Skipped("%s", skip), nil
	}
	return mt.deploy(tag, d, reason(mt.set.Repository+":"+tag)), nil
}

// deploy is the verdict for a resolved digest: the intent, unless the
// config pins another digest.
func (mt *matcher) deploy(tag, d, reason string) plugins.MatchResult {
	set := mt.set
	if set.Digest != "" && d != set.Digest {
		what := set.Repository + "@" + d
		if tag != "" {
			what = set.Repository + ":" + tag
		}
		return plugins.Skipped("digest %s of %s is not the pinned digest %s", d, what, set.Digest)
	}
	mt.log.V(1).Info("Resolved image", "tag", tag, "digest", d)
	return plugins.Matched(plugins.DeploymentIntent{
		Revision:  d,
		Reason:    reason,
		Image:     &plugins.ImageRef{Repository: set.Repository, Tag: tag, Digest: d},
		EventName: mt.req.Event.Name,
	})
}

// pick finds the tag the policy deploys now, from the registry, and its
// digest: the exact tag; the newest tag of an ordered policy; for a glob or
// plain regex, the matching image built last. When there is none, skip
// says why.
func pick(ctx context.Context, c *registryClient, set *settings) (tag, dgst, skip string, err error) {
	pol := set.policy
	if pol.kind == policyExact {
		tag = pol.text
	} else {
		tags, err := c.tags(ctx)
		if err != nil {
			return "", "", "", err
		}
		cands := pol.admitAll(tags)
		switch {
		case len(cands) == 0:
			return "", "", fmt.Sprintf("no tag of %s matches %s (of %d tags)", set.Repository, pol, len(tags)), nil
		case pol.ordered():
			tag = cands[0].tag
		case len(cands) > maxUnorderedCandidates:
			return "", "", fmt.Sprintf("%d tags of %s match %s, and the newest image is looked for among at most %d: "+
				"use a semver policy or a regex with capture", len(cands), set.Repository, pol, maxUnorderedCandidates), nil
		default:
			if tag, err = newestBuilt(ctx, c, cands); err != nil {
				return "", "", "", err
			}
		}
	}
	dgst, err = c.digest(ctx, tag)
	if errors.Is(err, ErrManifestNotFound) {
		return "", "", fmt.Sprintf("tag %s of %s is not in the registry", tag, set.Repository), nil
	}
	if err != nil {
		return "", "", "", err
	}
	return tag, dgst, "", nil
}

// newestBuilt returns the candidate whose image was created last; of
// images created at the same time, the greatest tag.
func newestBuilt(ctx context.Context, c *registryClient, cands []candidate) (string, error) {
	var (
		best     string
		bestTime time.Time
	)
	for i, cand := range cands {
		created, err := c.created(ctx, cand.tag)
		if err != nil {
			return "", err
		}
		// cands are sorted by tag, so a tie goes to the later one.
		if i == 0 || !created.Before(bestTime) {
			best, bestTime = cand.tag, created
		}
	}
	return best, nil
}
