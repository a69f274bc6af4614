package apiserver

import (
	"maps"
	"reflect"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	crdopenapi "k8s.io/apiextensions-apiserver/pkg/generated/openapi"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/kube-openapi/pkg/common"
	"k8s.io/kube-openapi/pkg/util"

	"github.com/tinyforge/tinyforge/internal/apiserver/corestore"
	coreopenapi "github.com/tinyforge/tinyforge/internal/apiserver/openapi"
)

// newOpenAPIDefinitions returns the definitions of the apiextensions types
// and of the served core types. openapi-gen generates all of core/v1,
// several hundred definitions of which TinyForge serves a dozen; the server
// keeps the map for its lifetime (OpenAPIV3Config.Definitions, the v2 spec
// builder), so the rest go. Which names are served is worked out on the
// first call and reused: it does not depend on the reference callback, so
// the v2 and v3 configs share one computation.
func newOpenAPIDefinitions() common.GetOpenAPIDefinitions {
	var (
		once   sync.Once
		served sets.Set[string]
	)
	return func(ref common.ReferenceCallback) map[string]common.OpenAPIDefinition {
		defs := crdopenapi.GetOpenAPIDefinitions(ref)
		maps.Copy(defs, coreopenapi.GetOpenAPIDefinitions(ref))
		once.Do(func() { served = servedOpenAPIDefinitions(defs) })
		maps.DeleteFunc(defs, func(name string, _ common.OpenAPIDefinition) bool { return !served.Has(name) })
		return defs
	}
}

// servedOpenAPIDefinitions is every definition outside core/v1 and those
// the served core/v1 kinds depend on, directly or not. The names do not
// depend on the reference callback. It walks the dependencies depth first
// from the roots, with stack holding the names still to visit.
func servedOpenAPIDefinitions(defs map[string]common.OpenAPIDefinition) sets.Set[string] {
	coreV1 := strings.TrimSuffix(util.GetCanonicalTypeName(&corev1.Pod{}), "Pod")
	var stack []string
	for name := range defs {
		if !strings.HasPrefix(name, coreV1) {
			stack = append(stack, name)
		}
	}
	// The served core kinds are those with an internal version.
	for _, t := range corestore.Scheme.KnownTypes(schema.GroupVersion{Version: runtime.APIVersionInternal}) {
		stack = append(stack, util.GetCanonicalTypeName(reflect.New(t).Interface()))
	}
	served := sets.New[string]()
	for len(stack) > 0 {
		name := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if served.Has(name) {
			continue
		}
		served.Insert(name)
		stack = append(stack, defs[name].Dependencies...)
	}
	return served
}
