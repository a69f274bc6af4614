// Package all links every built-in plugin into a binary: a blank import of
// it registers the source and trigger kinds TinyForge ships with.
//
//	import _ "github.com/tinyforge/tinyforge/plugins/all"
package all
