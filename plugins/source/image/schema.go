package image

// Description says what the kind does, for `forgectl get sourcekinds`.
func (*Source) Description() string {
	return "Runs one container of a container image, published on loopback for the TinyForge proxy; " +
		"a new image digest or config replaces it blue-green (or recreate) after a health check."
}

// Schema is the JSON schema of Config, in the OpenAPI v3 subset of CRD
// schemas. Rules that subset cannot say (name and hostPath exclusive, the
// reference syntax, reserved label keys) are in the descriptions and in
// Validate.
func (*Source) Schema() []byte { return []byte(schemaJSON) }

// Sample is a config that passes Validate.
func (*Source) Sample() []byte { return []byte(sampleJSON) }

// quantitySchema is Kubernetes' own schema of a resource.Quantity.
const quantitySchema = `"anyOf": [{"type": "integer"}, {"type": "string"}],
        "x-kubernetes-int-or-string": true,
        "pattern": "^(\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))))?$"`

const schemaJSON = `{
  "type": "object",
  "description": "Config of the image source: one container of an image.",
  "required": ["image"],
  "properties": {
    "image": {
      "type": "string",
      "minLength": 1,
      "maxLength": 1024,
      "description": "Reference of the image to run: repository[:tag][@digest], as docker pull takes it. A Rollout that pins a digest (a registry push, a rollback) overrides the tag."
    },
    "pullPolicy": {
      "type": "string",
      "enum": ["IfNotPresent", "Always", "Never"],
      "default": "IfNotPresent",
      "description": "When the image is pulled: IfNotPresent pulls a missing image only, Always pulls on every deploy (except digest references), Never uses local images only."
    },
    "registryAuthSecret": {
      "type": "string",
      "maxLength": 253,
      "pattern": "^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$",
      "description": "Name of a Secret of type kubernetes.io/dockerconfigjson in the workload's namespace with credentials for the image's registry, read when a pull is needed."
    },
    "command": {
      "type": "array",
      "items": {"type": "string"},
      "description": "Overrides the image's ENTRYPOINT (and drops its CMD)."
    },
    "args": {
      "type": "array",
      "items": {"type": "string"},
      "description": "Overrides the image's CMD."
    },
    "ports": {
      "type": "array",
      "maxItems": 64,
      "description": "Container ports published on 127.0.0.1, each on a random host port. Route and health check ports are published as TCP even when not listed; with no ports at all the image's EXPOSEd ports are published.",
      "items": {
        "type": "object",
        "required": ["containerPort"],
        "properties": {
          "containerPort": {"type": "integer", "format": "int32", "minimum": 1, "maximum": 65535, "description": "Port the container listens on."},
          "protocol": {"type": "string", "enum": ["tcp", "udp"], "default": "tcp", "description": "Transport protocol."}
        }
      }
    },
    "volumes": {
      "type": "array",
      "maxItems": 64,
      "description": "Mounts: each is a named volume of the workload or a host path, exactly one of the two.",
      "items": {
        "type": "object",
        "required": ["mountPath"],
        "properties": {
          "name": {
            "type": "string",
            "maxLength": 63,
            "pattern": "^[a-z0-9]([-a-z0-9_.]*[a-z0-9])?$",
            "description": "Docker volume of the workload, created on first use as tf-<namespace>-<workload>-<name> and labelled with the workload; removed on delete only with spec.removeVolumesOnDelete."
          },
          "hostPath": {"type": "string", "pattern": "^/", "description": "Absolute path on the Docker host to bind-mount; it must exist."},
          "mountPath": {"type": "string", "pattern": "^/", "description": "Absolute path inside the container."},
          "readOnly": {"type": "boolean", "description": "Mount read-only."}
        }
      }
    },
    "resources": {
      "type": "object",
      "description": "Limits of the container.",
      "properties": {
        "memory": {
        ` + quantitySchema + `,
          "description": "Memory limit as a quantity of bytes (256Mi, 1Gi); at least 6Mi."
        },
        "cpus": {
        ` + quantitySchema + `,
          "description": "CPUs the container may use (0.5, 2, 500m); at least 0.01."
        }
      }
    },
    "restartPolicy": {
      "type": "string",
      "enum": ["no", "on-failure", "always", "unless-stopped"],
      "default": "unless-stopped",
      "description": "Docker's restart policy of the container."
    },
    "labels": {
      "type": "object",
      "additionalProperties": {"type": "string"},
      "description": "Extra Docker labels of the container; keys under tinyforge.dev/ and app.kubernetes.io/managed-by are reserved."
    },
    "stopTimeout": {
      "type": "string",
      "pattern": "^([0-9]+(\\.[0-9]+)?(ns|us|ms|s|m|h))+$",
      "description": "How long the container has to exit after SIGTERM before it is killed; 10s by default, at most 1h."
    }
  }
}`

const sampleJSON = `{
  "image": "registry.example:5000/shop/web:1.4.2",
  "pullPolicy": "IfNotPresent",
  "ports": [{"containerPort": 8080}],
  "volumes": [{"name": "uploads", "mountPath": "/var/lib/web/uploads"}],
  "resources": {"memory": "256Mi", "cpus": "0.5"},
  "restartPolicy": "unless-stopped",
  "labels": {"com.example.team": "shop"},
  "stopTimeout": "30s"
}`
