package proxy

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/tinyforge/tinyforge/plugins"
)

// ErrBackendInUse is wrapped by Drain when a backend to drain still serves
// a route: stopping it would fail live requests.
var ErrBackendInUse = errors.New("backend still serves a route")

// abortGrace bounds how long Drain waits, after aborting the requests left
// at the drain deadline, for their handlers to notice.
const abortGrace = 2 * time.Second

// DeployOptions tune one Deploy.
type DeployOptions struct {
	// HealthCheck, when set, is probed on each new backend: the switch waits
	// until every new backend has passed it once, and a serving backend that
	// fails it FailureThreshold times in a row gets no requests until it
	// passes again. Nil means the caller vouches that the backends are
	// healthy, and they get requests at once.
	HealthCheck *HealthCheck
}

// SetRoute makes backends the only ones serving key, at once: the caller has
// checked they are healthy. See Deploy, of which it is the plain form, for
// what it guarantees.
func (r *Router) SetRoute(ctx context.Context, key plugins.RouteKey, backends ...plugins.Backend) error {
	return r.Deploy(ctx, key, DeployOptions{}, backends...)
}

// Deploy makes backends the only ones serving key, blue-green: new backends
// are health-checked (when opts has a check) while the old ones keep serving,
// then the route switches to the new set in one step, and old backends drain
// (they get no new request; those in flight finish). A backend in both sets
// keeps serving throughout. If a new backend does not become healthy before
// ctx is done (or the HealthTimeout passes), the route is left as it was and
// the error wraps ErrUnhealthy.
//
// Deploy returns once the switch is made; call Drain with the old backends
// before stopping them. With no backends, the route stays published and
// answers 503. Deploying the same backends again does nothing, so sources may
// re-publish their routes on every reconcile. Deploys of one key are
// serialized; deploys of different keys run in parallel.
func (r *Router) Deploy(ctx context.Context, key plugins.RouteKey, opts DeployOptions, backends ...plugins.Backend) error {
	key, err := normalizeKey(key)
	if err != nil {
		return err
	}
	if backends, err = normalizeBackends(key, backends); err != nil {
		return err
	}
	var check *HealthCheck
	if opts.HealthCheck != nil {
		check = opts.HealthCheck.withDefaults()
		if err := check.validate(); err != nil {
			return fmt.Errorf("route %s: %w", key, err)
		}
	}
	unlock, err := r.lockKey(ctx, key)
	if err != nil {
		return err
	}
	defer unlock()

	r.mu.Lock()
	rt := r.routes[key]
	r.mu.Unlock()
	old := emptySet
	if rt != nil {
		old = rt.targets.Load()
		if old.sameBackends(backends) {
			return nil
		}
	}

	next, added := r.newSet(key, old, backends, check)
	if err := r.waitHealthy(ctx, key, added); err != nil {
		for _, t := range added {
			t.drain()
		}
		return err
	}

	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		for _, t := range added {
			t.drain()
		}
		return ErrRouterClosed
	}
	if rt == nil {
		r.routes[key] = newRoute(key, next)
		r.publishLocked()
	} else {
		rt.targets.Store(next)
	}
	r.sweepLocked()
	r.mu.Unlock()

	// Only now, with the new set published, may the old targets refuse
	// requests: a request that picked one a moment ago finds the new set.
	for _, t := range old.targets {
		if next.find(t.backend) == nil {
			t.drain()
		}
	}
	r.log.Info("Switched route", "route", key.String(), "from", old.backends(), "to", next.backends())
	return nil
}

// newSet builds the target set for backends, keeping the targets of old that
// stay, so their in-flight counts and health carry over. It returns the new
// targets apart, which must pass their health check before the switch.
func (r *Router) newSet(key plugins.RouteKey, old *targetSet, backends []plugins.Backend, check *HealthCheck) (*targetSet, []*target) {
	next := &targetSet{targets: make([]*target, 0, len(backends))}
	var added []*target
	for _, b := range backends {
		if t := old.find(b); t != nil {
			next.targets = append(next.targets, t)
			continue
		}
		t := newTarget(b, &r.opts, r.log.WithValues("route", key.String()))
		next.targets = append(next.targets, t)
		added = append(added, t)
	}
	r.mu.Lock()
	for _, t := range added {
		r.targets[t] = struct{}{}
	}
	r.mu.Unlock()
	for _, t := range added {
		if check == nil {
			t.markHealthy()
		} else {
			t.startProbing(r.ctx, newProber(t.backend.Address, key.Host, check))
		}
	}
	return next, added
}

