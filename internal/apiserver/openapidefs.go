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

var (
	servedOpenAPIOnce sync.Once
	servedOpenAPI     sets.Set[string]
)

// openAPIDefinitions are the apiextensions types' and the served core types'.
// openapi-gen generates all of core/v1, several hundred definitions of which
// TinyForge serves a dozen; the server keeps the map for its lifetime
// (OpenAPIV3Config.Definitions, the v2 spec builder), so the rest go.
func openAPIDefinitions(ref common.ReferenceCallback) map[string]common.OpenAPIDefinition {
	defs := crdopenapi.GetOpenAPIDefinitions(ref)
	maps.Copy(defs, coreopenapi.GetOpenAPIDefinitions(ref))
	servedOpenAPIOnce.Do(func() { servedOpenAPI = servedOpenAPIDefinitions(defs) })
	maps.DeleteFunc(defs, func(name string, _ common.OpenAPIDefinition) bool { return !servedOpenAPI.Has(name) })
	return defs
}

// servedOpenAPIDefinitions is every definition outside core/v1 and those
// the served core/v1 kinds depend on, directly or not. The names do not
// depend on the reference callback, so one computation serves v2 and v3.
func servedOpenAPIDefinitions(defs map[string]common.OpenAPIDefinition) sets.Set[string] {
	coreV1 := strings.TrimSuffix(util.GetCanonicalTypeName(&corev1.Pod{}), "Pod")
	var todo []string
	for name := range defs {
		if !strings.HasPrefix(name, coreV1) {
			todo = append(todo, name)
		}
	}
	// The served core kinds are those with an internal version.
	for _, t := range corestore.Scheme.KnownTypes(schema.GroupVersion{Version: runtime.APIVersionInternal}) {
		todo = append(todo, util.GetCanonicalTypeName(reflect.New(t).Interface()))
	}
	served := sets.New[string]()
	for len(todo) > 0 {
		name := todo[len(todo)-1]
		todo = todo[:len(todo)-1]
		if served.Has(name) {
			continue
		}
		served.Insert(name)
		todo = append(todo, defs[name].Dependencies...)
	}
	return served
}
