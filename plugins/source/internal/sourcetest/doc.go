// Package sourcetest holds test support shared by the source plugins'
// tests; only _test.go files import it.
package sourcetest
