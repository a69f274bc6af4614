package event_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	tinyforgev1alpha1 "github.com/tinyforge/tinyforge/api/v1alpha1"
	"github.com/tinyforge/tinyforge/controllers"
	"github.com/tinyforge/tinyforge/controllers/event"
	"github.com/tinyforge/tinyforge/controllers/trigger"
	"github.com/tinyforge/tinyforge/internal/apiserver/apiservertest"
	"github.com/tinyforge/tinyforge/internal/inbound"
	"github.com/tinyforge/tinyforge/plugins"
)

// fakeTrigger decides by its merged config, so bindings' overrides choose
// each binding's outcome: {"action": "match"|"skip"|"fail"|"flaky"|"panic"}.
// flaky fails its first call per binding and matches after.
type fakeTrigger struct {
	mu    sync.Mutex
	calls map[string]int // workload → Match calls
}

type fakeTriggerConfig struct {
	Action string `json:"action,omitempty"`
	// Every makes it a Scheduler that fires at each multiple of it.
	Every string `json:"every,omitempty"`
}

var fakeTrig = &fakeTrigger{calls: map[string]int{}}

func init() {
	plugins.RegisterTrigger(fakeTrig)
	plugins.RegisterTrigger(fakeCron{})
	plugins.RegisterSource(fakeSource{})
}

func (*fakeTrigger) Kind() string { return "fake" }

func (*fakeTrigger) Validate(path *field.Path, config []byte) field.ErrorList {
	var c fakeTriggerConfig
	return plugins.DecodeStrict(path, config, &c)
}

func (f *fakeTrigger) Match(_ context.Context, _ plugins.Deps, m plugins.MatchRequest) (plugins.MatchResult, error) {
	var c fakeTriggerConfig
	_ = json.Unmarshal(m.Config, &c)
	f.mu.Lock()
	f.calls[m.Workload.Name]++
	n := f.calls[m.Workload.Name]
	f.mu.Unlock()
	switch c.Action {
	case "skip":
		return plugins.Skipped("tag %s is outside the policy", "x"), nil
	case "fail":
		return plugins.MatchResult{}, fmt.Errorf("registry 127.0.0.1:1 did not answer")
	case "flaky":
		if n == 1 {
			return plugins.MatchResult{}, fmt.Errorf("first call fails")
		}
	case "panic":
		panic("plugin bug")
	}
	return plugins.Matched(plugins.DeploymentIntent{Revision: "rev-" + m.Event.Name[len(m.Event.Name)-6:], Reason: "event " + m.Event.Name}), nil
}

func (f *fakeTrigger) matchCalls(workload string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[workload]
}

// fakeCron fires at every multiple of its config's "every".
type fakeCron struct{}

func (fakeCron) Kind() string { return "fakecron" }
func (fakeCron) Validate(path *field.Path, config []byte) field.ErrorList {
	var c fakeTriggerConfig
	return plugins.DecodeStrict(path, config, &c)
}
func (fakeCron) Match(context.Context, plugins.Deps, plugins.MatchRequest) (plugins.MatchResult, error) {
	return plugins.Matched(plugins.DeploymentIntent{Reason: "tick"}), nil
}
func (fakeCron) Next(config []byte, after time.Time) (time.Time, error) {
	var c fakeTriggerConfig
	_ = json.Unmarshal(config, &c)
	d, err := time.ParseDuration(c.Every)
	if err != nil || d <= 0 {
		return time.Time{}, fmt.Errorf("every: %q is not a duration", c.Every)
	}
	return after.Truncate(d).Add(d), nil
}

// fakeSource deploys nothing and succeeds, so Rollouts finish.
type fakeSource struct{}

func (fakeSource) Kind() string                                                   { return "fake" }
func (fakeSource) Validate(*field.Path, []byte) field.ErrorList                   { return nil }
func (fakeSource) Teardown(context.Context, plugins.Deps, plugins.Workload) error { return nil }
func (fakeSource) Deploy(_ context.Context, _ plugins.Deps, _ plugins.Workload, in plugins.DeploymentIntent) (plugins.DeployResult, error) {
	rev := in.Revision
	if rev == "" {
		rev = "config"
	}
	return plugins.DeployResult{Revision: rev}, nil
}
func (fakeSource) Reconcile(context.Context, plugins.Deps, plugins.Workload) (plugins.ReconcileResult, error) {
	return plugins.ReconcileResult{Healthy: true}, nil
}

type env struct {
	t  *testing.T
	c  client.Client
	ns string
}

