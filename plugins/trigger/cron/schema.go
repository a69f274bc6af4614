package cron

// Description says what the kind does, for `forgectl get triggerkinds`.
func (*Trigger) Description() string {
	return "Redeploys each bound workload's current spec on a cron schedule in a time zone, " +
		"so a moving image tag or branch is fetched again."
}

// Schema is the JSON schema of Config, in the OpenAPI v3 subset of CRD
// schemas. The schedule syntax and the zone names are checked by Validate.
func (*Trigger) Schema() []byte { return []byte(schemaJSON) }

// Sample is a config that passes Validate.
func (*Trigger) Sample() []byte { return []byte(sampleJSON) }

const schemaJSON = `{
  "type": "object",
  "description": "Config of the cron trigger: when to redeploy.",
  "required": ["schedule"],
  "properties": {
    "schedule": {
      "type": "string",
      "minLength": 1,
      "maxLength": 256,
      "description": "Cron schedule: 5 fields (minute hour day-of-month month day-of-week, such as \"*/15 * * * *\"), 6 with seconds first, or @yearly, @monthly, @weekly, @daily, @hourly or @every DURATION (whole seconds, at least 1s). No CRON_TZ= prefix: use timeZone."
    },
    "timeZone": {
      "type": "string",
      "default": "UTC",
      "maxLength": 64,
      "description": "IANA time zone the schedule is read in, such as Europe/Paris; UTC by default. With summer time, a skipped time does not fire that day and a repeated one fires twice."
    }
  }
}`

const sampleJSON = `{
  "schedule": "0 4 * * 1-5",
  "timeZone": "Europe/Paris"
}`
