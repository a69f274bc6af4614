package apiserver

import (
	"sort"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiextensionsapiserver "k8s.io/apiextensions-apiserver/pkg/apiserver"
	listers "k8s.io/apiextensions-apiserver/pkg/client/listers/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/version"
	genericapiserver "k8s.io/apiserver/pkg/server"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"
)

// groupDiscovery keeps the legacy /apis group list in sync with the CRDs.
// Aggregated discovery learns about CRDs from apiextensions itself, but the
// legacy list is normally kube-aggregator's job, which TinyForge does not run.
type groupDiscovery struct {
	informer cache.SharedIndexInformer
	lister   listers.CustomResourceDefinitionLister
}

func newGroupDiscovery(crd *apiextensionsapiserver.CustomResourceDefinitions) *groupDiscovery {
	inf := crd.Informers.Apiextensions().V1().CustomResourceDefinitions()
	return &groupDiscovery{informer: inf.Informer(), lister: inf.Lister()}
}

func (d *groupDiscovery) register(s *genericapiserver.GenericAPIServer) error {
	sync := func(obj any) {
		if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
			obj = tomb.Obj
		}
		if crd, ok := obj.(*apiextensionsv1.CustomResourceDefinition); ok {
			d.syncGroup(s, crd.Spec.Group)
		}
	}
	_, err := d.informer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    sync,
		UpdateFunc: func(_, obj any) { sync(obj) },
		DeleteFunc: sync,
	})
	return err
}

// syncGroup publishes the served versions of group's CRDs, or removes the
// group when no CRD serves it.
func (d *groupDiscovery) syncGroup(s *genericapiserver.GenericAPIServer, group string) {
	crds, err := d.lister.List(labels.Everything())
	if err != nil {
		klog.ErrorS(err, "Listing CRDs for discovery", "group", group)
		return
	}
	served := map[string]bool{}
	for _, crd := range crds {
		if crd.Spec.Group != group || crd.DeletionTimestamp != nil {
			continue
		}
		for _, v := range crd.Spec.Versions {
			if v.Served {
				served[v.Name] = true
			}
		}
	}
	if len(served) == 0 {
		s.DiscoveryGroupManager.RemoveGroup(group)
		return
	}
	versions := make([]string, 0, len(served))
	for v := range served {
		versions = append(versions, v)
	}
	// Highest priority first, as kube orders them (v1 > v1beta1 > v1alpha1).
	sort.Slice(versions, func(i, j int) bool {
		return version.CompareKubeAwareVersionStrings(versions[i], versions[j]) > 0
	})
	g := metav1.APIGroup{Name: group}
	for _, v := range versions {
		g.Versions = append(g.Versions, metav1.GroupVersionForDiscovery{GroupVersion: group + "/" + v, Version: v})
	}
	g.PreferredVersion = g.Versions[0]
	s.DiscoveryGroupManager.AddGroup(g)
}
