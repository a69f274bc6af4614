package workload

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	tinyforgev1alpha1 "github.com/tinyforge/tinyforge/api/v1alpha1"
	"github.com/tinyforge/tinyforge/plugins"
)

// routeRecorder is the route table the sources see during one reconcile of
// one workload. It passes every change on to the proxy of this process (if
// it runs one) and records the result in the workload's status.routes, at
// once, so that proxies running apart (`tinyforge proxy`) switch at the same
// moment. It also knows the routes published before, so routes the spec no
// longer has can be removed.
//
// A recorder lives for one reconcile; reconciles of one workload never run
// at once, so status.routes has one writer at a time.
type routeRecorder struct {
	inner  plugins.RouteTable
	client client.Client
	key    types.NamespacedName
	// grace is how long a drain lasts at least, for proxies in other
	// processes to see the switch and finish their requests to the old
	// backends.
	grace time.Duration

	mu     sync.Mutex
	routes map[plugins.RouteKey][]plugins.Backend
}

var (
	_ plugins.RouteTable = (*routeRecorder)(nil)
	_ plugins.Drainer    = (*routeRecorder)(nil)
)

func newRouteRecorder(inner plugins.RouteTable, c client.Client, w *tinyforgev1alpha1.Workload, grace time.Duration) *routeRecorder {
	rr := &routeRecorder{
		inner:  inner,
		client: c,
		key:    client.ObjectKeyFromObject(w),
		grace:  grace,
		routes: make(map[plugins.RouteKey][]plugins.Backend, len(w.Status.Routes)),
	}
	for _, r := range w.Status.Routes {
		bs := make([]plugins.Backend, 0, len(r.Backends))
		for _, b := range r.Backends {
			bs = append(bs, plugins.Backend{Address: b.Address, Revision: b.Revision})
		}
		rr.routes[plugins.RouteKey{Host: r.Host, PathPrefix: r.PathPrefix}] = bs
	}
	return rr
}

// SetRoute switches the proxy of this process, then records the switch.
func (rr *routeRecorder) SetRoute(ctx context.Context, key plugins.RouteKey, backends ...plugins.Backend) error {
	if rr.inner != nil {
		if err := rr.inner.SetRoute(ctx, key, backends...); err != nil {
			return err
		}
	}
	rr.mu.Lock()
	defer rr.mu.Unlock()
	if cur, ok := rr.routes[key]; ok && plugins.SameBackends(cur, backends) {
		return nil
	}
	next := cloneRoutes(rr.routes)
	next[key] = slices.Clone(backends)
	return rr.publishLocked(ctx, next)
}

// RemoveRoute takes the route out of the proxy of this process and out of
// the status.
func (rr *routeRecorder) RemoveRoute(ctx context.Context, key plugins.RouteKey) error {
	if rr.inner != nil {
		if err := rr.inner.RemoveRoute(ctx, key); err != nil {
			return err
		}
	}
	rr.mu.Lock()
	defer rr.mu.Unlock()
	if _, ok := rr.routes[key]; !ok {
		return nil
	}
	next := cloneRoutes(rr.routes)
	delete(next, key)
	return rr.publishLocked(ctx, next)
}

// Drain waits until the old backends are idle in the proxy of this process,
// and at least the grace for proxies elsewhere, which this process cannot
// ask. Without a proxy here and without a grace it returns at once.
func (rr *routeRecorder) Drain(ctx context.Context, timeout time.Duration, backends ...plugins.Backend) error {
	start := time.Now()
	var err error
	if d, ok := rr.inner.(plugins.Drainer); ok {
		err = d.Drain(ctx, timeout, backends...)
	}
	if wait := min(rr.grace, timeout) - time.Since(start); wait > 0 {
		t := time.NewTimer(wait)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
		}
	}
	return err
}

// prune removes the published routes that are not in keep: a route whose
// host or path changed in the spec, once the new one serves.
func (rr *routeRecorder) prune(ctx context.Context, keep []plugins.Route) error {
	rr.mu.Lock()
	var stale []plugins.RouteKey
	for key := range rr.routes {
		if !slices.ContainsFunc(keep, func(r plugins.Route) bool { return r.Key() == key }) {
			stale = append(stale, key)
		}
	}
	rr.mu.Unlock()
	slices.SortFunc(stale, func(a, b plugins.RouteKey) int { return strings.Compare(a.String(), b.String()) })
	for _, key := range stale {
		if err := rr.RemoveRoute(ctx, key); err != nil {
			return fmt.Errorf("removing route %s, which the spec no longer has: %w", key, err)
		}
	}
	return nil
}

// publishLocked writes routes into status.routes with a merge patch of that
// field alone, so it races with no other status write, and adopts them.
func (rr *routeRecorder) publishLocked(ctx context.Context, routes map[plugins.RouteKey][]plugins.Backend) error {
	patch, err := json.Marshal(map[string]any{"status": map[string]any{"routes": routeStatuses(routes)}})
	if err != nil {
		return err
	}
	w := &tinyforgev1alpha1.Workload{}
	w.Namespace, w.Name = rr.key.Namespace, rr.key.Name
	if err := rr.client.Status().Patch(ctx, w, client.RawPatch(types.MergePatchType, patch)); err != nil {
		return fmt.Errorf("publishing the routes of %s in its status: %w", rr.key, err)
	}
	rr.routes = routes
	return nil
}

// routeStatuses lists routes by host and path, so the status does not
// change when nothing did. A nil result publishes "routes": null, which a
// merge patch takes as removal.
func routeStatuses(routes map[plugins.RouteKey][]plugins.Backend) []tinyforgev1alpha1.RouteStatus {
	if len(routes) == 0 {
		return nil
	}
	out := make([]tinyforgev1alpha1.RouteStatus, 0, len(routes))
	for key, bs := range routes {
		rs := tinyforgev1alpha1.RouteStatus{Host: key.Host, PathPrefix: key.PathPrefix}
		for _, b := range bs {
			rs.Backends = append(rs.Backends, tinyforgev1alpha1.RouteBackend{Address: b.Address, Revision: b.Revision})
		}
		out = append(out, rs)
	}
	slices.SortFunc(out, func(a, b tinyforgev1alpha1.RouteStatus) int {
		if c := strings.Compare(a.Host, b.Host); c != 0 {
			return c
		}
		return strings.Compare(a.PathPrefix, b.PathPrefix)
	})
	return out
}

// cloneRoutes copies the map (not the backend slices, which are never
// changed in place).
func cloneRoutes(m map[plugins.RouteKey][]plugins.Backend) map[plugins.RouteKey][]plugins.Backend {
	out := make(map[plugins.RouteKey][]plugins.Backend, len(m)+1)
	maps.Copy(out, m)
	return out
}
