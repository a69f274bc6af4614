package git

import (
	"reflect"
	"testing"

	"github.com/tinyforge/tinyforge/plugins"
	"github.com/tinyforge/tinyforge/plugins/internal/plugintest"
)

// The schema is one a CRD could carry (strict JSONSchemaProps, structural),
// it describes exactly Config's fields, the sample passes both the schema
// and Validate, and the schema refuses what Validate refuses, where it can
// say it.
func TestSchema(t *testing.T) {
	plugintest.CheckSchema(t, &Trigger{}, reflect.TypeFor[Config](),
		`{}`,
		`{"url":""}`,
		`{"url":"/r","branches":[""]}`,
		`{"url":"/r","tags":"v*"}`,
		`{"url":"https://h/r","secretRef":{"key":"token"}}`,
		`{"url":"https://h/r","secretRef":{"name":"Bad_Name"}}`,
	)
}

// The plugin registers itself under its kind.
func TestRegistered(t *testing.T) {
	got, err := plugins.LookupTrigger(Kind)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := got.(*Trigger); !ok || got.Kind() != "git" {
		t.Errorf("LookupTrigger(%q) = %T with kind %q", Kind, got, got.Kind())
	}
}