func start(t *testing.T, ttl time.Duration) *env {
	t.Helper()
	if testing.Short() {
		t.Skip("starts an API server")
	}
	s := apiservertest.Start(t)
	o := controllers.NewOptions()
	o.LeaderElect = false
	if ttl > 0 {
		o.EventTTL = ttl
	}
	mgr, err := controllers.NewManager(s.Admin, o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	c, err := client.New(s.Admin, client.Options{Scheme: controllers.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, c: c, ns: "default"}
}

func raw(v any) *runtime.RawExtension {
	b, _ := json.Marshal(v)
	return &runtime.RawExtension{Raw: b}
}

func (e *env) create(obj client.Object) {
	e.t.Helper()
	obj.SetNamespace(e.ns)
	if err := e.c.Create(context.Background(), obj); err != nil {
		e.t.Fatalf("creating %T %s: %v", obj, obj.GetName(), err)
	}
}

func (e *env) workload(name string) {
	w := &tinyforgev1alpha1.Workload{ObjectMeta: metav1.ObjectMeta{Name: name}}
	w.Spec.Source.Kind = "fake"
	e.create(w)
}

func (e *env) trigger(name, kind string, config any) {
	t := &tinyforgev1alpha1.Trigger{ObjectMeta: metav1.ObjectMeta{Name: name}}
	t.Spec.Kind = kind
	t.Spec.Config = raw(config)
	e.create(t)
}

func (e *env) binding(name, trig, workload string, override any) {
	b := &tinyforgev1alpha1.TriggerBinding{ObjectMeta: metav1.ObjectMeta{Name: name}}
	b.Spec.TriggerRef.Name = trig
	b.Spec.WorkloadRef.Name = workload
	if override != nil {
		b.Spec.Config = raw(override)
	}
	e.create(b)
}

// event creates an image-push Event for trig, as the ingress would.
func (e *env) event(trig, delivery string) string {
	ev := inbound.ToEvent(client.ObjectKey{Namespace: e.ns, Name: trig}, plugins.InboundEvent{
		Provider: "generic", Type: plugins.EventTypeImagePush, DeliveryID: delivery, ReceivedTime: time.Now(),
		Image: &plugins.ImageRef{Repository: "127.0.0.1:5000/web", Tag: "v2"},
	}, tinyforgev1alpha1.VerificationVerified)
	e.create(ev)
	return ev.Name
}

// wait polls get into obj until cond holds, for up to timeout.
func (e *env) wait(obj client.Object, name string, timeout time.Duration, what string, cond func() bool) {
	e.t.Helper()
	err := wait.PollUntilContextTimeout(context.Background(), 50*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		if err := e.c.Get(ctx, client.ObjectKey{Namespace: e.ns, Name: name}, obj); err != nil {
			return false, client.IgnoreNotFound(err)
		}
		return cond(), nil
	})
	if err != nil {
		b, _ := json.MarshalIndent(obj, "", "  ")
		e.t.Fatalf("waiting for %s %s: %v; last seen:\n%s", what, name, err, b)
	}
}

func ready(conds []metav1.Condition) bool {
	return meta.IsStatusConditionTrue(conds, tinyforgev1alpha1.ConditionReady)
}

func TestTriggerGeneratesTokenAndPublishesPath(t *testing.T) {
	e := start(t, 0)
	e.trigger("repo", "fake", map[string]any{})
	var tr tinyforgev1alpha1.Trigger
	e.wait(&tr, "repo", 30*time.Second, "webhook path", func() bool { return tr.Status.WebhookPath != "" && ready(tr.Status.Conditions) })

	var sec corev1.Secret
	if err := e.c.Get(context.Background(), client.ObjectKey{Namespace: e.ns, Name: trigger.GeneratedSecretName("repo")}, &sec); err != nil {
		t.Fatalf("generated Secret: %v", err)
	}
	token := sec.Data["token"]
	if len(token) != 64 {
		t.Errorf("token is %d bytes, want 64 hex characters", len(token))
	}
	if !metav1.IsControlledBy(&sec, &tr) {
		t.Errorf("the generated Secret is not owned by its trigger: %v", sec.OwnerReferences)
	}
	if want := trigger.WebhookPath(e.ns, "repo", token); tr.Status.WebhookPath != want {
		t.Errorf("webhookPath = %q, want %q", tr.Status.WebhookPath, want)
	}
	if strings.Contains(tr.Status.WebhookPath, string(token)) || strings.Contains(fmt.Sprint(tr.Status), string(token)) {
		t.Errorf("the token leaks into the trigger's status")
	}
	if tr.Status.SecretName != sec.Name {
		t.Errorf("status.secretName = %q, want %q", tr.Status.SecretName, sec.Name)
	}

	// A new token (rotation) publishes a new path.
	sec.Data["token"] = []byte("rotated-token")
	if err := e.c.Update(context.Background(), &sec); err != nil {
		t.Fatal(err)
	}
	old := tr.Status.WebhookPath
	e.wait(&tr, "repo", 30*time.Second, "a new webhook path after rotation", func() bool { return tr.Status.WebhookPath != old })
	if want := trigger.WebhookPath(e.ns, "repo", []byte("rotated-token")); tr.Status.WebhookPath != want {
		t.Errorf("webhookPath after rotation = %q, want %q", tr.Status.WebhookPath, want)
	}

	// A secretRef to a missing Secret says so, and recovers when it appears.
	tr2 := &tinyforgev1alpha1.Trigger{ObjectMeta: metav1.ObjectMeta{Name: "own-secret"}}
	tr2.Spec.Kind = "fake"
	tr2.Spec.SecretRef = &tinyforgev1alpha1.TriggerSecretReference{Name: "hook-secret", Key: "token"}
	e.create(tr2)
	e.wait(tr2, "own-secret", 30*time.Second, "SecretNotFound", func() bool {
		c := meta.FindStatusCondition(tr2.Status.Conditions, tinyforgev1alpha1.ConditionReady)
		return c != nil && c.Reason == tinyforgev1alpha1.TriggerReasonSecretNotFound && strings.Contains(c.Message, "hook-secret")
	})
	e.create(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "hook-secret"}, Data: map[string][]byte{"token": []byte("s3cret")}})
	e.wait(tr2, "own-secret", 30*time.Second, "Ready once the Secret exists", func() bool {
		return ready(tr2.Status.Conditions) && tr2.Status.WebhookPath == trigger.WebhookPath(e.ns, "own-secret", []byte("s3cret"))
	})
}

