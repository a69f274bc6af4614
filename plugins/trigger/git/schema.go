package git

// Description says what the kind does, for `forgectl get triggerkinds`.
func (*Trigger) Description() string {
	return "Deploys the commit of a git branch or tag when it is pushed (webhooks from GitHub, GitLab or Gitea), " +
		"filtered by branch and tag patterns, a semantic version range and changed paths; manual and cron events deploy a branch's head."
}

// Schema is the JSON schema of Config, in the OpenAPI v3 subset of CRD
// schemas. Rules that subset cannot say (URL forms, glob syntax, the range
// syntax) are in the descriptions and in Validate.
func (*Trigger) Schema() []byte { return []byte(schemaJSON) }

// Sample is a config that passes Validate.
func (*Trigger) Sample() []byte { return []byte(sampleJSON) }

const schemaJSON = `{
  "type": "object",
  "description": "Config of the git trigger: which pushes of which repository deploy. With none of branches, tags and tagSemver set, pushes to main and master deploy.",
  "required": ["url"],
  "properties": {
    "url": {
      "type": "string",
      "minLength": 1,
      "maxLength": 2048,
      "description": "Repository, as git clone takes it: https://, http://, ssh://, git:// or file:// URL, scp-like git@host:owner/repo.git, or an absolute path. Events of other repositories are skipped; scheme, user, port, host case, trailing .git and slashes do not count in the comparison. Must not hold a password: use secretRef."
    },
    "branches": {
      "type": "array",
      "maxItems": 64,
      "items": {"type": "string", "minLength": 1, "maxLength": 255},
      "description": "Glob patterns of the branches whose pushes deploy, such as main or release/*; '*' does not cross '/', '**' does. Defaults to [main, master] when tags and tagSemver are unset too."
    },
    "tags": {
      "type": "array",
      "maxItems": 64,
      "items": {"type": "string", "minLength": 1, "maxLength": 255},
      "description": "Glob patterns of the tags whose pushes deploy, such as v*."
    },
    "tagSemver": {
      "type": "string",
      "maxLength": 256,
      "description": "Semantic version range a tag (MAJOR.MINOR.PATCH, optional leading v) must be inside to deploy, such as \">=1.0.0 <2\" or \"^1.4\"; pre-releases count only when the range names one."
    },
    "paths": {
      "type": "array",
      "maxItems": 64,
      "items": {"type": "string", "minLength": 1, "maxLength": 255},
      "description": "Folder prefixes or glob patterns, relative to the repository root: a push whose reported changed paths are all elsewhere is skipped; a push reporting none is not."
    },
    "secretRef": {
      "type": "object",
      "required": ["name"],
      "description": "Secret in the trigger's namespace holding a token to read refs over https (git ls-remote) of a private repository.",
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
          "default": "token",
          "description": "Key within the Secret's data; token by default."
        }
      }
    }
  }
}`

const sampleJSON = `{
  "url": "https://github.com/acme/web.git",
  "branches": ["main", "release/*"],
  "tags": ["v*"],
  "tagSemver": ">=1.0.0",
  "paths": ["services/web/", "go.mod"],
  "secretRef": {"name": "github-token", "key": "token"}
}`
