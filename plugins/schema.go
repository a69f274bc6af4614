package plugins

// Schemaer is implemented by plugins that describe their config, so users
// can discover each kind with `forgectl get sourcekinds` and `forgectl get
// triggerkinds`. The server publishes it, at start, in the SourceKind or
// TriggerKind object named after the plugin's kind.
type Schemaer interface {
	// Description is one or two sentences for people: what the kind does.
	Description() string
	// Schema is the JSON Schema of the plugin's config, as JSON. Keep to the
	// OpenAPI v3 subset that CRD schemas use, so the same document can
	// feed `kubectl explain`-style tooling.
	Schema() []byte
	// Sample is a config that passes the plugin's Validate, as JSON.
	Sample() []byte
}