func TestBindingResolvesRefsAndShowsEffectiveConfig(t *testing.T) {
	e := start(t, 0)
	e.trigger("repo", "fake", map[string]any{"action": "match", "every": ""})
	e.binding("web-repo", "repo", "web", map[string]any{"action": "skip", "every": nil})
	var b tinyforgev1alpha1.TriggerBinding
	e.wait(&b, "web-repo", 30*time.Second, "WorkloadNotFound", func() bool {
		c := meta.FindStatusCondition(b.Status.Conditions, tinyforgev1alpha1.ConditionResolvedRefs)
		return c != nil && c.Status == metav1.ConditionFalse && c.Reason == tinyforgev1alpha1.TriggerBindingReasonWorkloadNotFound && strings.Contains(c.Message, "web")
	})
	e.workload("web")
	e.wait(&b, "web-repo", 30*time.Second, "resolved and Ready", func() bool {
		return meta.IsStatusConditionTrue(b.Status.Conditions, tinyforgev1alpha1.ConditionResolvedRefs) && ready(b.Status.Conditions)
	})
	if b.Status.EffectiveConfig == nil || string(b.Status.EffectiveConfig.Raw) != `{"action":"skip"}` {
		t.Errorf("effectiveConfig = %s, want the override merged over the trigger's config with null deleting", b.Status.EffectiveConfig)
	}
}

