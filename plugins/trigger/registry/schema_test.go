package registry

import (
	"reflect"
	"testing"

	"github.com/tinyforge/tinyforge/plugins"
	"github.com/tinyforge/tinyforge/plugins/internal/plugintest"
)

// The schema is one a CRD could carry (strict JSONSchemaProps, structural),
// it describes exactly Config's fields, and the sample passes both the
// schema and Validate; what the schema can say, it refuses as Validate does.
func TestSchema(t *testing.T) {
	plugintest.CheckSchema(t, &Trigger{}, reflect.TypeFor[Config](),
		`{}`, // no repository
		`{"repository":"r.example/web","tagPolicy":{}}`,                                                  // empty tag policy
		`{"repository":"r.example/web","tagPolicy":{"exact":"a","glob":"b"}}`,                            // two policies
		`{"repository":"r.example/web","tagPolicy":{"exact":"a/b"}}`,                                     // exact is no tag
		`{"repository":"r.example/web","tagPolicy":{"regex":"(?P<n>x)","capture":"n","order":"newest"}}`, // unknown order
		`{"repository":"r.example/web","digest":"latest"}`,                                               // digest
		`{"repository":"r.example/web","secretRef":{"key":"x"}}`,                                         // secret without a name
		`{"repository":"r.example/web","pollInterval":"often"}`,                                          // poll interval
	)
}

// The plugin is registered under its kind, as a poller.
func TestRegistered(t *testing.T) {
	got, err := plugins.LookupTrigger(Kind)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := got.(plugins.Poller); !ok {
		t.Errorf("the registered %T is not a Poller", got)
	}
}
