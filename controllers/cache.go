package controllers

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	tinyforgev1alpha1 "github.com/tinyforge/tinyforge/api/v1alpha1"
)

// stripManagedFields is the cache's default transform, built once: the
// cache calls it for every object it stores.
var stripManagedFields = cache.TransformStripManagedFields()

// cacheOptions configures the manager's informer cache. It drops
// managedFields from every cached object: no controller reads them, and on
// small, numerous objects such as Events they are a large share of what the
// cache would otherwise keep in memory for each object. Updates sent from a
// cached copy are unaffected: an update without managedFields keeps the
// stored ones.
//
// Events whose dispatch is over are cut further, by stripFinishedEvent.
func cacheOptions() cache.Options {
	return cache.Options{
		DefaultTransform: stripManagedFields,
		ByObject: map[client.Object]cache.ByObject{
			&tinyforgev1alpha1.Event{}: {Transform: stripFinishedEvent},
		},
	}
}

// stripFinishedEvent keeps, of an Event in a final phase, only what the
// Event controller still reads: its identity and creation time, to delete
// it once its TTL has passed, and its phase. Events accumulate for their
// TTL (a day by default) at the rate deliveries arrive, and once dispatched
// nothing reads their spec, outcomes or conditions from the cache; the API
// still serves them whole. An Event still being dispatched is kept whole.
func stripFinishedEvent(obj any) (any, error) {
	ev, ok := obj.(*tinyforgev1alpha1.Event)
	if !ok || !ev.Status.Phase.IsFinal() {
		return stripManagedFields(obj)
	}
	return &tinyforgev1alpha1.Event{
		TypeMeta: ev.TypeMeta,
		ObjectMeta: metav1.ObjectMeta{
			Name:              ev.Name,
			Namespace:         ev.Namespace,
			UID:               ev.UID,
			ResourceVersion:   ev.ResourceVersion,
			Generation:        ev.Generation,
			CreationTimestamp: ev.CreationTimestamp,
			DeletionTimestamp: ev.DeletionTimestamp,
			Labels:            ev.Labels,
		},
		Status: tinyforgev1alpha1.EventStatus{Phase: ev.Status.Phase, ObservedGeneration: ev.Status.ObservedGeneration},
	}, nil
}
