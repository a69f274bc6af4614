package image

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
		`{"image":"web","pullPolicy":"Sometimes"}`,
		`{"image":"web","ports":[{"containerPort":0}]}`,
		`{"image":"web","resources":{"memory":"lots"}}`,
		`{"image":"web","stopTimeout":"soon"}`,
		`{"image":"web","volumes":[{"name":"x","mountPath":"rel"}]}`,
	)
}
