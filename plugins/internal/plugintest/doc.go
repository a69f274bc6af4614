// Package plugintest holds test support shared by the source and trigger
// plugins' tests; only _test.go files import it.
package plugintest
