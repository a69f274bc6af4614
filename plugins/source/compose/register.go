package compose

import "github.com/tinyforge/tinyforge/plugins"

// Kind is the spec.source.kind that selects this plugin.
const Kind = "compose"

// Source is the compose source plugin. It holds no state: Docker labels are
// its record of what runs.
type Source struct{}

// Compile-time checks that Source is a plugins.Source that publishes its
// schema.
var (
	_ plugins.Source   = (*Source)(nil)
	_ plugins.Schemaer = (*Source)(nil)
)

func init() { plugins.RegisterSource(&Source{}) }

// Kind returns "compose".
func (*Source) Kind() string { return Kind }
