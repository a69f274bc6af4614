package static

// Description says what the kind does, for `forgectl get sourcekinds`.
func (*Source) Description() string {
	return "Serves a website from a folder of a git repository at a branch, tag or commit, optionally built " +
		"by a build step in a container, packaged into an image of a serving base image (nginx by default) " +
		"and replaced blue-green after a health check when the commit or the config changes."
}

// Schema is the JSON schema of Config, in the OpenAPI v3 subset of CRD
// schemas. Rules that subset cannot say (no password in the URL, no ".."
// in paths, the reference syntax, a token for https URLs only) are in the
// descriptions and in Validate.
func (*Source) Schema() []byte { return []byte(schemaJSON) }

// Sample is a config that passes Validate.
func (*Source) Sample() []byte { return []byte(sampleJSON) }

const schemaJSON = `{
  "type": "object",
  "description": "Config of the static source: a website from a folder of a git repository.",
  "required": ["git"],
  "properties": {
    "git": {
      "type": "object",
      "description": "The repository folder the site comes from.",
      "required": ["url"],
      "properties": {
        "url": {
          "type": "string",
          "minLength": 1,
          "maxLength": 2048,
          "description": "Repository URL as git clone takes it: an https://, http://, ssh://, git:// or file:// URL, user@host:path, or an absolute local path. No password: credentials go in secretRef."
        },
        "ref": {
          "type": "string",
          "maxLength": 256,
          "description": "Branch, tag or full commit ID to serve; the remote's HEAD (default branch) by default. A git trigger's push overrides it with the commit pushed."
        },
        "path": {
          "type": "string",
          "maxLength": 1024,
          "default": ".",
          "description": "Folder of the repository holding the site (or its sources, with a build step), relative to the repository's root. It may not be absolute, contain '..', or leave the checkout through symlinks."
        }
      }
    },
    "build": {
      "type": "object",
      "description": "A build step run on the folder in a container; its output directory is served instead of the folder.",
      "required": ["image", "command"],
      "properties": {
        "image": {
          "type": "string",
          "minLength": 1,
          "maxLength": 1024,
          "description": "Image running the step, such as node:22-alpine. The folder is copied to /src, the working directory."
        },
        "command": {
          "type": "array",
          "minItems": 1,
          "maxItems": 256,
          "items": {"type": "string"},
          "description": "The step in exec form, with no shell: [\"npm\", \"run\", \"build\"], or [\"sh\", \"-c\", \"npm ci && npm run build\"]."
        },
        "outputDir": {
          "type": "string",
          "maxLength": 1024,
          "default": "dist",
          "description": "Folder, relative to the site's folder, where the step writes the site to serve."
        }
      }
    },
    "baseImage": {
      "type": "string",
      "maxLength": 1024,
      "default": "nginx:1-alpine",
      "description": "Image serving the site: the files are copied into its root and it runs unchanged."
    },
    "root": {
      "type": "string",
      "maxLength": 1024,
      "pattern": "^/",
      "default": "/usr/share/nginx/html",
      "description": "Absolute directory of baseImage the site is copied to."
    },
    "port": {
      "type": "integer",
      "format": "int32",
      "minimum": 1,
      "maximum": 65535,
      "default": 80,
      "description": "Container port baseImage serves HTTP on; every route of the workload goes to it."
    },
    "secretRef": {
      "type": "object",
      "description": "Secret key holding a token for an https repository URL, sent with HTTP basic authentication.",
      "required": ["name"],
      "properties": {
        "name": {
          "type": "string",
          "maxLength": 253,
          "pattern": "^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$",
          "description": "Name of the Secret, in the workload's namespace."
        },
        "key": {
          "type": "string",
          "maxLength": 253,
          "default": "token",
          "description": "Key of the token in the Secret."
        },
        "username": {
          "type": "string",
          "description": "User name sent with the token; x-access-token by default (GitHub; GitLab and Gitea accept it; Bitbucket wants x-token-auth)."
        }
      }
    }
  }
}`

const sampleJSON = `{
  "git": {
    "url": "https://github.com/acme/website.git",
    "ref": "main",
    "path": "site"
  },
  "build": {
    "image": "node:22-alpine",
    "command": ["sh", "-c", "npm ci && npm run build"],
    "outputDir": "dist"
  },
  "baseImage": "nginx:1-alpine",
  "root": "/usr/share/nginx/html",
  "port": 80,
  "secretRef": {"name": "website-git", "key": "token"}
}`
