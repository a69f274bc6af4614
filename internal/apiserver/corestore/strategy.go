package corestore

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/apiserver/pkg/storage/names"
)

// strategy is the create, update and delete behaviour of one core resource,
// driven by its row in the resources table.
type strategy struct {
	runtime.ObjectTyper
	names.NameGenerator
	r *resource
}

var (
	_ rest.RESTCreateStrategy = strategy{}
	_ rest.RESTUpdateStrategy = strategy{}
	_ rest.RESTDeleteStrategy = strategy{}
)

func newStrategy(r *resource) strategy {
	return strategy{ObjectTyper: Scheme, NameGenerator: names.SimpleNameGenerator, r: r}
}

func (s strategy) NamespaceScoped() bool { return s.r.namespaced }

func (s strategy) PrepareForCreate(_ context.Context, obj runtime.Object) {
	if s.r.prepareCreate != nil {
		s.r.prepareCreate(obj)
	}
	if s.r.normalize != nil {
		s.r.normalize(obj)
	}
}

func (s strategy) PrepareForUpdate(_ context.Context, obj, old runtime.Object) {
	if s.r.normalize != nil {
		s.r.normalize(obj)
	}
	// A namespace's phase is not the client's to change: it follows from
	// whether the namespace is being deleted (the namespace controller's
	// first update after the delete records it).
	if ns, ok := obj.(*corev1.Namespace); ok {
		ns.Status = old.(*corev1.Namespace).Status
		if ns.DeletionTimestamp != nil {
			ns.Status.Phase = corev1.NamespaceTerminating
		}
	}
}

func (s strategy) Validate(_ context.Context, obj runtime.Object) field.ErrorList {
	return s.r.validate(obj)
}

func (s strategy) ValidateUpdate(_ context.Context, obj, _ runtime.Object) field.ErrorList {
	return s.r.validate(obj)
}

func (strategy) WarningsOnCreate(context.Context, runtime.Object) []string { return nil }

func (strategy) WarningsOnUpdate(context.Context, runtime.Object, runtime.Object) []string {
	return nil
}

func (strategy) Canonicalize(runtime.Object) {}

func (strategy) AllowCreateOnUpdate(context.Context) bool { return false }

func (strategy) AllowUnconditionalUpdate(context.Context) bool { return true }

// attrs returns the labels and the selectable fields of an object.
func (s strategy) attrs(obj runtime.Object) (labels.Set, fields.Set, error) {
	m, err := meta.Accessor(obj)
	if err != nil {
		return nil, nil, err
	}
	fs := fields.Set{"metadata.name": m.GetName()}
	if s.r.namespaced {
		fs["metadata.namespace"] = m.GetNamespace()
	}
	for name, get := range s.r.fields {
		fs[name] = get(obj)
	}
	return labels.Set(m.GetLabels()), fs, nil
}
