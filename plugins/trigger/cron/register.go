package cron

import "github.com/tinyforge/tinyforge/plugins"

// Kind is the spec.kind that selects this plugin.
const Kind = "cron"

// Trigger is the cron trigger plugin. It holds no state: the Trigger
// controller asks Next for the next firing time and creates the cron-tick
// Event itself.
type Trigger struct{}

// Compile-time checks that Trigger is a plugins.Trigger and a
// plugins.Scheduler that publishes its schema.
var (
	_ plugins.Trigger   = (*Trigger)(nil)
	_ plugins.Scheduler = (*Trigger)(nil)
	_ plugins.Schemaer  = (*Trigger)(nil)
)

func init() { plugins.RegisterTrigger(&Trigger{}) }

// Kind returns "cron".
func (*Trigger) Kind() string { return Kind }
