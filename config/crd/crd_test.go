package crd

import (
	"context"
	"os"
	"slices"
	"strings"
	"testing"

	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/yaml"

	"github.com/tinyforge/tinyforge/api/v1alpha1"
)

func TestCRDs(t *testing.T) {
	crds, err := CRDs()
	if err != nil {
		t.Fatal(err)
	}

	wantScope := map[string]apiextensionsv1.ResourceScope{
		"workloads":       apiextensionsv1.NamespaceScoped,
		"triggers":        apiextensionsv1.NamespaceScoped,
		"triggerbindings": apiextensionsv1.NamespaceScoped,
		"events":          apiextensionsv1.NamespaceScoped,
		"rollouts":        apiextensionsv1.NamespaceScoped,
		"sourcekinds":     apiextensionsv1.ClusterScoped,
		"triggerkinds":    apiextensionsv1.ClusterScoped,
	}
	if len(crds) != len(wantScope) {
		t.Errorf("got %d CRDs, want %d", len(crds), len(wantScope))
	}

	shortNames := map[string]string{}
	for _, crd := range crds {
		t.Run(crd.Name, func(t *testing.T) {
			names := crd.Spec.Names
			if want := names.Plural + "." + v1alpha1.GroupName; crd.Name != want {
				t.Errorf("name %q, want %q", crd.Name, want)
			}
			if crd.Spec.Group != v1alpha1.GroupName {
				t.Errorf("group %q, want %q", crd.Spec.Group, v1alpha1.GroupName)
			}
			scope, known := wantScope[names.Plural]
			if !known {
				t.Fatalf("unexpected CRD %q", crd.Name)
			}
			if crd.Spec.Scope != scope {
				t.Errorf("scope %q, want %q", crd.Spec.Scope, scope)
			}
			if !slices.Contains(names.Categories, "tinyforge") {
				t.Errorf("categories %v lack tinyforge", names.Categories)
			}
			if len(names.ShortNames) == 0 {
				t.Error("no short name")
			}
			for _, s := range names.ShortNames {
				if other, dup := shortNames[s]; dup {
					t.Errorf("short name %q also used by %s", s, other)
				}
				shortNames[s] = crd.Name
			}
			if len(crd.Spec.Versions) != 1 {
				t.Fatalf("%d versions, want 1", len(crd.Spec.Versions))
			}
			v := crd.Spec.Versions[0]
			if v.Name != v1alpha1.GroupVersion.Version || !v.Served || !v.Storage {
				t.Errorf("version %q served=%v storage=%v, want %q served and stored",
					v.Name, v.Served, v.Storage, v1alpha1.GroupVersion.Version)
			}
			if v.Subresources == nil || v.Subresources.Status == nil {
				t.Error("no status subresource")
			}
			if v.Schema == nil || v.Schema.OpenAPIV3Schema == nil {
				t.Fatal("no schema")
			}
			if n := len(v.AdditionalPrinterColumns); n == 0 || v.AdditionalPrinterColumns[n-1].Name != "Age" {
				t.Errorf("printer columns %v do not end with Age", v.AdditionalPrinterColumns)
			}
		})
	}

	// kubectl must not resolve our short names to a core type, nor the other
	// way round: "ev" is core/v1 Events and "events" is taken.
	for _, taken := range []string{"ev", "events", "ns", "cm", "po", "svc", "deploy", "rs", "sa"} {
		if crd, ok := shortNames[taken]; ok {
			t.Errorf("%s uses short name %q, which kubectl already resolves", crd, taken)
		}
	}
}

// TestCRDsPassAPIServerValidation runs the API server's own CRD validation,
// so a schema that is not structural, a default that breaks its own schema
// or a CEL rule over the cost budget fails here rather than at server start.
func TestCRDsPassAPIServerValidation(t *testing.T) {
	crds, err := CRDs()
	if err != nil {
		t.Fatal(err)
	}
	for _, crd := range crds {
		t.Run(crd.Name, func(t *testing.T) {
			for _, e := range validateCRD(t, crd) {
				t.Error(e)
			}
		})
	}

	// The check is only worth something if it compiles the CEL rules.
	broken := crds[0].DeepCopy()
	schema := broken.Spec.Versions[0].Schema.OpenAPIV3Schema.Properties["spec"]
	schema.XValidations = append(schema.XValidations, apiextensionsv1.ValidationRule{Rule: "self.nosuchfield.size("})
	broken.Spec.Versions[0].Schema.OpenAPIV3Schema.Properties["spec"] = schema
	if errs := validateCRD(t, broken); len(errs) == 0 {
		t.Error("a CRD with a broken CEL rule passed validation")
	}
}

