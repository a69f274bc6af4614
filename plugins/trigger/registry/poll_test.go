package registry

import (
	"errors"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/types"

	"github.com/tinyforge/tinyforge/plugins"
)

// Poll reports the image the policy picks as an image-push event whose
// DeliveryID changes exactly when the tag is pushed with new content, and
// Match deploys it like a webhook's push.
func TestPoll(t *testing.T) {
	e := newEnv(t)
	trigger := types.NamespacedName{Namespace: e.ns, Name: "images"}
	config := e.config("team/web", map[string]any{"pollInterval": "5s"})
	poll := func() plugins.InboundEvent {
		t.Helper()
		ev, err := e.trig.Poll(e.ctx, e.deps, trigger, config)
		if err != nil {
			t.Fatalf("Poll: %v", err)
		}
		return ev
	}

	if _, err := e.trig.Poll(e.ctx, e.deps, trigger, config); !errors.Is(err, ErrNothingToDeploy) {
		t.Fatalf("Poll of an empty repository = %v, want ErrNothingToDeploy", err)
	}

	d1 := e.push("v1", "team/web:latest")
	ev1 := poll()
	repo := e.reg.Ref("team/web")
	if ev1.Type != plugins.EventTypeImagePush || ev1.Trigger != trigger || ev1.ReceivedTime.IsZero() ||
		ev1.Image == nil || *ev1.Image != (plugins.ImageRef{Repository: repo, Tag: "latest", Digest: d1}) {
		t.Fatalf("Poll = %+v (image %+v), want an image-push of %s:latest@%s", ev1, ev1.Image, repo, d1)
	}
	if !strings.HasPrefix(ev1.DeliveryID, "poll-") || len(ev1.DeliveryID) != len("poll-")+16 {
		t.Errorf("DeliveryID = %q, want poll- and 16 hex digits", ev1.DeliveryID)
	}
	if again := poll(); again.DeliveryID != ev1.DeliveryID {
		t.Errorf("polling the same state gave %s, then %s", ev1.DeliveryID, again.DeliveryID)
	}

	// The same content pushed again, and another tag pushed: nothing the
	// policy picks changed.
	e.push("v1", "team/web:latest")
	e.push("v2", "team/web:dev")
	if again := poll(); again.DeliveryID != ev1.DeliveryID {
		t.Errorf("after pushing the same content, DeliveryID %s became %s", ev1.DeliveryID, again.DeliveryID)
	}

	// New content under the tag: a new delivery, which Match deploys.
	d2 := e.push("v2", "team/web:latest")
	ev2 := poll()
	if ev2.DeliveryID == ev1.DeliveryID || ev2.Image.Digest != d2 {
		t.Fatalf("after pushing new content, Poll = %s %+v; want a new DeliveryID and digest %s", ev2.DeliveryID, ev2.Image, d2)
	}
	res, err := e.match(config, ev2)
	check(t, res, err, want{digest: d2, tag: "latest", reason: "image " + repo + ":latest pushed"})

	// The old content back under the tag is the first state again: the
	// controller already has an Event of that name (until it expires).
	e.push("v1", "team/web:latest")
	if back := poll(); back.DeliveryID != ev1.DeliveryID {
		t.Errorf("the first state again gave DeliveryID %s, want %s", back.DeliveryID, ev1.DeliveryID)
	}

	// A semver policy polls the highest tag in range; a new one moves it.
	semver := e.config("team/web", map[string]any{"tagPolicy": map[string]any{"semver": "^1"}, "pollInterval": "1m"})
	if _, err := e.trig.Poll(e.ctx, e.deps, trigger, semver); !errors.Is(err, ErrNothingToDeploy) ||
		!strings.Contains(err.Error(), "no tag of "+repo+" matches semver range ^1") {
		t.Errorf("Poll(semver, no versions) = %v, want ErrNothingToDeploy naming the range", err)
	}
	e.push("v1", "team/web:1.0.0")
	s1, err := e.trig.Poll(e.ctx, e.deps, trigger, semver)
	if err != nil || s1.Image.Tag != "1.0.0" {
		t.Fatalf("Poll(semver) = %+v, %v; want tag 1.0.0", s1.Image, err)
	}
	e.push("v1", "team/web:1.1.0")
	s2, err := e.trig.Poll(e.ctx, e.deps, trigger, semver)
	if err != nil || s2.Image.Tag != "1.1.0" || s2.DeliveryID == s1.DeliveryID {
		t.Fatalf("Poll(semver) after 1.1.0 = %s %+v, %v; want tag 1.1.0 and a new DeliveryID", s2.DeliveryID, s2.Image, err)
	}
	res, err = e.match(semver, s2)
	check(t, res, err, want{digest: d1, tag: "1.1.0"})

	if _, err := e.trig.Poll(e.ctx, e.deps, trigger, []byte(`{"repository":"x","pollInterval":"1s"}`)); err == nil ||
		!strings.Contains(err.Error(), "spec.config.pollInterval") {
		t.Errorf("Poll(invalid config) = %v, want the field error", err)
	}
}
