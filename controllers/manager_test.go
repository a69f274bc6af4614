package controllers_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	"github.com/tinyforge/tinyforge/controllers"
	"github.com/tinyforge/tinyforge/internal/apiserver/apiservertest"
)

// fastElection fails over in seconds rather than client-go's 15 s.
func fastElection() *controllers.Options {
	o := controllers.NewOptions()
	o.LeaseDuration = 3 * time.Second
	o.RenewDeadline = 2 * time.Second
	o.RetryPeriod = 250 * time.Millisecond
	return o
}

type runningManager struct {
	t      *testing.T
	mgr    manager.Manager
	cancel context.CancelFunc
	// done is closed when Start returns.
	done chan struct{}
}

func startManager(t *testing.T, s *apiservertest.Server) *runningManager {
	t.Helper()
	mgr, err := controllers.NewManager(s.Admin, fastElection())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &runningManager{t: t, mgr: mgr, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		if err := mgr.Start(ctx); err != nil {
			t.Errorf("manager: %v", err)
		}
	}()
	t.Cleanup(r.stop)
	return r
}

// stop cancels the manager and waits for it to return; calling it again
// (the test, then its cleanup) returns at once.
func (r *runningManager) stop() {
	r.cancel()
	select {
	case <-r.done:
	case <-time.After(30 * time.Second):
		r.t.Errorf("the manager did not return within 30s of its context ending")
	}
}

func (r *runningManager) elected() bool {
	select {
	case <-r.mgr.Elected():
		return true
	default:
		return false
	}
}

func TestLeaderElectionFailover(t *testing.T) {
	s := apiservertest.Start(t)
	kube := kubernetes.NewForConfigOrDie(s.Admin)
	a, b := startManager(t, s), startManager(t, s)

	var leader, standby *runningManager
	err := wait.PollUntilContextTimeout(context.Background(), 50*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		switch {
		case a.elected() && b.elected():
			t.Fatal("both managers lead at once")
		case a.elected():
			leader, standby = a, b
		case b.elected():
			leader, standby = b, a
		}
		return leader != nil, nil
	})
	if err != nil {
		t.Fatalf("no manager was elected: %v", err)
	}
	holder := func() string {
		l, err := kube.CoordinationV1().Leases(controllers.NewOptions().LeaderElectionNamespace).Get(context.Background(), controllers.LeaderElectionID, metav1.GetOptions{})
		if err != nil || l.Spec.HolderIdentity == nil {
			return ""
		}
		return *l.Spec.HolderIdentity
	}
	first := holder()
	if first == "" {
		t.Fatal("the Lease names no holder")
	}
	// The standby must stay a standby while the leader renews.
	if standby.elected() {
		t.Fatal("standby elected while the leader is alive")
	}

	leader.stop()
	err = wait.PollUntilContextTimeout(context.Background(), 50*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		return standby.elected(), nil
	})
	if err != nil {
		t.Fatalf("standby did not take over after the leader stopped: %v", err)
	}
	now := holder()
	if now == first || !strings.Contains(now, "_") {
		t.Errorf("Lease holder = %q after failover, want a new identity (was %q)", now, first)
	}

	// Both hand-overs are on record as the Lease's Events; the leader's
	// last one was written before its manager returned.
	leaseEvents := func() []string {
		list, err := kube.CoreV1().Events(controllers.NewOptions().LeaderElectionNamespace).List(context.Background(), metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, e := range list.Items {
			if e.InvolvedObject.Kind == "Lease" && e.InvolvedObject.Name == controllers.LeaderElectionID && e.Reason == "LeaderElection" {
				got = append(got, e.Message)
			}
		}
		return got
	}
	if got := leaseEvents(); !slices.Contains(got, first+" became leader") || !slices.Contains(got, first+" stopped leading") {
		t.Errorf("the Lease's Events once its first leader stopped = %q, want %q and %q", got, first+" became leader", first+" stopped leading")
	}
	err = wait.PollUntilContextTimeout(context.Background(), 50*time.Millisecond, 10*time.Second, true, func(context.Context) (bool, error) {
		return slices.Contains(leaseEvents(), now+" became leader"), nil
	})
	if err != nil {
		t.Errorf("no Event says %q: %q", now+" became leader", leaseEvents())
	}
}

func TestOptionsValidate(t *testing.T) {
	if err := controllers.NewOptions().Validate(); err != nil {
		t.Fatalf("the default options: %v", err)
	}
	for name, tc := range map[string]struct {
		change func(*controllers.Options)
		want   string
	}{
		"no Event workers":   {func(o *controllers.Options) { o.ConcurrentEventSyncs = 0 }, "--concurrent-event-syncs must be at least 1"},
		"unknown upstream":   {func(o *controllers.Options) { o.ProxyUpstream = "pod" }, "--proxy-upstream must be container or published"},
		"lease under renew":  {func(o *controllers.Options) { o.LeaseDuration = o.RenewDeadline }, "--leader-elect-lease-duration"},
		"renew under period": {func(o *controllers.Options) { o.RenewDeadline = o.RetryPeriod }, "--leader-elect-renew-deadline"},
	} {
		o := controllers.NewOptions()
		tc.change(o)
		if err := o.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error containing %q", name, err, tc.want)
		}
	}
}
