package corestore

import (
	"fmt"
	"slices"
	"strconv"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/api/validation/path"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// NamespaceFinalizer holds a namespace being deleted until TinyForge's
// namespace controller has deleted its contents.
const NamespaceFinalizer = "tinyforge.dev/namespace-contents"

// maxDataBytes bounds a Secret's or ConfigMap's payload, as Kubernetes does.
const maxDataBytes = 1 << 20

// resource describes one served core resource: how to make, index, check and
// print it. The stores are built from this table.
type resource struct {
	name       string // plural resource name
	singular   string
	gvk        schema.GroupVersionKind
	shortNames []string
	namespaced bool
	newObj     func() runtime.Object
	newList    func() runtime.Object
	// fields are the field selectors the resource supports beyond
	// metadata.name and metadata.namespace.
	fields        map[string]func(runtime.Object) string
	prepareCreate func(runtime.Object)
	// normalize runs before both create and update validation.
	normalize func(runtime.Object)
	validate  func(runtime.Object) field.ErrorList
	columns   []metav1.TableColumnDefinition
	cells     func(runtime.Object) []any
}

func errUnsupportedField(label, kind string) error {
	return fmt.Errorf("field label not supported for %s: %s", kind, label)
}

var resources = []*resource{
	{
		name: "namespaces", singular: "namespace", shortNames: []string{"ns"},
		gvk:     corev1.SchemeGroupVersion.WithKind("Namespace"),
		newObj:  func() runtime.Object { return &corev1.Namespace{} },
		newList: func() runtime.Object { return &corev1.NamespaceList{} },
		fields: map[string]func(runtime.Object) string{
			"status.phase": func(o runtime.Object) string { return string(o.(*corev1.Namespace).Status.Phase) },
		},
		prepareCreate: func(o runtime.Object) {
			ns := o.(*corev1.Namespace)
			ns.Status = corev1.NamespaceStatus{Phase: corev1.NamespaceActive}
			// Deleting a namespace waits until the namespace controller
			// has deleted everything in it.
			if !slices.Contains(ns.Finalizers, NamespaceFinalizer) {
				ns.Finalizers = append(ns.Finalizers, NamespaceFinalizer)
			}
		},

		validate: func(o runtime.Object) field.ErrorList {
			ns := o.(*corev1.Namespace)
			return apivalidation.ValidateObjectMeta(&ns.ObjectMeta, false, apivalidation.ValidateNamespaceName, field.NewPath("metadata"))
		},
		columns: []metav1.TableColumnDefinition{{Name: "Status", Type: "string"}},
		cells:   func(o runtime.Object) []any { return []any{string(o.(*corev1.Namespace).Status.Phase)} },
	},
	{
		name: "secrets", singular: "secret", namespaced: true,
		gvk:     corev1.SchemeGroupVersion.WithKind("Secret"),
		newObj:  func() runtime.Object { return &corev1.Secret{} },
		newList: func() runtime.Object { return &corev1.SecretList{} },
		fields: map[string]func(runtime.Object) string{
			"type": func(o runtime.Object) string { return string(o.(*corev1.Secret).Type) },
		},
		prepareCreate: func(o runtime.Object) {
			s := o.(*corev1.Secret)
			if s.Type == "" {
				s.Type = corev1.SecretTypeOpaque
			}
		},
		normalize: func(o runtime.Object) {
			// stringData is write-only: merge it into data, as Kubernetes does.
			s := o.(*corev1.Secret)
			if len(s.StringData) > 0 {
				if s.Data == nil {
					s.Data = map[string][]byte{}
				}
				for k, v := range s.StringData {
					s.Data[k] = []byte(v)
				}
				s.StringData = nil
			}
		},
		validate: func(o runtime.Object) field.ErrorList {
			s := o.(*corev1.Secret)
			errs := validateMeta(&s.ObjectMeta)
			size := 0
			for k, v := range s.Data {
				errs = append(errs, validateKey(field.NewPath("data").Key(k), k)...)
				size += len(v)
			}
			if size > maxDataBytes {
				errs = append(errs, field.TooLong(field.NewPath("data"), "", maxDataBytes))
			}
			return errs
		},
		columns: []metav1.TableColumnDefinition{{Name: "Type", Type: "string"}, {Name: "Data", Type: "string"}},
		cells: func(o runtime.Object) []any {
			s := o.(*corev1.Secret)
			return []any{string(s.Type), strconv.Itoa(len(s.Data))}
		},
	},
	{
		name: "configmaps", singular: "configmap", shortNames: []string{"cm"}, namespaced: true,
		gvk:     corev1.SchemeGroupVersion.WithKind("ConfigMap"),
		newObj:  func() runtime.Object { return &corev1.ConfigMap{} },
		newList: func() runtime.Object { return &corev1.ConfigMapList{} },
		validate: func(o runtime.Object) field.ErrorList {
			cm := o.(*corev1.ConfigMap)
			errs := validateMeta(&cm.ObjectMeta)
			size := 0
			for k, v := range cm.Data {
				errs = append(errs, validateKey(field.NewPath("data").Key(k), k)...)
				size += len(v)
			}
			for k, v := range cm.BinaryData {
				errs = append(errs, validateKey(field.NewPath("binaryData").Key(k), k)...)
				if _, dup := cm.Data[k]; dup {
					errs = append(errs, field.Duplicate(field.NewPath("binaryData").Key(k), k))
				}
				size += len(v)
			}
			if size > maxDataBytes {
				errs = append(errs, field.TooLong(field.NewPath("data"), "", maxDataBytes))
			}
			return errs
		},
		columns: []metav1.TableColumnDefinition{{Name: "Data", Type: "string"}},
		cells: func(o runtime.Object) []any {
			cm := o.(*corev1.ConfigMap)
			return []any{strconv.Itoa(len(cm.Data) + len(cm.BinaryData))}
		},
	},
	{
		name: "events", singular: "event", shortNames: []string{"ev"}, namespaced: true,
		gvk:     corev1.SchemeGroupVersion.WithKind("Event"),
		newObj:  func() runtime.Object { return &corev1.Event{} },
		newList: func() runtime.Object { return &corev1.EventList{} },
		// The selectors `kubectl describe` and event recorders use.
		fields: map[string]func(runtime.Object) string{
			"involvedObject.kind":            func(o runtime.Object) string { return o.(*corev1.Event).InvolvedObject.Kind },
			"involvedObject.namespace":       func(o runtime.Object) string { return o.(*corev1.Event).InvolvedObject.Namespace },
			"involvedObject.name":            func(o runtime.Object) string { return o.(*corev1.Event).InvolvedObject.Name },
			"involvedObject.uid":             func(o runtime.Object) string { return string(o.(*corev1.Event).InvolvedObject.UID) },
			"involvedObject.apiVersion":      func(o runtime.Object) string { return o.(*corev1.Event).InvolvedObject.APIVersion },
			"involvedObject.resourceVersion": func(o runtime.Object) string { return o.(*corev1.Event).InvolvedObject.ResourceVersion },
			"involvedObject.fieldPath":       func(o runtime.Object) string { return o.(*corev1.Event).InvolvedObject.FieldPath },
			"reason":                         func(o runtime.Object) string { return o.(*corev1.Event).Reason },
			"reportingComponent":             func(o runtime.Object) string { return o.(*corev1.Event).ReportingController },
			"source":                         func(o runtime.Object) string { return o.(*corev1.Event).Source.Component },
			"type":                           func(o runtime.Object) string { return o.(*corev1.Event).Type },
		},
		validate: func(o runtime.Object) field.ErrorList {
			ev := o.(*corev1.Event)
			errs := validateMeta(&ev.ObjectMeta)
			if ev.InvolvedObject.Namespace != "" && ev.InvolvedObject.Namespace != ev.Namespace {
				errs = append(errs, field.Invalid(field.NewPath("involvedObject", "namespace"), ev.InvolvedObject.Namespace, "does not match event's namespace"))
			}
			return errs
		},
		columns: []metav1.TableColumnDefinition{
			{Name: "Type", Type: "string"}, {Name: "Reason", Type: "string"},
			{Name: "Object", Type: "string"}, {Name: "Message", Type: "string"},
		},
		cells: func(o runtime.Object) []any {
			ev := o.(*corev1.Event)
			obj := ev.InvolvedObject.Kind + "/" + ev.InvolvedObject.Name
			return []any{ev.Type, ev.Reason, obj, ev.Message}
		},
	},
	{
		name: "leases", singular: "lease", namespaced: true,
		gvk:     coordinationv1.SchemeGroupVersion.WithKind("Lease"),
		newObj:  func() runtime.Object { return &coordinationv1.Lease{} },
		newList: func() runtime.Object { return &coordinationv1.LeaseList{} },
		validate: func(o runtime.Object) field.ErrorList {
			l := o.(*coordinationv1.Lease)
			errs := validateMeta(&l.ObjectMeta)
			if d := l.Spec.LeaseDurationSeconds; d != nil && *d <= 0 {
				errs = append(errs, field.Invalid(field.NewPath("spec", "leaseDurationSeconds"), *d, "must be greater than 0"))
			}
			return errs
		},
		columns: []metav1.TableColumnDefinition{{Name: "Holder", Type: "string"}},
		cells: func(o runtime.Object) []any {
			l := o.(*coordinationv1.Lease)
			holder := ""
			if l.Spec.HolderIdentity != nil {
				holder = *l.Spec.HolderIdentity
			}
			return []any{holder}
		},
	},
}

func validateMeta(m *metav1.ObjectMeta) field.ErrorList {
	return apivalidation.ValidateObjectMeta(m, true, path.ValidatePathSegmentName, field.NewPath("metadata"))
}

func validateKey(p *field.Path, key string) field.ErrorList {
	var errs field.ErrorList
	for _, msg := range validation.IsConfigMapKey(key) {
		errs = append(errs, field.Invalid(p, key, msg))
	}
	return errs
}
