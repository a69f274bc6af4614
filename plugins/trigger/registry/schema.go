package registry

// Description says what the kind does, for `forgectl get triggerkinds`.
func (*Trigger) Description() string {
	return "Deploys an image when a tag its policy selects (exact, glob, regex or semver range) is pushed to a container registry, " +
		"with the digest resolved from the registry; also on manual requests, cron ticks and, with pollInterval, by polling the registry."
}

// Schema is the JSON schema of Config, in the OpenAPI v3 subset of CRD
// schemas. Rules that subset cannot say (capture and order only with
// regex, a valid regex or range, a group that exists) are in the
// descriptions and in Validate.
func (*Trigger) Schema() []byte { return []byte(schemaJSON) }

// Sample is a config that passes Validate.
func (*Trigger) Sample() []byte { return []byte(sampleJSON) }

const schemaJSON = `{
  "type": "object",
  "description": "Config of the registry trigger: which pushed image tags deploy, and how the registry is reached.",
  "required": ["repository"],
  "properties": {
    "repository": {
      "type": "string",
      "minLength": 1,
      "maxLength": 255,
      "description": "Image repository with its registry host, without a tag or digest, such as registry.example:5000/team/web. A name without a host is on Docker Hub (nginx is docker.io/library/nginx); pushes are compared after that normalization."
    },
    "tagPolicy": {
      "type": "object",
      "description": "Which tags deploy: exactly one of exact, glob, regex and semver. Absent means exact \"latest\". For semver and for regex with capture or order, only the newest matching tag deploys; a push of an older one is skipped.",
      "oneOf": [
        {"required": ["exact"]},
        {"required": ["glob"]},
        {"required": ["regex"]},
        {"required": ["semver"]}
      ],
      "properties": {
        "exact": {
          "type": "string",
          "maxLength": 128,
          "pattern": "^[A-Za-z0-9_][A-Za-z0-9_.-]*$",
          "description": "The one tag that deploys, such as latest or stable."
        },
        "glob": {
          "type": "string",
          "maxLength": 512,
          "description": "Glob pattern in Go path.Match syntax (*, ?, [a-z], backslash escapes); every push of a matching tag deploys. A manual, cron or polled deploy takes the matching image built last."
        },
        "regex": {
          "type": "string",
          "maxLength": 512,
          "description": "Go regular expression (RE2), unanchored unless written ^...$. Without capture and order every push of a matching tag deploys; with them only the newest matching tag does."
        },
        "capture": {
          "type": "string",
          "description": "Name of a group of regex, written (?P<name>...), whose value orders the matching tags; only the newest deploys. Only with regex."
        },
        "order": {
          "type": "string",
          "enum": ["numerical", "alphabetical"],
          "description": "How the captured value (or, without capture, the whole tag) compares: numerical (the default; a value that is no decimal number does not deploy) or alphabetical. Only with regex."
        },
        "semver": {
          "type": "string",
          "maxLength": 512,
          "description": "Semantic version range such as \">=1.0 <2\" or \"~1.4\"; tags such as 1.2.3 and v1.2.3 match, pre-releases only when the range names one. Only the highest tag in the range deploys."
        }
      }
    },
    "digest": {
      "type": "string",
      "pattern": "^[a-z0-9]+([+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$",
      "description": "Pins one manifest digest (sha256:...): any other digest the tag policy resolves to is skipped."
    },
    "secretRef": {
      "type": "object",
      "description": "A kubernetes.io/dockerconfigjson Secret in the Trigger's namespace with credentials for the registry; anonymous access when absent.",
      "required": ["name"],
      "properties": {
        "name": {
          "type": "string",
          "minLength": 1,
          "maxLength": 253,
          "pattern": "^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$",
          "description": "Name of the Secret."
        },
        "key": {
          "type": "string",
          "maxLength": 253,
          "pattern": "^[-._a-zA-Z0-9]+$",
          "default": ".dockerconfigjson",
          "description": "Key of the Secret holding the Docker config JSON."
        }
      }
    },
    "insecure": {
      "type": "boolean",
      "description": "Talk plain HTTP to the registry. Registries on localhost, loopback and private (RFC 1918) addresses are reached over plain HTTP anyway."
    },
    "pollInterval": {
      "type": "string",
      "pattern": "^([0-9]+(\\.[0-9]+)?(ns|us|ms|s|m|h))+$",
      "description": "When set, how often the registry is asked for the tag the policy picks, as a duration such as 1m; at least 5s. Without it the trigger acts on webhooks, manual requests and cron ticks only."
    }
  }
}`

const sampleJSON = `{
  "repository": "registry.example:5000/shop/web",
  "tagPolicy": {"semver": ">=1.0 <2"},
  "secretRef": {"name": "regcred"},
  "pollInterval": "5m"
}`
