// Package plugins owns the contracts between the TinyForge controllers and the
// source and trigger plugins, and the registries that map a kind to its plugin.
package plugins
