package plugintest

import (
	"bytes"
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"

	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/tinyforge/tinyforge/plugins"
)

// Described is a plugin, a Source or a Trigger, that describes its config.
type Described interface {
	plugins.Kinded
	plugins.Schemaer
	Validate(path *field.Path, config []byte) field.ErrorList
}

// CheckSchema checks that p's schema is one a CRD could carry (strict
// JSONSchemaProps, structural), that it describes exactly the JSON fields of
// config (the plugin's config struct type), that the sample passes both the
// schema and Validate, and that both refuse every config in bad.
func CheckSchema(t *testing.T, p Described, config reflect.Type, bad ...string) {
	t.Helper()
	path := configPath(p)
	if p.Description() == "" {
		t.Error("Description() is empty")
	}
	var v1 apiextensionsv1.JSONSchemaProps
	dec := json.NewDecoder(bytes.NewReader(p.Schema()))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v1); err != nil {
		t.Fatalf("Schema() is not a JSONSchemaProps: %v", err)
	}
	var internal apiextensions.JSONSchemaProps
	if err := apiextensionsv1.Convert_v1_JSONSchemaProps_To_apiextensions_JSONSchemaProps(&v1, &internal, nil); err != nil {
		t.Fatal(err)
	}
	s, err := structuralschema.NewStructural(&internal)
	if err != nil {
		t.Fatalf("Schema() is not structural: %v", err)
	}
	if errs := structuralschema.ValidateStructural(field.NewPath("schema"), s); len(errs) > 0 {
		t.Fatalf("Schema() is not structural: %v", errs)
	}
	checkProperties(t, "config", v1, config)

	validator, _, err := validation.NewSchemaValidator(&internal)
	if err != nil {
		t.Fatal(err)
	}
	var sample any
	if err := json.Unmarshal(p.Sample(), &sample); err != nil {
		t.Fatalf("Sample() is not JSON: %v", err)
	}
	if errs := validation.ValidateCustomResource(path, sample, validator); len(errs) > 0 {
		t.Errorf("Sample() does not pass Schema(): %v", errs)
	}
	if errs := p.Validate(path, p.Sample()); len(errs) > 0 {
		t.Errorf("Sample() does not pass Validate: %v", errs)
	}

	for _, b := range bad {
		var obj any
		if err := json.Unmarshal([]byte(b), &obj); err != nil {
			t.Fatal(err)
		}
		if errs := validation.ValidateCustomResource(path, obj, validator); len(errs) == 0 {
			t.Errorf("schema accepts %s", b)
		}
		if errs := p.Validate(path, []byte(b)); len(errs) == 0 {
			t.Errorf("Validate accepts %s", b)
		}
	}
}

// configPath is where p's config sits in its API object, so that errors
// read as admission would report them.
func configPath(p Described) *field.Path {
	if _, ok := p.(plugins.Source); ok {
		return field.NewPath("spec", "source", "config")
	}
	return field.NewPath("spec", "config")
}

// checkProperties compares the schema's properties with the JSON fields of
// struct type typ, recursively.
func checkProperties(t *testing.T, path string, s apiextensionsv1.JSONSchemaProps, typ reflect.Type) {
	t.Helper()
	for typ.Kind() == reflect.Pointer || typ.Kind() == reflect.Slice {
		typ = typ.Elem()
	}
	if typ.Kind() != reflect.Struct {
		return
	}
	if s.Type == "array" && s.Items != nil && s.Items.Schema != nil {
		s = *s.Items.Schema
	}
	var fields []string
	for f := range typ.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" || name == "-" {
			continue
		}
		fields = append(fields, name)
		prop, ok := s.Properties[name]
		if !ok {
			t.Errorf("schema of %s has no property %s", path, name)
			continue
		}
		if prop.Description == "" {
			t.Errorf("property %s.%s has no description", path, name)
		}
		checkProperties(t, path+"."+name, prop, f.Type)
	}
	for name := range s.Properties {
		if !slices.Contains(fields, name) {
			t.Errorf("schema of %s has property %s, which the config does not have", path, name)
		}
	}
}
