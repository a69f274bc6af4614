package main

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// rewatchDelay spaces out watches re-established after the server closed
// one, so a failing server is not hammered.
const rewatchDelay = 100 * time.Millisecond

// watcher keeps the latest state of every object of one kind in the run's
// namespace, each with the time its watch event arrived, and lets trackers
// record when each object first met a condition. The times are when
// benchflow learnt of a state, which is what a user watching sees.
type watcher struct {
	kind    string
	c       client.WithWatch
	ns      string
	newList func() client.ObjectList

	mu       sync.Mutex
	latest   map[string]client.Object
	trackers map[*tracker]struct{}
	// changed is closed, and replaced, on every event.
	changed chan struct{}
	err     error
}

// tracker records the first time each object met pred.
type tracker struct {
	pred  func(client.Object) bool
	times map[string]time.Time
}

// startWatcher establishes the watch before it returns, so every later
// change is seen as it happens.
func startWatcher(ctx context.Context, c client.WithWatch, ns, kind string, newList func() client.ObjectList) (*watcher, error) {
	w := &watcher{kind: kind, c: c, ns: ns, newList: newList,
		latest: map[string]client.Object{}, trackers: map[*tracker]struct{}{}, changed: make(chan struct{})}
	wi, err := w.watch(ctx, "")
	if err != nil {
		return nil, fmt.Errorf("watching %s: %w", kind, err)
	}
	go w.loop(ctx, wi)
	return w, nil
}

func (w *watcher) watch(ctx context.Context, rv string) (watch.Interface, error) {
	return w.c.Watch(ctx, w.newList(), client.InNamespace(w.ns),
		&client.ListOptions{Raw: &metav1.ListOptions{ResourceVersion: rv, AllowWatchBookmarks: true}})
}

// loop consumes the watch, and re-establishes it from the last resource
// version when the server ends it.
func (w *watcher) loop(ctx context.Context, wi watch.Interface) {
	rv := ""
	for {
		rv = w.consume(wi, rv)
		wi.Stop()
		for {
			t := time.NewTimer(rewatchDelay)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			var err error
			if wi, err = w.watch(ctx, rv); err == nil {
				break
			}
			if apierrors.IsResourceExpired(err) || apierrors.IsGone(err) {
				rv = "" // too old: start over with the current state
			}
			w.setErr(fmt.Errorf("re-watching %s: %w", w.kind, err))
		}
	}
}

// consume handles events until the channel closes and returns the last
// resource version seen.
func (w *watcher) consume(wi watch.Interface, rv string) string {
	for ev := range wi.ResultChan() {
		at := time.Now()
		switch ev.Type {
		case watch.Added, watch.Modified, watch.Deleted:
			obj, ok := ev.Object.(client.Object)
			if !ok {
				continue
			}
			rv = obj.GetResourceVersion()
			w.observe(obj, ev.Type == watch.Deleted, at)
		case watch.Bookmark:
			if obj, ok := ev.Object.(client.Object); ok {
				rv = obj.GetResourceVersion()
			}
		case watch.Error:
			if st, ok := ev.Object.(*metav1.Status); ok && st.Code == 410 {
				rv = ""
			}
			w.setErr(fmt.Errorf("watch of %s: %v", w.kind, apierrors.FromObject(ev.Object)))
		}
	}
	return rv
}

func (w *watcher) setErr(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.err = err
}

func (w *watcher) observe(obj client.Object, deleted bool, at time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	name := obj.GetName()
	if deleted {
		delete(w.latest, name)
	} else {
		w.latest[name] = obj
		for t := range w.trackers {
			if _, done := t.times[name]; !done && t.pred(obj) {
				t.times[name] = at
			}
		}
	}
	close(w.changed)
	w.changed = make(chan struct{})
}

// track starts recording when objects meet pred. Objects that meet it
// already are recorded with the time of the call.
func (w *watcher) track(pred func(client.Object) bool) *tracker {
	t := &tracker{pred: pred, times: map[string]time.Time{}}
	now := time.Now()
	w.mu.Lock()
	defer w.mu.Unlock()
	for name, obj := range w.latest {
		if pred(obj) {
			t.times[name] = now
		}
	}
	w.trackers[t] = struct{}{}
	return t
}

// untrack stops t and returns what it recorded.
func (w *watcher) untrack(t *tracker) map[string]time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.trackers, t)
	return maps.Clone(t.times)
}

// recorded returns what t recorded so far.
func (w *watcher) recorded(t *tracker) map[string]time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	return maps.Clone(t.times)
}

// errNotYet is what a wait's done func returns while it waits on.
var errNotYet = errors.New("not yet")

// wait blocks until done, given the times t recorded so far, returns nil
// (done) or another error than errNotYet (give up), or timeout passes.
// explain says what was waited for in a timeout's error.
func (w *watcher) wait(ctx context.Context, t *tracker, timeout time.Duration, done func(times map[string]time.Time) error, explain func() string) (map[string]time.Time, error) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		w.mu.Lock()
		times := maps.Clone(t.times)
		changed := w.changed
		watchErr := w.err
		w.mu.Unlock()
		err := done(times)
		if !errors.Is(err, errNotYet) {
			return times, err
		}
		select {
		case <-changed:
		case <-deadline.C:
			msg := fmt.Sprintf("timed out after %s waiting for %s", timeout, explain())
			if watchErr != nil {
				msg += fmt.Sprintf(" (last watch error: %v)", watchErr)
			}
			return times, errors.New(msg)
		case <-ctx.Done():
			return times, ctx.Err()
		}
	}
}

// get returns the latest state of the object name.
func (w *watcher) get(name string) (client.Object, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	obj, ok := w.latest[name]
	return obj, ok
}

// waitFor waits until the object name meets pred and returns when it was
// first seen to; pred is recorded from the call on.
func (w *watcher) waitFor(ctx context.Context, name string, timeout time.Duration, what string, pred func(client.Object) bool, explain func(client.Object) string) (time.Time, error) {
	t := w.track(func(o client.Object) bool { return o.GetName() == name && pred(o) })
	defer w.untrack(t)
	return w.waitTracked(ctx, t, name, timeout, what, explain)
}

// waitTracked waits until t recorded name.
func (w *watcher) waitTracked(ctx context.Context, t *tracker, name string, timeout time.Duration, what string, explain func(client.Object) string) (time.Time, error) {
	times, err := w.wait(ctx, t, timeout, func(times map[string]time.Time) error {
		if _, ok := times[name]; ok {
			return nil
		}
		return errNotYet
	}, func() string {
		obj, ok := w.get(name)
		if !ok {
			return fmt.Sprintf("%s %s %s; it does not exist", w.kind, name, what)
		}
		return fmt.Sprintf("%s %s %s; now: %s", w.kind, name, what, explain(obj))
	})
	return times[name], err
}
