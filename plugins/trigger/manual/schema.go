package manual

// Description says what the kind does, for `forgectl get triggerkinds`.
func (*Trigger) Description() string {
	return "Deploys when a person asks (forgectl deploy): the revision they name, or the workload's current spec again. " +
		"It has no config; bind it to the workloads people may deploy this way."
}

// Schema is the JSON schema of Config: an object without properties.
func (*Trigger) Schema() []byte { return []byte(schemaJSON) }

// Sample is a config that passes Validate.
func (*Trigger) Sample() []byte { return []byte(`{}`) }

const schemaJSON = `{
  "type": "object",
  "description": "Config of the manual trigger: none. The bindings say which workloads it deploys; each manual event names the workload (or all bound ones) and the revision (or the current spec).",
  "maxProperties": 0
}`
