package controllers

import (
	"sigs.k8s.io/controller-runtime/pkg/cache"
)

// cacheOptions configures the manager's informer cache. It drops
// managedFields from every cached object: no controller reads them, and on
// small, numerous objects such as Events they are a large share of what the
// cache would otherwise keep in memory for each object. Updates sent from a
// cached copy are unaffected: an update without managedFields keeps the
// stored ones.
func cacheOptions() cache.Options {
	return cache.Options{DefaultTransform: cache.TransformStripManagedFields()}
}
