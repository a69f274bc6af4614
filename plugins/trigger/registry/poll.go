package registry

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/types"

	"github.com/tinyforge/tinyforge/plugins"
)

// ErrNothingToDeploy is wrapped by Poll when the registry holds no image
// the tag policy picks, such as a repository without a matching tag.
var ErrNothingToDeploy = errors.New("no image to deploy")

// pollDeliveryPrefix starts the DeliveryID of every polled event.
const pollDeliveryPrefix = "poll-"

// PollInterval returns the config's pollInterval, or zero when the config
// does not ask for polling (or does not validate).
func (*Trigger) PollInterval(config []byte) time.Duration {
	set, errs := parseConfig(configPath, config)
	if len(errs) > 0 {
		return 0
	}
	return set.pollInterval
}

// Poll returns the image the tag policy picks from the registry now, as an
// image-push event whose DeliveryID changes exactly when the picked tag or
// its digest does. Match then treats it as any push.
func (*Trigger) Poll(ctx context.Context, deps plugins.Deps, trigger types.NamespacedName, config []byte) (plugins.InboundEvent, error) {
	set, errs := parseConfig(configPath, config)
	if len(errs) > 0 {
		return plugins.InboundEvent{}, fmt.Errorf("invalid registry trigger config: %w", errs.ToAggregate())
	}
	ctx, cancel := context.WithTimeout(ctx, registryTimeout)
	defer cancel()
	client, err := connect(ctx, deps, trigger.Namespace, set)
	if err != nil {
		return plugins.InboundEvent{}, err
	}
	tag, digest, skip, err := pick(ctx, client, set)
	switch {
	case err != nil:
		return plugins.InboundEvent{}, err
	case skip != "":
		return plugins.InboundEvent{}, fmt.Errorf("%w: %s", ErrNothingToDeploy, skip)
	}
	deps.Log.V(1).Info("Polled registry", "repository", set.Repository, "tag", tag, "digest", digest)
	return plugins.InboundEvent{
		Type:         plugins.EventTypeImagePush,
		DeliveryID:   pollDeliveryID(set.repo.Name(), tag, digest),
		Trigger:      trigger,
		Image:        &plugins.ImageRef{Repository: set.Repository, Tag: tag, Digest: digest},
		ReceivedTime: time.Now(),
	}, nil
}

// pollDeliveryID is "poll-" and 16 hex digits of a hash of what was
// polled: the normalized repository, the tag and the digest.
func pollDeliveryID(repository, tag, digest string) string {
	sum := sha256.Sum256([]byte(repository + "\x00" + tag + "\x00" + digest))
	return pollDeliveryPrefix + hex.EncodeToString(sum[:8])
}
