package routefeed

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"

	tinyforgev1alpha1 "github.com/tinyforge/tinyforge/api/v1alpha1"
	"github.com/tinyforge/tinyforge/plugins"
)

// Reconciler mirrors every Workload's status.routes into Routes.
type Reconciler struct {
	// Client reads Workloads from the manager's cache.
	Client client.Client
	// Routes is the proxy's route table.
	Routes plugins.RouteTable
	// MaxConcurrentReconciles bounds workloads handled at once.
	MaxConcurrentReconciles int

	mu sync.Mutex
	// served is what this proxy serves for each workload, as last applied.
	// It lives in the reconciler because the proxy it mirrors lives in this
	// process too.
	served map[types.NamespacedName]routeSet
}

// routeSet is a workload's routes and their backends.
type routeSet map[plugins.RouteKey][]plugins.Backend

// SetupWithManager registers the controller. Every proxy process runs it,
// so it needs no leader election.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.Routes == nil {
		return errors.New("route feed: no route table")
	}
	if r.MaxConcurrentReconciles <= 0 {
		r.MaxConcurrentReconciles = 4
	}
	return ctrl.NewControllerManagedBy(mgr).
		Named("routefeed").
		For(&tinyforgev1alpha1.Workload{}).
		WithOptions(controller.Options{
			NeedLeaderElection:      ptr.To(false),
			MaxConcurrentReconciles: r.MaxConcurrentReconciles,
		}).
		Complete(r)
}

// Reconcile applies one workload's status.routes; a deleted workload's
// routes are removed.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	w := &tinyforgev1alpha1.Workload{}
	err := r.Client.Get(ctx, req.NamespacedName, w)
	switch {
	case apierrors.IsNotFound(err):
		w = nil
	case err != nil:
		return ctrl.Result{}, err
	}
	return ctrl.Result{}, r.apply(ctx, req.NamespacedName, w)
}

// LoadAll applies the routes of every Workload in the cache, so a proxy
// that starts serving after it knows every route there is.
func (r *Reconciler) LoadAll(ctx context.Context) error {
	var list tinyforgev1alpha1.WorkloadList
	if err := r.Client.List(ctx, &list); err != nil {
		return fmt.Errorf("listing workloads: %w", err)
	}
	var errs []error
	for i := range list.Items {
		w := &list.Items[i]
		errs = append(errs, r.apply(ctx, client.ObjectKeyFromObject(w), w))
	}
	return errors.Join(errs...)
}

// apply makes the proxy serve w's published routes and nothing else of
// key's; w nil means the workload is gone.
func (r *Reconciler) apply(ctx context.Context, key types.NamespacedName, w *tinyforgev1alpha1.Workload) error {
	log := ctrl.LoggerFrom(ctx)
	want := routeSet{}
	if w != nil {
		want = desired(w)
	}
	r.mu.Lock()
	if r.served == nil {
		r.served = make(map[types.NamespacedName]routeSet)
	}
	have := r.served[key]
	r.mu.Unlock()

	// Reconciles of one workload never run at once, so have is still this
	// workload's state when the changes below are done.
	next := routeSet{}
	var errs []error
	for _, rk := range sortedKeys(want) {
		bs := want[rk]
		if cur, ok := have[rk]; ok && plugins.SameBackends(cur, bs) {
			next[rk] = cur
			continue
		}
		if err := r.Routes.SetRoute(ctx, rk, bs...); err != nil {
			errs = append(errs, fmt.Errorf("setting route %s of %s: %w", rk, key, err))
			if cur, ok := have[rk]; ok {
				next[rk] = cur
			}
			continue
		}
		log.V(1).Info("Set route", "route", rk.String(), "backends", len(bs))
		next[rk] = bs
	}
	for _, rk := range sortedKeys(have) {
		if _, ok := want[rk]; ok {
			continue
		}
		if err := r.Routes.RemoveRoute(ctx, rk); err != nil {
			errs = append(errs, fmt.Errorf("removing route %s of %s: %w", rk, key, err))
			next[rk] = have[rk]
			continue
		}
		log.V(1).Info("Removed route", "route", rk.String())
	}
	r.mu.Lock()
	if len(next) == 0 {
		delete(r.served, key)
	} else {
		r.served[key] = next
	}
	r.mu.Unlock()
	return errors.Join(errs...)
}

// desired reads w's status.routes.
func desired(w *tinyforgev1alpha1.Workload) routeSet {
	out := make(routeSet, len(w.Status.Routes))
	for _, rs := range w.Status.Routes {
		bs := make([]plugins.Backend, 0, len(rs.Backends))
		for _, b := range rs.Backends {
			bs = append(bs, plugins.Backend{Address: b.Address, Revision: b.Revision})
		}
		out[plugins.RouteKey{Host: rs.Host, PathPrefix: rs.PathPrefix}] = bs
	}
	return out
}

func sortedKeys(s routeSet) []plugins.RouteKey {
	keys := make([]plugins.RouteKey, 0, len(s))
	for k := range s {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b plugins.RouteKey) int { return strings.Compare(a.String(), b.String()) })
	return keys
}
