package workload_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	tinyforgev1alpha1 "github.com/tinyforge/tinyforge/api/v1alpha1"
	"github.com/tinyforge/tinyforge/controllers"
	"github.com/tinyforge/tinyforge/internal/apiserver/apiservertest"
	"github.com/tinyforge/tinyforge/plugins"
)

// fakeSource deploys nothing: its config says what revision a deploy yields
// and whether it fails, so the controller's own logic can be tested against
// the real API server. Sources that touch Docker are tested end to end.
type fakeSource struct {
	mu        sync.Mutex
	deploys   []string // workload/revision per Deploy
	teardowns []string
	// block, when set, holds Deploy until closed.
	block chan struct{}
}

type fakeConfig struct {
	Revision string `json:"revision"`
	Fail     string `json:"fail,omitempty"`
	Degraded bool   `json:"degraded,omitempty"`
}

var fake = &fakeSource{}

func init() { plugins.RegisterSource(fake) }

func (f *fakeSource) Kind() string { return "fake" }

func (f *fakeSource) Validate(path *field.Path, config []byte) field.ErrorList {
	var c fakeConfig
	return plugins.DecodeStrict(path, config, &c)
}

func (f *fakeSource) Deploy(ctx context.Context, deps plugins.Deps, w plugins.Workload, in plugins.DeploymentIntent) (plugins.DeployResult, error) {
	var c fakeConfig
	_ = json.Unmarshal(w.Config, &c)
	rev := c.Revision
	if in.Revision != "" {
		rev = in.Revision
	}
	f.mu.Lock()
	f.deploys = append(f.deploys, w.Name+"/"+rev)
	block := f.block
	f.mu.Unlock()
	if block != nil {
		select {
		case <-block:
		case <-ctx.Done():
			return plugins.DeployResult{}, ctx.Err()
		}
	}
	if c.Fail != "" {
		return plugins.DeployResult{Revision: rev}, fmt.Errorf("%s", c.Fail)
	}
	// Switch every route to this revision's (pretend) backend, as real
	// sources do once the new containers are healthy.
	for _, r := range w.Routes {
		if err := deps.Routes.SetRoute(ctx, r.Key(), plugins.Backend{Address: "10.0.0.1:" + fmt.Sprint(r.Port), Revision: rev}); err != nil {
			return plugins.DeployResult{Revision: rev}, err
		}
	}
	return plugins.DeployResult{Revision: rev, Endpoints: []string{"127.0.0.1:1"}}, nil
}

func (f *fakeSource) Reconcile(_ context.Context, _ plugins.Deps, w plugins.Workload) (plugins.ReconcileResult, error) {
	var c fakeConfig
	_ = json.Unmarshal(w.Config, &c)
	if c.Degraded {
		return plugins.ReconcileResult{Healthy: false, Message: "container exited"}, nil
	}
	return plugins.ReconcileResult{Healthy: true}, nil
}

func (f *fakeSource) Teardown(_ context.Context, _ plugins.Deps, w plugins.Workload) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.teardowns = append(f.teardowns, w.Name)
	return nil
}

func (f *fakeSource) deployed(name string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, d := range f.deploys {
		if strings.HasPrefix(d, name+"/") {
			out = append(out, strings.TrimPrefix(d, name+"/"))
		}
	}
	return out
}

type env struct {
	t *testing.T
	c client.Client
}

