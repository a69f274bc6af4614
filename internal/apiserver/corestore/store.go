package corestore

import (
	"fmt"

	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/registry/generic"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"
	"k8s.io/apiserver/pkg/registry/rest"
	genericapiserver "k8s.io/apiserver/pkg/server"
)

// REST is the etcd-backed storage of one core resource. It tells discovery
// its short names and categories.
type REST struct {
	*genericregistry.Store
	shortNames []string
}

var (
	_ rest.ShortNamesProvider = (*REST)(nil)
	_ rest.CategoriesProvider = (*REST)(nil)
)

// ShortNames implements rest.ShortNamesProvider.
func (r *REST) ShortNames() []string { return r.shortNames }

// Categories implements rest.CategoriesProvider: none of the core types is
// part of `kubectl get all` or `tinyforge`.
func (r *REST) Categories() []string { return nil }

func newREST(r *resource, getter generic.RESTOptionsGetter) (*REST, error) {
	s := newStrategy(r)
	gr := schema.GroupResource{Group: r.gvk.Group, Resource: r.name}
	store := &genericregistry.Store{
		NewFunc:                   r.newObj,
		NewListFunc:               r.newList,
		DefaultQualifiedResource:  gr,
		SingularQualifiedResource: schema.GroupResource{Group: r.gvk.Group, Resource: r.singular},
		CreateStrategy:            s,
		UpdateStrategy:            s,
		DeleteStrategy:            s,
		TableConvertor:            newTable(r),
	}

	opts := &generic.StoreOptions{RESTOptions: getter, AttrFunc: s.attrs}
	if err := store.CompleteWithOptions(opts); err != nil {
		return nil, fmt.Errorf("building storage for %s: %w", gr, err)
	}
	return &REST{Store: store, shortNames: r.shortNames}, nil
}

// APIGroups builds the legacy core group (/api/v1) and the
// coordination.k8s.io group, backed by the given storage.
func APIGroups(getter generic.RESTOptionsGetter) (legacy, coordination *genericapiserver.APIGroupInfo, err error) {
	core := map[string]rest.Storage{}
	coord := map[string]rest.Storage{}
	for _, r := range resources {
		st, err := newREST(r, getter)
		if err != nil {
			return nil, nil, err
		}
		if r.gvk.Group == coordinationv1.GroupName {
			coord[r.name] = st
		} else {
			core[r.name] = st
		}
	}
	l := genericapiserver.NewDefaultAPIGroupInfo("", Scheme, metav1.ParameterCodec, Codecs)
	l.VersionedResourcesStorageMap["v1"] = core
	c := genericapiserver.NewDefaultAPIGroupInfo(coordinationv1.GroupName, Scheme, metav1.ParameterCodec, Codecs)
	c.VersionedResourcesStorageMap["v1"] = coord
	return &l, &c, nil
}
