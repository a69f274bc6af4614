package manual

import "github.com/tinyforge/tinyforge/plugins"

// Kind is the spec.kind that selects this plugin.
const Kind = "manual"

// Trigger is the manual trigger plugin. It holds no state.
type Trigger struct{}

// Compile-time checks that Trigger is a plugins.Trigger that publishes its
// schema.
var (
	_ plugins.Trigger  = (*Trigger)(nil)
	_ plugins.Schemaer = (*Trigger)(nil)
)

func init() { plugins.RegisterTrigger(&Trigger{}) }

// Kind returns "manual".
func (*Trigger) Kind() string { return Kind }
