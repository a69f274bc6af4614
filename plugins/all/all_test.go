package all_test

import (
	"slices"
	"testing"

	_ "github.com/tinyforge/tinyforge/plugins/all"

	"github.com/tinyforge/tinyforge/plugins"
)

func TestBuiltinsRegistered(t *testing.T) {
	for _, kind := range []string{"image", "compose", "static"} {
		if !slices.Contains(plugins.SourceKinds(), kind) {
			t.Errorf("source kind %q is not registered; registered: %v", kind, plugins.SourceKinds())
		}
	}
	for _, kind := range []string{"registry", "git", "manual", "cron"} {
		if !slices.Contains(plugins.TriggerKinds(), kind) {
			t.Errorf("trigger kind %q is not registered; registered: %v", kind, plugins.TriggerKinds())
		}
	}
}