func TestEventFansOutToBindings(t *testing.T) {
	e := start(t, 0)
	e.trigger("repo", "fake", map[string]any{"action": "match"})
	for _, w := range []string{"a", "b", "c", "d", "e"} {
		e.workload(w)
	}
	e.binding("a", "repo", "a", nil)
	e.binding("b", "repo", "b", map[string]any{"action": "skip"})
	e.binding("c", "repo", "c", map[string]any{"action": "flaky"})
	e.binding("d", "repo", "d", map[string]any{"action": "panic"})
	off := &tinyforgev1alpha1.TriggerBinding{ObjectMeta: metav1.ObjectMeta{Name: "e"}}
	off.Spec.TriggerRef.Name, off.Spec.WorkloadRef.Name, off.Spec.Suspend = "repo", "e", true
	e.create(off)
	var b tinyforgev1alpha1.TriggerBinding
	e.wait(&b, "d", 30*time.Second, "binding d ready", func() bool { return ready(b.Status.Conditions) })

	name := e.event("repo", "delivery-1")
	var ev tinyforgev1alpha1.Event
	e.wait(&ev, name, 30*time.Second, "first dispatch", func() bool { return len(ev.Status.Outcomes) == 4 })
	got := map[string]tinyforgev1alpha1.BindingOutcome{}
	for _, o := range ev.Status.Outcomes {
		got[o.Binding] = o
	}
	if o := got["a"]; o.Result != tinyforgev1alpha1.MatchResultMatched || o.Rollout != event.RolloutName("a", name, "a") {
		t.Errorf("binding a: %+v, want Matched with its rollout", o)
	}
	if o := got["b"]; o.Result != tinyforgev1alpha1.MatchResultSkipped || o.Reason != "tag x is outside the policy" {
		t.Errorf("binding b: %+v, want Skipped with the plugin's reason", o)
	}
	if o := got["c"]; o.Result != tinyforgev1alpha1.MatchResultFailed || o.Reason != "first call fails" {
		t.Errorf("binding c: %+v, want Failed with the error", o)
	}
	if o := got["d"]; o.Result != tinyforgev1alpha1.MatchResultFailed || !strings.Contains(o.Reason, "panicked: plugin bug") {
		t.Errorf("binding d: %+v, want Failed naming the panic", o)
	}
	if _, ok := got["e"]; ok {
		t.Errorf("the suspended binding was matched: %+v", got["e"])
	}
	if ev.Status.Phase != tinyforgev1alpha1.EventPhasePending {
		t.Errorf("phase = %s while failed bindings are retried, want Pending", ev.Status.Phase)
	}

	// The retry matches the flaky binding and leaves the decided ones alone.
	e.wait(&ev, name, 40*time.Second, "the retry", func() bool {
		for _, o := range ev.Status.Outcomes {
			if o.Binding == "c" && o.Result == tinyforgev1alpha1.MatchResultMatched {
				return true
			}
		}
		return false
	})
	if n := fakeTrig.matchCalls("a"); n != 1 {
		t.Errorf("binding a was matched %d times, want once: decided outcomes are not redone", n)
	}
	var ros tinyforgev1alpha1.RolloutList
	if err := e.c.List(context.Background(), &ros, client.InNamespace(e.ns), client.MatchingLabels{event.LabelEvent: name}); err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, ro := range ros.Items {
		names[ro.Spec.WorkloadRef.Name] = true
		if ro.Spec.EventRef == nil || ro.Spec.EventRef.Name != name || ro.Spec.Reason != tinyforgev1alpha1.CauseTrigger {
			t.Errorf("rollout %s: eventRef %v reason %s", ro.Name, ro.Spec.EventRef, ro.Spec.Reason)
		}
		if ro.Annotations["kubernetes.io/change-cause"] != "event "+name {
			t.Errorf("rollout %s change-cause = %q", ro.Name, ro.Annotations["kubernetes.io/change-cause"])
		}
	}
	if len(ros.Items) != 2 || !names["a"] || !names["c"] {
		t.Errorf("rollouts of the event: %v, want one for a and one for c", names)
	}

	// The matched rollout deploys, and the trigger and binding show it.
	var ro tinyforgev1alpha1.Rollout
	e.wait(&ro, event.RolloutName("a", name, "a"), 30*time.Second, "rollout succeeded", func() bool {
		return ro.Status.Phase == tinyforgev1alpha1.RolloutPhaseSucceeded
	})
	var tr tinyforgev1alpha1.Trigger
	e.wait(&tr, "repo", 10*time.Second, "lastEvent", func() bool { return tr.Status.LastEvent != nil && tr.Status.LastEvent.Name == name })
	e.wait(&b, "b", 10*time.Second, "binding lastMatch", func() bool {
		return b.Status.LastMatch != nil && b.Status.LastMatch.Event == name && b.Status.LastMatch.Result == tinyforgev1alpha1.MatchResultSkipped
	})

	// An event to a trigger without bindings is ignored, and one to a missing trigger fails.
	e.trigger("lonely", "fake", nil)
	lonely := e.event("lonely", "x")
	e.wait(&ev, lonely, 30*time.Second, "Ignored", func() bool {
		return ev.Status.Phase == tinyforgev1alpha1.EventPhaseIgnored && meta.FindStatusCondition(ev.Status.Conditions, "Ready").Reason == tinyforgev1alpha1.EventReasonNoBindings
	})
	ghost := e.event("ghost", "x")
	e.wait(&ev, ghost, 30*time.Second, "Failed", func() bool {
		return ev.Status.Phase == tinyforgev1alpha1.EventPhaseFailed && meta.IsStatusConditionTrue(ev.Status.Conditions, "Stalled")
	})
}

