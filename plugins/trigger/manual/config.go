package manual

import (
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/tinyforge/tinyforge/plugins"
)

// Config is spec.config of a Trigger of kind manual. It has no fields: the
// TriggerBindings already say which workloads a person may deploy through
// the trigger, and the event says which one and what.
type Config struct{}

// Validate checks spec.config, which must be empty ({} or absent). It
// reaches nothing.
func (*Trigger) Validate(path *field.Path, config []byte) field.ErrorList {
	var c Config
	return plugins.DecodeStrict(path, config, &c)
}
