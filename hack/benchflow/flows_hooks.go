package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	tinyforgev1alpha1 "github.com/tinyforge/tinyforge/api/v1alpha1"
)

// webhookIngress is figure 5: signed generic deliveries to a trigger
// without bindings. First one at a time, each timed from sending to the
// Event appearing in a watch; then as many as the load loop's connections
// can deliver, counted when answered 202.
func (b *bench) webhookIngress(ctx context.Context) error {
	url, token := b.hookURLs[hooksTrigger], b.tokens[hooksTrigger]
	c := keepAliveClient(1)
	defer c.CloseIdleConnections()
	// A first delivery opens the connection, outside the figures.
	if _, err := deliverAccepted(ctx, c, url, token, genericImagePush(b.run+"-warm", hooksRepo, "v1")); err != nil {
		return fmt.Errorf("first delivery: %w", err)
	}

	seen := b.events.track(func(client.Object) bool { return true })
	sent := map[string]time.Time{}
	var answered []time.Duration
	for i := range b.o.hookLatency {
		body := genericImagePush(fmt.Sprintf("%s-lat-%d", b.run, i), hooksRepo, "v1")
		start := time.Now()
		name, err := deliverAccepted(ctx, c, url, token, body)
		if err != nil {
			b.events.untrack(seen)
			return fmt.Errorf("delivery %d: %w", i, err)
		}
		answered = append(answered, time.Since(start))
		sent[name] = start
	}
	times, err := b.events.wait(ctx, seen, b.o.waitTimeout, func(times map[string]time.Time) error {
		for name := range sent {
			if _, ok := times[name]; !ok {
				return errNotYet
			}
		}
		return nil
	}, func() string { return fmt.Sprintf("%d Events in the watch", len(sent)) })
	b.events.untrack(seen)
	if err != nil {
		return err
	}
	var visible []time.Duration
	for name, at := range sent {
		visible = append(visible, times[name].Sub(at))
	}
	n := b.o.hookLatency
	b.rep.info(5, fmt.Sprintf("delivery sent → Event in a watch, p50 / p99 of %d one at a time", n), p50p99(visible))
	b.rep.info(5, "  delivery sent → answered 202, p50 / p99", p50p99(answered))

	progress("  signed deliveries on %d connections for %s", b.o.loadConns, b.o.hookDuration)
	profiled := b.profileServer(ctx, b.o.hooksProfile, b.o.hookDuration, "figure 5's throughput run")
	before := b.sampleCPU()
	res := runLoad(ctx, b.o.loadConns, b.o.hookDuration, func(ctx context.Context, c *http.Client, worker, i int) error {
		_, err := deliverAccepted(ctx, c, url, token, genericImagePush(fmt.Sprintf("%s-tp-%d-%d", b.run, worker, i), hooksRepo, "v1"))
		return err
	})
	cpu := b.sampleCPU().cpuSince(before, res.ok, "delivery")
	profiled()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if res.ok == 0 {
		return fmt.Errorf("no delivery was accepted: %s", res.errSummary())
	}
	if s := res.errSummary(); s != "" {
		b.rep.note("figure 5, throughput: %s", s)
	}
	b.rep.info(5, fmt.Sprintf("signed deliveries accepted (202, one Event each)/s, %d connections, %s", b.o.loadConns, b.o.hookDuration), fmt.Sprintf("%.0f/s", res.rate()))
	b.rep.info(5, "  answer latency p50 / p99", p50p99(res.lat))
	b.rep.info(5, "  CPU: server / benchflow (load loop and watches)", cpu)
	b.rep.note("figure 5: generic image-push deliveries with X-TinyForge-Signature, unique ids, trigger rate limit lifted to %s/s; the trigger has no bindings, so each Event ends Ignored", ingressRateLimit)
	return nil
}

