package corestore

import (
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
)

// Scheme knows the served core types. Each is registered under its external
// version and, as the same Go type, under the internal version: the stores
// need an internal version, and with identical types no conversion is needed.
var Scheme = runtime.NewScheme()

// Codecs serializes the served core types.
var Codecs = serializer.NewCodecFactory(Scheme)

func init() {
	utilruntime.Must(corev1.AddToScheme(Scheme))
	utilruntime.Must(coordinationv1.AddToScheme(Scheme))
	Scheme.AddKnownTypes(schema.GroupVersion{Version: runtime.APIVersionInternal},
		&corev1.Namespace{}, &corev1.NamespaceList{},
		&corev1.Secret{}, &corev1.SecretList{},
		&corev1.ConfigMap{}, &corev1.ConfigMapList{},
		&corev1.Event{}, &corev1.EventList{},
	)
	Scheme.AddKnownTypes(schema.GroupVersion{Group: coordinationv1.GroupName, Version: runtime.APIVersionInternal},
		&coordinationv1.Lease{}, &coordinationv1.LeaseList{},
	)
	// Options and status types for the empty group, as every API server has.
	metav1.AddToGroupVersion(Scheme, schema.GroupVersion{Version: "v1"})
	Scheme.AddUnversionedTypes(schema.GroupVersion{Version: "v1"},
		&metav1.Status{}, &metav1.APIVersions{}, &metav1.APIGroupList{}, &metav1.APIGroup{}, &metav1.APIResourceList{},
	)
	for _, r := range resources {
		if len(r.fields) == 0 {
			continue
		}
		r := r
		utilruntime.Must(Scheme.AddFieldLabelConversionFunc(r.gvk, func(label, value string) (string, string, error) {
			if label == "metadata.name" || label == "metadata.namespace" {
				return label, value, nil
			}
			if _, ok := r.fields[label]; ok {
				return label, value, nil
			}
			return "", "", errUnsupportedField(label, r.gvk.Kind)
		}))
	}
}

// Versions are the external versions the core types are stored in.
var Versions = []schema.GroupVersion{corev1.SchemeGroupVersion, coordinationv1.SchemeGroupVersion}
