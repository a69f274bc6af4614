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

// etcdGetter is a RESTOptionsGetter whose storage is on one shared etcd
// client, with a watch cache for every resource but the uncached ones.
// Its delegate still supplies everything else: codec, prefix, transformer.
type etcdGetter struct {
	delegate   generic.RESTOptionsGetter
	etcd       *etcdClient
	watchCache bool
	uncached   sets.Set[schema.GroupResource]
}

var _ generic.RESTOptionsGetter = etcdGetter{}

// onSharedEtcd wraps getter so that its resources' storage uses client,
// with no watch cache for uncached (nor any when watchCache is false).
// The apiextensions getter ignores --watch-cache-sizes for custom
// resources, hence this list rather than that option.
func onSharedEtcd(getter generic.RESTOptionsGetter, client *etcdClient, watchCache bool, uncached ...schema.GroupResource) generic.RESTOptionsGetter {
	return etcdGetter{delegate: getter, etcd: client, watchCache: watchCache, uncached: sets.New(uncached...)}
}

// GetRESTOptions implements generic.RESTOptionsGetter.
func (g etcdGetter) GetRESTOptions(resource schema.GroupResource, example runtime.Object) (generic.RESTOptions, error) {
	opts, err := g.delegate.GetRESTOptions(resource, example)
	if err != nil {
		return opts, err
	}
	opts.Decorator = g.etcd.decorator(g.watchCache && !g.uncached.Has(resource))
	return opts, nil
}