func start(t *testing.T, opts ...func(*controllers.Options)) *env {
	t.Helper()
	s := apiservertest.Start(t)
	o := controllers.NewOptions()
	o.LeaderElect = false
	for _, f := range opts {
		f(o)
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
	return &env{t: t, c: c}
}

// workloadOpt changes a test workload, functional-options style.
type workloadOpt func(*tinyforgev1alpha1.Workload)

func withConfig(c fakeConfig) workloadOpt {
	return func(w *tinyforgev1alpha1.Workload) {
		b, _ := json.Marshal(c)
		w.Spec.Source.Config = &runtime.RawExtension{Raw: b}
	}
}

func withManualApproval() workloadOpt {
	return func(w *tinyforgev1alpha1.Workload) { w.Spec.Approval = tinyforgev1alpha1.ApprovalManual }
}

func withHistoryLimit(n int32) workloadOpt {
	return func(w *tinyforgev1alpha1.Workload) { w.Spec.RevisionHistoryLimit = ptr.To(n) }
}

func newWorkload(name string, opts ...workloadOpt) *tinyforgev1alpha1.Workload {
	w := &tinyforgev1alpha1.Workload{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"}}
	w.Spec.Source.Kind = "fake"
	withConfig(fakeConfig{Revision: "r1"})(w)
	w.Spec.Routes = []tinyforgev1alpha1.Route{{Port: 8080}}
	for _, o := range opts {
		o(w)
	}
	return w
}

func (e *env) create(obj client.Object) {
	e.t.Helper()
	if err := e.c.Create(context.Background(), obj); err != nil {
		e.t.Fatalf("creating %s: %v", obj.GetName(), err)
	}
}

// update re-reads the workload, changes it and writes it back.
func (e *env) update(name string, opts ...workloadOpt) {
	e.t.Helper()
	err := wait.PollUntilContextTimeout(context.Background(), 50*time.Millisecond, 10*time.Second, true, func(ctx context.Context) (bool, error) {
		var w tinyforgev1alpha1.Workload
		if err := e.c.Get(ctx, client.ObjectKey{Namespace: "default", Name: name}, &w); err != nil {
			return false, err
		}
		for _, o := range opts {
			o(&w)
		}
		err := e.c.Update(ctx, &w)
		if apierrors.IsConflict(err) {
			return false, nil
		}
		return err == nil, err
	})
	if err != nil {
		e.t.Fatalf("updating %s: %v", name, err)
	}
}

// waitWorkload polls until cond holds for the workload.
func (e *env) waitWorkload(name, what string, cond func(*tinyforgev1alpha1.Workload) bool) *tinyforgev1alpha1.Workload {
	e.t.Helper()
	var w tinyforgev1alpha1.Workload
	err := wait.PollUntilContextTimeout(context.Background(), 50*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		if err := e.c.Get(ctx, client.ObjectKey{Namespace: "default", Name: name}, &w); err != nil {
			return false, client.IgnoreNotFound(err)
		}
		return cond(&w), nil
	})
	if err != nil {
		e.t.Fatalf("workload %s never %s; status: %+v", name, what, w.Status)
	}
	return &w
}

func (e *env) rollouts(workload string) []tinyforgev1alpha1.Rollout {
	e.t.Helper()
	var l tinyforgev1alpha1.RolloutList
	if err := e.c.List(context.Background(), &l, client.InNamespace("default"), client.MatchingLabels{"tinyforge.dev/workload": workload}); err != nil {
		e.t.Fatal(err)
	}
	return l.Items
}

func condition(w *tinyforgev1alpha1.Workload, t string) *metav1.Condition {
	return meta.FindStatusCondition(w.Status.Conditions, t)
}

func ready(rev string) func(*tinyforgev1alpha1.Workload) bool {
	return func(w *tinyforgev1alpha1.Workload) bool {
		c := condition(w, tinyforgev1alpha1.ConditionReady)
		return c != nil && c.Status == metav1.ConditionTrue && w.Status.CurrentRevision == rev && w.Status.ObservedGeneration == w.Generation
	}
}

func TestDeployUpdateAndFailure(t *testing.T) {
	e := start(t)
	e.create(newWorkload("web"))
	w := e.waitWorkload("web", "Ready at r1", ready("r1"))
	if w.Status.URL != "" && !strings.Contains(w.Status.URL, "web.default.localhost") {
		t.Errorf("url = %q", w.Status.URL)
	}
	if w.Status.LastDeploy == nil || w.Status.LastDeploy.Phase != tinyforgev1alpha1.RolloutPhaseSucceeded {
		t.Errorf("lastDeploy = %+v", w.Status.LastDeploy)
	}
	ros := e.rollouts("web")
	if len(ros) != 1 || ros[0].Spec.Reason != tinyforgev1alpha1.CauseConfigChange || ros[0].Status.Phase != tinyforgev1alpha1.RolloutPhaseSucceeded || ros[0].Status.Revision != "r1" {
		t.Fatalf("rollouts = %+v", ros)
	}

	// A change that does not affect the deploy creates no rollout.
	e.update("web", withHistoryLimit(5))
	e.waitWorkload("web", "observed the new generation", func(w *tinyforgev1alpha1.Workload) bool { return w.Status.ObservedGeneration == w.Generation })
	if n := len(e.rollouts("web")); n != 1 {
		t.Errorf("%d rollouts after a history-limit change, want 1", n)
	}

	e.update("web", withConfig(fakeConfig{Revision: "r2"}))
	e.waitWorkload("web", "Ready at r2", ready("r2"))

	// A failed deploy leaves r2 serving and says so.
	e.update("web", withConfig(fakeConfig{Revision: "r3", Fail: "health check never passed"}))
	w = e.waitWorkload("web", "Stalled", func(w *tinyforgev1alpha1.Workload) bool {
		c := condition(w, tinyforgev1alpha1.ConditionStalled)
		return c != nil && c.Status == metav1.ConditionTrue && w.Status.ObservedGeneration == w.Generation
	})
	if w.Status.CurrentRevision != "r2" {
		t.Errorf("currentRevision = %q after a failed deploy, want r2", w.Status.CurrentRevision)
	}
	rc := condition(w, tinyforgev1alpha1.ConditionReady)
	sc := condition(w, tinyforgev1alpha1.ConditionStalled)
	if rc.Status != metav1.ConditionFalse || sc.Reason != tinyforgev1alpha1.WorkloadReasonDeployFailed ||
		!strings.Contains(sc.Message, "r3") || !strings.Contains(sc.Message, "r2 still serving") || !strings.Contains(sc.Message, "health check never passed") {
		t.Errorf("Ready = %+v, Stalled = %+v", rc, sc)
	}
	var failed int
	for _, ro := range e.rollouts("web") {
		if ro.Status.Phase == tinyforgev1alpha1.RolloutPhaseFailed {
			failed++
		}
	}
	if failed != 1 {
		t.Errorf("%d failed rollouts, want 1", failed)
	}
	if got := fake.deployed("web"); strings.Join(got, ",") != "r1,r2,r3" {
		t.Errorf("deploys = %v, want r1,r2,r3 (a failure is not retried)", got)
	}

	// Fixing the spec recovers.
	e.update("web", withConfig(fakeConfig{Revision: "r4"}))
	w = e.waitWorkload("web", "Ready at r4", ready("r4"))
	if c := condition(w, tinyforgev1alpha1.ConditionStalled); c != nil {
		t.Errorf("Stalled still set after recovery: %+v", c)
	}

	// Core Events tell the story.
	var evs corev1.EventList
	if err := e.c.List(context.Background(), &evs, client.InNamespace("default")); err != nil {
		t.Fatal(err)
	}
	reasons := map[string]bool{}
	for _, ev := range evs.Items {
		if ev.InvolvedObject.Name == "web" {
			reasons[ev.Reason] = true
		}
	}
	for _, want := range []string{"RolloutCreated", "Deploying", "Deployed", "DeployFailed"} {
		if !reasons[want] {
			t.Errorf("no %s event; have %v", want, reasons)
		}
	}
}

func TestManualApprovalAndSupersede(t *testing.T) {
	e := start(t)
	e.create(newWorkload("gated", withManualApproval()))
	e.waitWorkload("gated", "awaiting approval", func(w *tinyforgev1alpha1.Workload) bool {
		c := condition(w, tinyforgev1alpha1.ConditionReconciling)
		return c != nil && c.Reason == tinyforgev1alpha1.WorkloadReasonAwaitingApproval
	})
	if got := fake.deployed("gated"); len(got) != 0 {
		t.Fatalf("deployed %v before approval", got)
	}
	// A newer change supersedes the unapproved rollout.
	e.update("gated", withConfig(fakeConfig{Revision: "r2"}))
	var newest string
	err := wait.PollUntilContextTimeout(context.Background(), 50*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		phases := map[tinyforgev1alpha1.RolloutPhase]int{}
		for _, ro := range e.rollouts("gated") {
			phases[ro.Status.Phase]++
			if ro.Status.Phase == tinyforgev1alpha1.RolloutPhaseAwaitingApproval {
				newest = ro.Name
			}
		}
		return phases[tinyforgev1alpha1.RolloutPhaseSuperseded] == 1 && phases[tinyforgev1alpha1.RolloutPhaseAwaitingApproval] == 1, nil
	})
	if err != nil {
		t.Fatalf("older rollout not superseded: %+v", e.rollouts("gated"))
	}
	var ro tinyforgev1alpha1.Rollout
	if err := e.c.Get(context.Background(), client.ObjectKey{Namespace: "default", Name: newest}, &ro); err != nil {
		t.Fatal(err)
	}
	patch := client.MergeFrom(ro.DeepCopy())
	ro.Spec.Approved = true
	if err := e.c.Patch(context.Background(), &ro, patch); err != nil {
		t.Fatal(err)
	}
	e.waitWorkload("gated", "Ready at r2", ready("r2"))
	if got := fake.deployed("gated"); strings.Join(got, ",") != "r2" {
		t.Errorf("deploys = %v, want only the approved r2", got)
	}
}