func (r *Router) waitHealthy(ctx context.Context, key plugins.RouteKey, targets []*target) error {
	ctx, cancel := context.WithTimeout(ctx, r.opts.HealthTimeout)
	defer cancel()
	for _, t := range targets {
		select {
		case <-t.healthy:
		case <-ctx.Done():
			cause := t.lastProbeError()
			if cause == nil {
				cause = ctx.Err()
			}
			r.log.Info("Backend did not become healthy; route unchanged", "route", key.String(),
				"backend", t.backend.Address, "revision", t.backend.Revision, "err", cause.Error())
			return fmt.Errorf("route %s: backend %s: %w: %w", key, t.backend.Address, ErrUnhealthy, cause)
		}
	}
	return nil
}

// RemoveRoute stops serving key; its backends drain. Removing a route that
// does not exist succeeds.
func (r *Router) RemoveRoute(ctx context.Context, key plugins.RouteKey) error {
	key, err := normalizeKey(key)
	if err != nil {
		return err
	}
	unlock, err := r.lockKey(ctx, key)
	if err != nil {
		return err
	}
	defer unlock()

	r.mu.Lock()
	rt := r.routes[key]
	if rt != nil {
		delete(r.routes, key)
		r.publishLocked()
	}
	r.sweepLocked()
	r.mu.Unlock()
	if rt == nil {
		return nil
	}
	old := rt.targets.Swap(emptySet)
	for _, t := range old.targets {
		t.drain()
	}
	r.log.Info("Removed route", "route", key.String(), "backends", old.backends())
	return nil
}

// Drain waits until no route sends requests to backends any more and their
// requests in flight are done, so the caller may stop them. Backends match
// by address, and by revision when one is given. A backend that still serves
// a route is an error wrapping ErrBackendInUse; a backend the proxy does not
// know (never routed to, or already drained) is done.
//
// When timeout (0 means the DrainTimeout option) passes first, Drain aborts
// the requests left and returns an error wrapping ErrDrainTimeout. When ctx
// is done first, it returns ctx's error and leaves the requests running.
func (r *Router) Drain(ctx context.Context, timeout time.Duration, backends ...plugins.Backend) error {
	if timeout <= 0 {
		timeout = r.opts.DrainTimeout
	}
	var draining []*target
	r.mu.Lock()
	r.sweepLocked()
	for t := range r.targets {
		if !slices.ContainsFunc(backends, t.matchedBy) {
			continue
		}
		if s := t.currentState(); s < TargetDraining {
			r.mu.Unlock()
			return fmt.Errorf("draining %s: %w (%s)", t.backend.Address, ErrBackendInUse, s)
		}
		draining = append(draining, t)
	}
	r.mu.Unlock()

	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for i, t := range draining {
		select {
		case <-t.drained:
		case <-ctx.Done():
			return fmt.Errorf("draining %s: %w", t.backend.Address, ctx.Err())
		case <-deadline.C:
			return r.abort(ctx, timeout, draining[i:])
		}
	}
	if len(draining) > 0 {
		r.log.Info("Drained backends", "backends", backendsOf(draining))
	}
	return nil
}

// abort ends the requests still in flight on targets after their drain
// deadline, and waits a little for them to be gone.
func (r *Router) abort(ctx context.Context, timeout time.Duration, targets []*target) error {
	left := 0
	for _, t := range targets {
		left += t.snapshot().InFlight
		t.abortInFlight()
	}
	r.log.Info("Drain deadline passed; aborting requests in flight", "backends", backendsOf(targets),
		"inFlight", left, "timeout", timeout)
	grace := time.NewTimer(abortGrace)
	defer grace.Stop()
wait:
	for _, t := range targets {
		select {
		case <-t.drained:
		case <-grace.C:
			break wait
		case <-ctx.Done():
			break wait
		}
	}
	return fmt.Errorf("draining %v: %d requests still in flight after %s: %w",
		backendsOf(targets), left, timeout, ErrDrainTimeout)
}

func backendsOf(targets []*target) []string {
	out := make([]string, len(targets))
	for i, t := range targets {
		out[i] = t.backend.Address
	}
	return out
}
