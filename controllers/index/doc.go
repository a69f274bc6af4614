// Package index owns the cache field indexes the TinyForge controllers and
// the webhook ingress look objects up by.
package index