func TestSuspendHistoryAndDelete(t *testing.T) {
	e := start(t)
	e.create(newWorkload("hist", withHistoryLimit(1)))
	e.waitWorkload("hist", "Ready at r1", ready("r1"))
	for _, rev := range []string{"r2", "r3"} {
		e.update("hist", withConfig(fakeConfig{Revision: rev}))
		e.waitWorkload("hist", "Ready at "+rev, ready(rev))
	}
	err := wait.PollUntilContextTimeout(context.Background(), 50*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		return len(e.rollouts("hist")) == 2, nil
	})
	if err != nil {
		t.Errorf("rollouts = %d, want the current one plus revisionHistoryLimit=1", len(e.rollouts("hist")))
	}

	e.update("hist", func(w *tinyforgev1alpha1.Workload) { w.Spec.Suspend = true })
	e.update("hist", withConfig(fakeConfig{Revision: "r9"}))
	w := e.waitWorkload("hist", "suspended", func(w *tinyforgev1alpha1.Workload) bool {
		c := condition(w, tinyforgev1alpha1.ConditionReady)
		return c != nil && c.Reason == tinyforgev1alpha1.ReasonSuspended && w.Status.ObservedGeneration == w.Generation
	})
	if w.Status.CurrentRevision != "r3" {
		t.Errorf("suspended workload deployed %s", w.Status.CurrentRevision)
	}
	for _, d := range fake.deployed("hist") {
		if d == "r9" {
			t.Error("a suspended workload was deployed")
		}
	}

	if err := e.c.Delete(context.Background(), w); err != nil {
		t.Fatal(err)
	}
	err = wait.PollUntilContextTimeout(context.Background(), 50*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		err := e.c.Get(ctx, client.ObjectKeyFromObject(w), &tinyforgev1alpha1.Workload{})
		return apierrors.IsNotFound(err), nil
	})
	if err != nil {
		t.Fatal("workload not deleted")
	}
	fake.mu.Lock()
	torn := strings.Join(fake.teardowns, ",")
	fake.mu.Unlock()
	if !strings.Contains(torn, "hist") {
		t.Errorf("teardowns = %q, want hist", torn)
	}
	if n := len(e.rollouts("hist")); n != 0 {
		t.Errorf("%d rollouts left after delete", n)
	}
}