func validateCRD(t *testing.T, crd *apiextensionsv1.CustomResourceDefinition) field.ErrorList {
	t.Helper()
	v1 := crd.DeepCopy()
	apiextensionsv1.SetObjectDefaults_CustomResourceDefinition(v1)
	internal := &apiextensions.CustomResourceDefinition{}
	if err := apiextensionsv1.Convert_v1_CustomResourceDefinition_To_apiextensions_CustomResourceDefinition(v1, internal, nil); err != nil {
		t.Fatal(err)
	}
	return validation.ValidateCustomResourceDefinition(context.Background(), internal)
}

func TestEmbeddedFilesAreTheCRDs(t *testing.T) {
	entries, err := FS.ReadDir("bases")
	if err != nil {
		t.Fatal(err)
	}
	crds, err := CRDs()
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		name := strings.TrimSuffix(e.Name(), ".yaml")
		group, plural, ok := strings.Cut(name, "_")
		if !ok || group != v1alpha1.GroupName {
			t.Errorf("file %s is not named <group>_<plural>.yaml", e.Name())
			continue
		}
		if !slices.ContainsFunc(crds, func(c *apiextensionsv1.CustomResourceDefinition) bool {
			return c.Name == plural+"."+group
		}) {
			t.Errorf("file %s holds no CRD %s.%s", e.Name(), plural, group)
		}
	}
}

// TestProjectAndKustomization keeps PROJECT and kustomization.yaml in step
// with the generated CRDs.
func TestProjectAndKustomization(t *testing.T) {
	crds, err := CRDs()
	if err != nil {
		t.Fatal(err)
	}

	var project struct {
		Resources []projectResource `json:"resources"`
	}
	readYAMLFile(t, "../../PROJECT", &project)
	var kustomization struct {
		Resources []string `json:"resources"`
	}
	readYAMLFile(t, "kustomization.yaml", &kustomization)

	if len(project.Resources) != len(crds) {
		t.Errorf("PROJECT lists %d resources, there are %d CRDs", len(project.Resources), len(crds))
	}
	for _, crd := range crds {
		i := slices.IndexFunc(project.Resources, func(r projectResource) bool {
			return r.Kind == crd.Spec.Names.Kind
		})
		if i < 0 {
			t.Errorf("PROJECT does not list %s", crd.Spec.Names.Kind)
			continue
		}
		r := project.Resources[i]
		if got := r.Group + "." + r.Domain; got != crd.Spec.Group || r.Version != crd.Spec.Versions[0].Name {
			t.Errorf("PROJECT has %s in %s/%s, CRD in %s/%s", r.Kind, got, r.Version, crd.Spec.Group, crd.Spec.Versions[0].Name)
		}
		if r.API.CRDVersion != "v1" {
			t.Errorf("PROJECT has %s crdVersion %q, want v1", r.Kind, r.API.CRDVersion)
		}
		if r.API.Namespaced != (crd.Spec.Scope == apiextensionsv1.NamespaceScoped) {
			t.Errorf("PROJECT has %s namespaced=%v, CRD scope is %s", r.Kind, r.API.Namespaced, crd.Spec.Scope)
		}
		if want := "bases/" + crd.Spec.Group + "_" + crd.Spec.Names.Plural + ".yaml"; !slices.Contains(kustomization.Resources, want) {
			t.Errorf("kustomization.yaml does not list %s", want)
		}
	}
	if len(kustomization.Resources) != len(crds) {
		t.Errorf("kustomization.yaml lists %d resources, there are %d CRDs", len(kustomization.Resources), len(crds))
	}
}

// projectResource is one resources entry of a kubebuilder PROJECT file.
type projectResource struct {
	API struct {
		CRDVersion string `json:"crdVersion"`
		Namespaced bool   `json:"namespaced"`
	} `json:"api"`
	Group   string `json:"group"`
	Domain  string `json:"domain"`
	Kind    string `json:"kind"`
	Version string `json:"version"`
}

func readYAMLFile(t *testing.T, path string, into any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(data, into); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}
