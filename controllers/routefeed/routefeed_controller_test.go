package routefeed

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	tinyforgev1alpha1 "github.com/tinyforge/tinyforge/api/v1alpha1"
	"github.com/tinyforge/tinyforge/plugins"
)

// recordingTable is a route table that logs its calls; the feed's logic is
// what is under test here, the proxy's Router has its own tests.
type recordingTable struct {
	mu    sync.Mutex
	calls []string
	fail  map[plugins.RouteKey]bool
}

func (t *recordingTable) SetRoute(_ context.Context, key plugins.RouteKey, backends ...plugins.Backend) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.fail[key] {
		return fmt.Errorf("route %s refused", key)
	}
	var addrs []string
	for _, b := range backends {
		addrs = append(addrs, b.Address)
	}
	t.calls = append(t.calls, "set "+key.String()+" "+strings.Join(addrs, ","))
	return nil
}

func (t *recordingTable) RemoveRoute(_ context.Context, key plugins.RouteKey) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.calls = append(t.calls, "remove "+key.String())
	return nil
}

func (t *recordingTable) take() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	c := t.calls
	t.calls = nil
	return c
}

func workload(name string, routes ...tinyforgev1alpha1.RouteStatus) *tinyforgev1alpha1.Workload {
	return &tinyforgev1alpha1.Workload{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name},
		Status:     tinyforgev1alpha1.WorkloadStatus{Routes: routes},
	}
}

func route(host, path string, addrs ...string) tinyforgev1alpha1.RouteStatus {
	rs := tinyforgev1alpha1.RouteStatus{Host: host, PathPrefix: path}
	for _, a := range addrs {
		rs.Backends = append(rs.Backends, tinyforgev1alpha1.RouteBackend{Address: a, Revision: "r-" + a})
	}
	return rs
}

func newFeed(t *testing.T, objs ...client.Object) (*Reconciler, client.Client, *recordingTable) {
	t.Helper()
	s := runtime.NewScheme()
	if err := tinyforgev1alpha1.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	c := fake.NewClientBuilder().WithScheme(s).WithObjects(objs...).WithStatusSubresource(&tinyforgev1alpha1.Workload{}).Build()
	rt := &recordingTable{fail: map[plugins.RouteKey]bool{}}
	return &Reconciler{Client: c, Routes: rt}, c, rt
}

func reconcileOne(t *testing.T, r *Reconciler, name string) error {
	t.Helper()
	_, err := r.Reconcile(context.Background(), ctrl.Request{NamespacedName: types.NamespacedName{Namespace: "default", Name: name}})
	return err
}

func setStatus(t *testing.T, c client.Client, name string, routes ...tinyforgev1alpha1.RouteStatus) {
	t.Helper()
	w := &tinyforgev1alpha1.Workload{}
	if err := c.Get(context.Background(), types.NamespacedName{Namespace: "default", Name: name}, w); err != nil {
		t.Fatal(err)
	}
	w.Status.Routes = routes
	if err := c.Status().Update(context.Background(), w); err != nil {
		t.Fatal(err)
	}
}

func wantCalls(t *testing.T, rt *recordingTable, step string, want ...string) {
	t.Helper()
	got := rt.take()
	if !slices.Equal(got, want) {
		t.Errorf("%s: calls %q, want %q", step, got, want)
	}
}

func TestFeedFollowsStatusRoutes(t *testing.T) {
	r, c, rt := newFeed(t, workload("web", route("web.example", "/", "10.0.0.1:80")))

	if err := reconcileOne(t, r, "web"); err != nil {
		t.Fatal(err)
	}
	wantCalls(t, rt, "first sight", "set web.example/ 10.0.0.1:80")

	if err := reconcileOne(t, r, "web"); err != nil {
		t.Fatal(err)
	}
	wantCalls(t, rt, "nothing changed")

	setStatus(t, c, "web", route("web.example", "/", "10.0.0.2:80"), route("web.example", "/api", "10.0.0.3:80", "10.0.0.4:80"))
	if err := reconcileOne(t, r, "web"); err != nil {
		t.Fatal(err)
	}
	wantCalls(t, rt, "switch and a new route", "set web.example/ 10.0.0.2:80", "set web.example/api 10.0.0.3:80,10.0.0.4:80")

	// The same backends in another order are no change.
	setStatus(t, c, "web", route("web.example", "/", "10.0.0.2:80"), route("web.example", "/api", "10.0.0.4:80", "10.0.0.3:80"))
	if err := reconcileOne(t, r, "web"); err != nil {
		t.Fatal(err)
	}
	wantCalls(t, rt, "reordered backends")

	// A host change: the new route is set, the old one removed.
	setStatus(t, c, "web", route("moved.example", "/", "10.0.0.2:80"))
	if err := reconcileOne(t, r, "web"); err != nil {
		t.Fatal(err)
	}
	wantCalls(t, rt, "host change", "set moved.example/ 10.0.0.2:80", "remove web.example/", "remove web.example/api")

	// A route with no backends stays claimed (503), not removed.
	setStatus(t, c, "web", route("moved.example", "/"))
	if err := reconcileOne(t, r, "web"); err != nil {
		t.Fatal(err)
	}
	wantCalls(t, rt, "recreate gap", "set moved.example/ ")

	if err := c.Delete(context.Background(), workload("web")); err != nil {
		t.Fatal(err)
	}
	if err := reconcileOne(t, r, "web"); err != nil {
		t.Fatal(err)
	}
	wantCalls(t, rt, "workload deleted", "remove moved.example/")
	if len(r.served) != 0 {
		t.Errorf("the feed still remembers %v", r.served)
	}
}

func TestFeedRetriesARefusedRoute(t *testing.T) {
	r, _, rt := newFeed(t, workload("web", route("a.example", "/", "10.0.0.1:80"), route("b.example", "/", "10.0.0.2:80")))
	rt.fail[plugins.RouteKey{Host: "a.example", PathPrefix: "/"}] = true
	err := reconcileOne(t, r, "web")
	if err == nil || !strings.Contains(err.Error(), "a.example/") {
		t.Fatalf("error %v, want one naming the refused route", err)
	}
	wantCalls(t, rt, "one refused", "set b.example/ 10.0.0.2:80")

	delete(rt.fail, plugins.RouteKey{Host: "a.example", PathPrefix: "/"})
	if err := reconcileOne(t, r, "web"); err != nil {
		t.Fatal(err)
	}
	wantCalls(t, rt, "retried", "set a.example/ 10.0.0.1:80")
}

func TestLoadAll(t *testing.T) {
	r, _, rt := newFeed(t,
		workload("one", route("one.example", "/", "10.0.0.1:80")),
		workload("two", route("two.example", "/", "10.0.0.2:80")),
		workload("none"))
	if err := r.LoadAll(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := rt.take()
	slices.Sort(got)
	if want := []string{"set one.example/ 10.0.0.1:80", "set two.example/ 10.0.0.2:80"}; !slices.Equal(got, want) {
		t.Errorf("calls %q, want %q", got, want)
	}
}
