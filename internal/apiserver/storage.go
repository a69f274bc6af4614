package apiserver

import (
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apiserver/pkg/registry/generic"
)

// Resources served straight from etcd, without a watch cache. Both kinds of
// Event only accumulate (webhook deliveries and cron ticks, the controllers'
// records) until their TTL, and a watch cache keeps a decoded copy of every
// one, several times its stored size, for few readers: the Event
// controller's informer, which keeps its own copy, and an occasional
// `kubectl get events`. Lists and watches of them go to etcd instead.
var (
	tinyforgeEvents = schema.GroupResource{Group: "tinyforge.dev", Resource: "events"}
	coreEvents      = schema.GroupResource{Resource: "events"}
)

// uncachedGetter is a RESTOptionsGetter that turns the watch cache off for
// some resources and leaves the others as its delegate configures them.
type uncachedGetter struct {
	delegate generic.RESTOptionsGetter
	uncached sets.Set[schema.GroupResource]
}

var _ generic.RESTOptionsGetter = uncachedGetter{}

// withoutWatchCache wraps getter so that resources have no watch cache.
// The apiextensions getter ignores --watch-cache-sizes for custom
// resources, hence a wrapper rather than that option.
func withoutWatchCache(getter generic.RESTOptionsGetter, resources ...schema.GroupResource) generic.RESTOptionsGetter {
	return uncachedGetter{delegate: getter, uncached: sets.New(resources...)}
}

// GetRESTOptions implements generic.RESTOptionsGetter.
func (g uncachedGetter) GetRESTOptions(resource schema.GroupResource, example runtime.Object) (generic.RESTOptions, error) {
	opts, err := g.delegate.GetRESTOptions(resource, example)
	if err != nil {
		return opts, err
	}
	if g.uncached.Has(resource) {
		opts.Decorator = generic.UndecoratedStorage
	}
	return opts, nil
}
