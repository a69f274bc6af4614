package all

// One blank import per built-in plugin package; its init registers it.
import (
	// The image source: one container of a container image.
	_ "github.com/tinyforge/tinyforge/plugins/source/image"
)
