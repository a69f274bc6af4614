package compose

import (
	"reflect"
	"testing"

	"github.com/tinyforge/tinyforge/plugins"
	"github.com/tinyforge/tinyforge/plugins/internal/plugintest"
)

// The schema is one a CRD could carry (strict JSONSchemaProps, structural),
// it describes exactly Config's fields, the sample passes both the schema
// and Validate, and the schema refuses what Validate refuses, where it can
// say it. The plugin is registered under its kind.
func TestSchema(t *testing.T) {
	if got, err := plugins.LookupSource(Kind); err != nil || got.Kind() != Kind {
		t.Errorf("LookupSource(%q) = %v, %v", Kind, got, err)
	}
	plugintest.CheckSchema(t, &Source{}, reflect.TypeFor[Config](),
		`{"project":"Shop","compose":"services: {}"}`,
		`{"git":{}}`,
		`{"compose":"x","profiles":["-a"]}`,
	)
}