// pushToServing is figure 6: a Workload of the registry image, bound to a
// registry trigger the registry notifies; docker push of a new tag, then
// the time from the push finishing to the proxy serving the new version.
func (b *bench) pushToServing(ctx context.Context) error {
	if _, err := b.deploy(ctx, imageWorkload(b.run, hookWorkload, b.reg.ref(appRepo+":v1"), b.o.probe)); err != nil {
		return err
	}
	if err := b.kube.Create(ctx, triggerBinding(b.run, hookWorkload, pushesTrigger, hookWorkload)); err != nil {
		return fmt.Errorf("creating binding %s: %w", hookWorkload, err)
	}
	if _, err := b.bindings.waitFor(ctx, hookWorkload, b.o.waitTimeout, "to be Ready", conditionTrue(tinyforgev1alpha1.ConditionReady), explainObject); err != nil {
		return err
	}
	url, host := "http://"+b.srv.ports.proxyAddr()+"/", routeHost(b.run, hookWorkload)
	var pushes, served, ready []time.Duration
	for i := range b.o.pushRuns {
		version := "v2"
		if i%2 == 1 {
			version = "v1" // pushed again under a new tag: its first digest
		}
		tag := fmt.Sprintf("v%d", i+2)
		obj, ok := b.workloads.get(hookWorkload)
		w, _ := obj.(*tinyforgev1alpha1.Workload)
		if !ok || w == nil {
			return fmt.Errorf("workload %s is gone", hookWorkload)
		}
		before := w.Status.CurrentRevision
		t := b.workloads.track(func(o client.Object) bool {
			w, ok := o.(*tinyforgev1alpha1.Workload)
			return ok && w.Name == hookWorkload && w.Status.CurrentRevision != before && readyAt(1)(o)
		})
		start := time.Now()
		digest, err := b.reg.push(ctx, b.docker, b.images[version], appRepo+":"+tag)
		if err != nil {
			b.workloads.untrack(t)
			return err
		}
		pushed := time.Now()
		at, err := pollUntil(ctx, b.proxyClient, url, host, "version="+version, b.o.pollEvery, b.o.waitTimeout)
		if err != nil {
			b.workloads.untrack(t)
			return err
		}
		readyTime, err := b.workloads.waitTracked(ctx, t, hookWorkload, b.o.waitTimeout, "to be Ready at the pushed digest", explainObject)
		b.workloads.untrack(t)
		if err != nil {
			return err
		}
		if obj, ok := b.workloads.get(hookWorkload); ok {
			if w, _ := obj.(*tinyforgev1alpha1.Workload); w != nil && w.Status.CurrentRevision != digest {
				return fmt.Errorf("workload %s is Ready at %s, not at the pushed digest %s", hookWorkload, w.Status.CurrentRevision, digest)
			}
		}
		pushes = append(pushes, pushed.Sub(start))
		served = append(served, at.Sub(pushed))
		ready = append(ready, readyTime.Sub(pushed))
	}
	n := b.o.pushRuns
	b.rep.info(6, fmt.Sprintf("docker push finished → proxy serves the pushed version, median of %d", n), spread(served))
	b.rep.info(6, "  docker push finished → Ready at the pushed digest", spread(ready))
	b.rep.info(6, "  the docker push itself (Engine API, new tag of a local image)", spread(pushes))
	if b.applyMedian >= 0 {
		b.rep.info(6, "  compare: apply → Ready, median (figure 1)", fmtDur(b.applyMedian))
	}
	b.rep.note("figure 6: registry notification (Authorization: Bearer) → ingress → Event → registry trigger resolves the digest from the registry → Rollout → blue-green; the registry may notify before the push's progress stream ends")
	return nil
}

