package all

// One blank import per built-in plugin package; its init registers it.
import (
	// The image source: one container of a container image.
	_ "github.com/tinyforge/tinyforge/plugins/source/image"
	// The compose source: a Compose stack, created through the Docker API.
	_ "github.com/tinyforge/tinyforge/plugins/source/compose"
	// The static source: a site from a git folder, built into an image.
	_ "github.com/tinyforge/tinyforge/plugins/source/static"

	// Triggers: registry pushes, git pushes, manual deploys, schedules.
	_ "github.com/tinyforge/tinyforge/plugins/trigger/cron"
	_ "github.com/tinyforge/tinyforge/plugins/trigger/git"
	_ "github.com/tinyforge/tinyforge/plugins/trigger/manual"
	_ "github.com/tinyforge/tinyforge/plugins/trigger/registry"
)