// routeMap is an in-memory route table standing for the proxy of the
// controllers' process.
type routeMap struct {
	mu     sync.Mutex
	routes map[plugins.RouteKey][]plugins.Backend
}

func (m *routeMap) SetRoute(_ context.Context, key plugins.RouteKey, backends ...plugins.Backend) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.routes[key] = backends
	return nil
}

func (m *routeMap) RemoveRoute(_ context.Context, key plugins.RouteKey) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.routes, key)
	return nil
}

func (m *routeMap) hosts() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var hs []string
	for k, bs := range m.routes {
		for _, b := range bs {
			hs = append(hs, k.String()+"="+b.Revision)
		}
	}
	slices.Sort(hs)
	return strings.Join(hs, ",")
}

// TestRoutesPublishedAndPruned: every route switch is published in
// status.routes (for proxies run apart) and made in the proxy of the
// process; a host that leaves the spec is removed from both once the new
// config serves, and deletion removes the rest.
func TestRoutesPublishedAndPruned(t *testing.T) {
	table := &routeMap{routes: map[plugins.RouteKey][]plugins.Backend{}}
	e := start(t, func(o *controllers.Options) { o.Routes = table })
	withHost := func(host string) workloadOpt {
		return func(w *tinyforgev1alpha1.Workload) {
			w.Spec.Routes = []tinyforgev1alpha1.Route{{Host: host, Port: 8080}}
		}
	}
	published := func(want string) func(*tinyforgev1alpha1.Workload) bool {
		return func(w *tinyforgev1alpha1.Workload) bool {
			var got []string
			for _, r := range w.Status.Routes {
				for _, b := range r.Backends {
					got = append(got, r.Host+r.PathPrefix+"="+b.Revision)
				}
			}
			return strings.Join(got, ",") == want
		}
	}

	e.create(newWorkload("routed", withHost("a.example")))
	e.waitWorkload("routed", "publishing a.example at r1", published("a.example/=r1"))
	if got := table.hosts(); got != "a.example/=r1" {
		t.Errorf("proxy routes %q, want a.example/=r1", got)
	}

	e.update("routed", withHost("b.example"), withConfig(fakeConfig{Revision: "r2"}))
	e.waitWorkload("routed", "publishing only b.example at r2", published("b.example/=r2"))
	if got := table.hosts(); got != "b.example/=r2" {
		t.Errorf("proxy routes %q after the host change, want only b.example/=r2", got)
	}

	// A failed deploy of a new host leaves the old one published: it is
	// still what serves.
	e.update("routed", withHost("c.example"), withConfig(fakeConfig{Revision: "r3", Fail: "boom"}))
	e.waitWorkload("routed", "Stalled", func(w *tinyforgev1alpha1.Workload) bool {
		c := condition(w, tinyforgev1alpha1.ConditionStalled)
		return c != nil && c.Status == metav1.ConditionTrue && w.Status.ObservedGeneration == w.Generation
	})
	if got := table.hosts(); got != "b.example/=r2" {
		t.Errorf("proxy routes %q after a failed deploy, want b.example/=r2 still", got)
	}

	w := e.waitWorkload("routed", "still publishing b.example", published("b.example/=r2"))
	if err := e.c.Delete(context.Background(), w); err != nil {
		t.Fatal(err)
	}
	err := wait.PollUntilContextTimeout(context.Background(), 50*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		return table.hosts() == "", nil
	})
	if err != nil {
		t.Errorf("proxy routes %q after delete, want none", table.hosts())
	}
}