// fanOutRollouts is figure 7: one Event of the fan trigger, bound to
// every fan Workload, until every Rollout it caused has Succeeded. Figure
// 4's Workloads are reused; the rest are created first.
func (b *bench) fanOutRollouts(ctx context.Context) error {
	if !b.manyReady {
		return errors.New("needs figure 4's Workloads, which did not all become Ready")
	}
	n := b.o.fanOut
	if n > b.o.manyAtOnce {
		r, err := b.deployMany(ctx, b.o.manyAtOnce, n)
		if err != nil {
			return err
		}
		b.rep.info(4, fmt.Sprintf("%d more Workloads at once, %d running → all Ready", n-b.o.manyAtOnce, b.o.manyAtOnce), fmt.Sprintf("%s (%.1f/s)", fmtDur(r.total), float64(n-b.o.manyAtOnce)/r.total.Seconds()))
		b.rep.info(4, "  Rollout Deploying → Succeeded", r.deploys)
	}
	names := map[string]bool{}
	var bindings []client.Object
	for i := range n {
		names[fanName(i)] = true
		bindings = append(bindings, triggerBinding(b.run, fanName(i), fanTrigger, fanName(i)))
	}
	bound := b.bindings.track(func(o client.Object) bool {
		return names[o.GetName()] && conditionTrue(tinyforgev1alpha1.ConditionReady)(o)
	})
	err := createAll(ctx, b.kube, bindings)
	if err == nil {
		_, err = b.bindings.wait(ctx, bound, b.o.waitTimeout, func(times map[string]time.Time) error {
			if len(times) == n {
				return nil
			}
			return errNotYet
		}, func() string {
			return fmt.Sprintf("%d of %d TriggerBindings Ready", len(b.bindings.recorded(bound)), n)
		})
	}
	b.bindings.untrack(bound)
	if err != nil {
		return err
	}

	fanRollout := func(phase tinyforgev1alpha1.RolloutPhase) func(client.Object) bool {
		return func(o client.Object) bool {
			ro, ok := o.(*tinyforgev1alpha1.Rollout)
			return ok && ro.Spec.EventRef != nil && names[ro.Spec.WorkloadRef.Name] && ro.Status.Phase == phase
		}
	}
	created := b.rollouts.track(func(o client.Object) bool {
		ro, ok := o.(*tinyforgev1alpha1.Rollout)
		return ok && ro.Spec.EventRef != nil && names[ro.Spec.WorkloadRef.Name]
	})
	succeeded := b.rollouts.track(fanRollout(tinyforgev1alpha1.RolloutPhaseSucceeded))
	failed := b.rollouts.track(fanRollout(tinyforgev1alpha1.RolloutPhaseFailed))
	defer func() {
		b.rollouts.untrack(created)
		b.rollouts.untrack(succeeded)
		b.rollouts.untrack(failed)
	}()
	deploys := b.trackDeploys(names, true)
	defer deploys.summary(b.rollouts)
	dispatched := b.events.track(func(o client.Object) bool {
		ev, ok := o.(*tinyforgev1alpha1.Event)
		return ok && ev.Spec.TriggerRef.Name == fanTrigger && ev.Status.Phase == tinyforgev1alpha1.EventPhaseDispatched
	})
	defer b.events.untrack(dispatched)

	c := keepAliveClient(1)
	defer c.CloseIdleConnections()
	start := time.Now()
	evName, err := deliverAccepted(ctx, c, b.hookURLs[fanTrigger], b.tokens[fanTrigger], genericImagePush(b.run+"-fan", b.reg.ref(fanRepo), "v2"))
	if err != nil {
		return fmt.Errorf("delivering the fan-out event: %w", err)
	}
	times, err := b.rollouts.wait(ctx, succeeded, b.o.waitTimeout, func(times map[string]time.Time) error {
		if f := b.rollouts.recorded(failed); len(f) > 0 {
			for name := range f {
				obj, _ := b.rollouts.get(name)
				return fmt.Errorf("rollout %s failed: %s", name, explainObject(obj))
			}
		}
		if len(times) == n {
			return nil
		}
		return errNotYet
	}, func() string {
		return fmt.Sprintf("%d Rollouts of Event %s to succeed: %d created, %d succeeded", n, evName, len(b.rollouts.recorded(created)), len(b.rollouts.recorded(succeeded)))
	})
	if err != nil {
		return err
	}
	var done []time.Duration
	for _, at := range times {
		done = append(done, at.Sub(start))
	}
	last := slices.Max(done)
	b.rep.info(7, fmt.Sprintf("one Event → %d Rollouts Succeeded (blue-green, registry digest)", n), fmtDur(last))
	b.rep.info(7, "  rollouts per second", fmt.Sprintf("%.1f/s", float64(n)/last.Seconds()))
	if ev, ok := b.events.recorded(dispatched)[evName]; ok {
		b.rep.info(7, fmt.Sprintf("  Event dispatched (%d bindings matched, Rollouts created)", n), fmtDur(ev.Sub(start)))
	}
	if cr := b.rollouts.recorded(created); len(cr) == n {
		var ds []time.Duration
		for _, at := range cr {
			ds = append(ds, at.Sub(start))
		}
		b.rep.info(7, "  first / last Rollout created", fmtDur(slices.Min(ds))+" / "+fmtDur(slices.Max(ds)))
	}
	b.rep.info(7, "  first / median Rollout Succeeded", fmtDur(slices.Min(done))+" / "+fmtDur(median(done)))
	b.rep.info(7, "  Rollout Deploying → Succeeded", deploys.summary(b.rollouts))
	return nil
}