func TestFanOutToManyWorkloads(t *testing.T) {
	e := start(t, 0)
	e.trigger("push", "fake", map[string]any{"action": "match"})
	const n = 20
	for i := range n {
		w := fmt.Sprintf("app-%02d", i)
		e.workload(w)
		e.binding(w, "push", w, nil)
	}
	var b tinyforgev1alpha1.TriggerBinding
	e.wait(&b, fmt.Sprintf("app-%02d", n-1), 30*time.Second, "last binding ready", func() bool { return ready(b.Status.Conditions) })
	name := e.event("push", "fan-out")
	var ev tinyforgev1alpha1.Event
	e.wait(&ev, name, 60*time.Second, "Dispatched", func() bool { return ev.Status.Phase == tinyforgev1alpha1.EventPhaseDispatched })
	if len(ev.Status.Outcomes) != n {
		t.Fatalf("%d outcomes, want %d", len(ev.Status.Outcomes), n)
	}
	for i := range n {
		var ro tinyforgev1alpha1.Rollout
		w := fmt.Sprintf("app-%02d", i)
		e.wait(&ro, event.RolloutName(w, name, w), 60*time.Second, "rollout succeeded", func() bool {
			return ro.Status.Phase == tinyforgev1alpha1.RolloutPhaseSucceeded
		})
	}
}

func TestCronTicksWithoutDuplicatesOrBursts(t *testing.T) {
	e := start(t, 0)
	tr := &tinyforgev1alpha1.Trigger{ObjectMeta: metav1.ObjectMeta{Name: "nightly"}}
	tr.Spec.Kind, tr.Spec.Config, tr.Spec.Suspend = "fakecron", raw(map[string]any{"every": "1s"}), true
	e.create(tr)
	e.wait(tr, "nightly", 30*time.Second, "suspended trigger ready", func() bool { return ready(tr.Status.Conditions) })

	// Pretend the last tick was an hour ago, as after a long outage: on
	// resuming, one tick fires for the most recent due time, not 3,600.
	tr.Status.LastScheduleTime = &metav1.Time{Time: time.Now().Add(-time.Hour)}
	if err := e.c.Status().Update(context.Background(), tr); err != nil {
		t.Fatal(err)
	}
	resumed := time.Now()
	patch := client.MergeFrom(tr.DeepCopy())
	tr.Spec.Suspend = false
	if err := e.c.Patch(context.Background(), tr, patch); err != nil {
		t.Fatal(err)
	}
	e.wait(tr, "nightly", 30*time.Second, "ticking", func() bool {
		return tr.Status.LastScheduleTime != nil && tr.Status.LastScheduleTime.After(resumed.Add(-2*time.Second))
	})
	var evs tinyforgev1alpha1.EventList
	err := wait.PollUntilContextTimeout(context.Background(), 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		if err := e.c.List(ctx, &evs, client.InNamespace(e.ns), client.MatchingLabels{inbound.LabelTrigger: "nightly"}); err != nil {
			return false, err
		}
		return len(evs.Items) >= 3, nil
	})
	if err != nil {
		t.Fatalf("waiting for 3 ticks: %v (have %d)", err, len(evs.Items))
	}
	seen := map[string]bool{}
	for _, ev := range evs.Items {
		if ev.Spec.Type != tinyforgev1alpha1.EventTypeCronTick {
			t.Errorf("event %s has type %s", ev.Name, ev.Spec.Type)
		}
		tick := ev.Spec.ReceivedTime.Time
		if tick.Before(resumed.Add(-2 * time.Second)) {
			t.Errorf("a missed tick from %s fired after resuming at %s: a burst", tick.Format(time.RFC3339), resumed.Format(time.RFC3339))
		}
		if seen[ev.Spec.DeliveryID] {
			t.Errorf("tick %s fired twice", ev.Spec.DeliveryID)
		}
		seen[ev.Spec.DeliveryID] = true
	}
}

func TestEventsExpire(t *testing.T) {
	e := start(t, 3*time.Second)
	e.trigger("repo", "fake", nil)
	name := e.event("repo", "old")
	var ev tinyforgev1alpha1.Event
	e.wait(&ev, name, 30*time.Second, "Ignored", func() bool { return ev.Status.Phase.IsFinal() })
	err := wait.PollUntilContextTimeout(context.Background(), 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		err := e.c.Get(ctx, client.ObjectKey{Namespace: e.ns, Name: name}, &ev)
		return client.IgnoreNotFound(err) == nil && err != nil, nil
	})
	if err != nil {
		t.Fatalf("the Event outlived its TTL: %v", err)
	}
}
