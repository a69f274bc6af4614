package compose

// Description says what the kind does, for `forgectl get sourcekinds`.
func (*Source) Description() string {
	return "Runs a Docker Compose stack (a compose file inline or from a git repository) as one workload, labelled for `docker compose ls`; " +
		"a redeploy recreates only changed services, routed ones blue-green after a health check."
}

// Schema is the JSON schema of Config, in the OpenAPI v3 subset of CRD
// schemas. What that subset cannot say (compose and git exclusive, the
// compose file's own rules) is in the descriptions and in Validate.
func (*Source) Schema() []byte { return []byte(schemaJSON) }

// Sample is a config that passes Validate.
func (*Source) Sample() []byte { return []byte(sampleJSON) }

const schemaJSON = `{
  "type": "object",
  "description": "Config of the compose source: a Compose stack, given inline or from a git repository.",
  "properties": {
    "project": {
      "type": "string",
      "maxLength": 63,
      "pattern": "^[a-z0-9][a-z0-9_-]*$",
      "description": "Compose project name, the prefix of every container, network and volume of the stack. Default: the compose file's name, else <namespace>-<workload>."
    },
    "compose": {
      "type": "string",
      "maxLength": 262144,
      "description": "The compose file as YAML. Variables (${VAR}) are interpolated from spec.env. Keys TinyForge does not implement (build, secrets, configs, privileged, network_mode other than none, more than one replica, …) are refused by name."
    },
    "git": {
      "type": "object",
      "required": ["url"],
      "description": "A compose file in a git repository, read at the commit a git trigger names, else at ref; paths may not leave the checkout.",
      "properties": {
        "url": {"type": "string", "minLength": 1, "description": "Repository URL, as git clone takes it."},
        "ref": {"type": "string", "description": "Branch, tag or commit; the default branch when empty. A git trigger's commit wins."},
        "path": {"type": "string", "description": "Folder of the compose file in the repository; the root when empty."},
        "file": {"type": "string", "description": "Name of the compose file in that folder: compose.yaml, else docker-compose.yml, when empty."}
      }
    },
    "envFiles": {
      "type": "array",
      "maxItems": 32,
      "items": {"type": "string"},
      "description": ".env files, relative to the compose file's folder in the git repository, for interpolation; spec.env wins over them. Only with git."
    },
    "profiles": {
      "type": "array",
      "maxItems": 32,
      "items": {"type": "string", "pattern": "^([a-zA-Z0-9][a-zA-Z0-9_.-]*|\\*)$"},
      "description": "Compose profiles to enable; services with other profiles do not run. * enables every profile."
    }
  }
}`

const sampleJSON = `{
  "project": "shop",
  "compose": "services:\n  db:\n    image: registry.example:5000/shop/db:16\n    environment:\n      PASSWORD: ${DB_PASSWORD}\n    healthcheck:\n      test: [\"CMD\", \"pg_isready\"]\n      interval: 5s\n    volumes:\n      - data:/var/lib/postgresql/data\n  web:\n    image: registry.example:5000/shop/web:1.4.2\n    environment:\n      DATABASE_URL: postgres://shop:${DB_PASSWORD}@db/shop\n    depends_on:\n      db:\n        condition: service_healthy\nvolumes:\n  data: {}\n",
  "profiles": []
}`
