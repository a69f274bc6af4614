package apiserver

import (
	"testing"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/kube-openapi/pkg/util"
	"k8s.io/kube-openapi/pkg/validation/spec"
)

func TestOpenAPIDefinitionsKeepServedTypes(t *testing.T) {
	defs := newOpenAPIDefinitions()(func(path string) spec.Ref { return spec.MustCreateRef("#/definitions/" + path) })
	for _, obj := range []any{
		&corev1.Namespace{}, &corev1.SecretList{}, &corev1.ConfigMap{}, &corev1.Event{}, &corev1.ObjectReference{},
		&coordinationv1.Lease{}, &metav1.Status{}, &metav1.WatchEvent{}, &metav1.DeleteOptions{},
	} {
		if name := util.GetCanonicalTypeName(obj); defs[name].Schema.Type == nil && len(defs[name].Schema.Properties) == 0 {
			t.Errorf("%s was dropped", name)
		}
	}
	for _, obj := range []any{&corev1.Pod{}, &corev1.PodSpec{}, &corev1.Service{}} {
		if name := util.GetCanonicalTypeName(obj); len(defs[name].Schema.Properties) > 0 {
			t.Errorf("%s is kept, but not served", name)
		}
	}
	for name, def := range defs {
		for _, dep := range def.Dependencies {
			if _, ok := defs[dep]; !ok {
				t.Errorf("%s depends on %s, which was dropped", name, dep)
			}
		}
	}
	t.Logf("%d definitions kept", len(defs))
}
