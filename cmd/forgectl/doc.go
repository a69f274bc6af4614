// Command forgectl is kubectl pre-wired to TinyForge, plus TinyForge's own verbs.
package main
