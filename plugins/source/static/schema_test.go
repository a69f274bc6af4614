package static

import (
	"reflect"
	"testing"

	"github.com/tinyforge/tinyforge/plugins/internal/plugintest"
)

// The schema is one a CRD could carry (strict JSONSchemaProps, structural),
// it describes exactly Config's fields, the sample passes both the schema
// and Validate, and the schema refuses what Validate refuses, where it can
// say it.
func TestSchema(t *testing.T) {
	plugintest.CheckSchema(t, &Source{}, reflect.TypeFor[Config](),
		`{}`,
		`{"git":{}}`,
		`{"git":{"url":"https://h/r"},"port":70000}`,
		`{"git":{"url":"https://h/r"},"root":"www"}`,
		`{"git":{"url":"https://h/r"},"build":{"image":"n","command":[]}}`,
		`{"git":{"url":"https://h/r"},"secretRef":{"name":"Bad_Name"}}`,
	)
}
