package registry

import "github.com/tinyforge/tinyforge/plugins"

// Kind is the spec.kind that selects this plugin.
const Kind = "registry"

// Trigger is the registry trigger plugin. It holds no state: the registry
// is asked afresh on every call.
type Trigger struct{}

// Compile-time checks that Trigger is a plugins.Trigger that polls and
// publishes its schema.
var (
	_ plugins.Trigger  = (*Trigger)(nil)
	_ plugins.Poller   = (*Trigger)(nil)
	_ plugins.Schemaer = (*Trigger)(nil)
)

func init() { plugins.RegisterTrigger(&Trigger{}) }

// Kind returns "registry".
func (*Trigger) Kind() string { return Kind }
