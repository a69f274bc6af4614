package event_test

import (
	"context"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	tinyforgev1alpha1 "github.com/tinyforge/tinyforge/api/v1alpha1"
	"github.com/tinyforge/tinyforge/internal/inbound"
	"github.com/tinyforge/tinyforge/plugins"
)

// fakePoller reports the digest a test sets, as a registry trigger polling
// its tag would.
type fakePoller struct {
	mu     sync.Mutex
	digest string
	polls  int
}

var poller = &fakePoller{digest: "sha256:" + "a1"}

func init() { plugins.RegisterTrigger(poller) }

func (*fakePoller) Kind() string                                 { return "fakepoll" }
func (*fakePoller) Validate(*field.Path, []byte) field.ErrorList { return nil }
func (*fakePoller) Match(context.Context, plugins.Deps, plugins.MatchRequest) (plugins.MatchResult, error) {
	return plugins.Skipped("polled"), nil
}
func (*fakePoller) PollInterval([]byte) time.Duration { return 200 * time.Millisecond }
func (p *fakePoller) Poll(_ context.Context, _ plugins.Deps, _ types.NamespacedName, _ []byte) (plugins.InboundEvent, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.polls++
	return plugins.InboundEvent{
		Type: plugins.EventTypeImagePush, DeliveryID: "poll-" + p.digest,
		Image: &plugins.ImageRef{Repository: "127.0.0.1:5000/web", Tag: "v1"},
	}, nil
}

func (p *fakePoller) set(digest string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.digest = digest
}

func (p *fakePoller) pollCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.polls
}

// TestPollingCreatesOneEventPerState: a polling trigger creates an Event
// when what it watches changes, and none while it stays the same.
func TestPollingCreatesOneEventPerState(t *testing.T) {
	e := start(t, 0)
	e.create(&tinyforgev1alpha1.Trigger{ObjectMeta: metav1.ObjectMeta{Name: "poller"}, Spec: tinyforgev1alpha1.TriggerSpec{Kind: "fakepoll"}})
	events := func() []tinyforgev1alpha1.Event {
		var list tinyforgev1alpha1.EventList
		if err := e.c.List(context.Background(), &list, client.InNamespace(e.ns), client.MatchingLabels{inbound.LabelTrigger: "poller"}); err != nil {
			t.Fatal(err)
		}
		return list.Items
	}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		if err := wait.PollUntilContextTimeout(context.Background(), 50*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
			return cond(), nil
		}); err != nil {
			t.Fatalf("waiting for %s: %v", what, err)
		}
	}
	waitFor("the first poll's Event", func() bool { return len(events()) == 1 })
	// Several more polls of the same state create nothing.
	n := poller.pollCount()
	waitFor("three more polls", func() bool { return poller.pollCount() >= n+3 })
	if got := len(events()); got != 1 {
		t.Fatalf("%d Events after polling an unchanged state, want 1", got)
	}
	poller.set("sha256:b2")
	waitFor("an Event for the new state", func() bool { return len(events()) == 2 })
	for _, ev := range events() {
		if ev.Spec.Type != tinyforgev1alpha1.EventTypeImagePush || ev.Spec.Image == nil {
			t.Errorf("polled event %s: %+v", ev.Name, ev.Spec)
		}
	}
}
