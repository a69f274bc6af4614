package compose

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/tree"
)

// supportedPaths are the compose attributes TinyForge implements. The
// screen is fail-closed: any other attribute, including those a newer
// specification adds, is refused by name rather than ignored. Extension
// keys (x-*) are always allowed.
var supportedPaths = paths(
	"name",
	"services", "services.*",
	"services.*.image", "services.*.pull_policy", "services.*.profiles",
	"services.*.command", "services.*.entrypoint", "services.*.working_dir", "services.*.user",
	"services.*.environment", "services.*.environment.*",
	"services.*.env_file", "services.*.env_file.[].path", "services.*.env_file.[].required",
	"services.*.ports", "services.*.ports.[].target", "services.*.ports.[].published", "services.*.ports.[].host_ip",
	"services.*.ports.[].protocol", "services.*.ports.[].mode", "services.*.ports.[].name", "services.*.ports.[].app_protocol",
	"services.*.expose",
	"services.*.volumes", "services.*.volumes.[].type", "services.*.volumes.[].source", "services.*.volumes.[].target",
	"services.*.volumes.[].read_only", "services.*.volumes.[].volume", "services.*.volumes.[].volume.nocopy",
	"services.*.volumes.[].bind", "services.*.volumes.[].bind.create_host_path", "services.*.volumes.[].bind.propagation",
	"services.*.volumes.[].tmpfs", "services.*.volumes.[].tmpfs.size", "services.*.volumes.[].tmpfs.mode",
	"services.*.tmpfs",
	"services.*.healthcheck", "services.*.healthcheck.test", "services.*.healthcheck.interval", "services.*.healthcheck.timeout",
	"services.*.healthcheck.retries", "services.*.healthcheck.start_period", "services.*.healthcheck.disable",
	"services.*.restart",
	"services.*.labels", "services.*.labels.*",
	"services.*.depends_on", "services.*.depends_on.*", "services.*.depends_on.*.condition",
	"services.*.depends_on.*.required", "services.*.depends_on.*.restart",
	"services.*.hostname", "services.*.stop_signal", "services.*.stop_grace_period",
	"services.*.tty", "services.*.stdin_open", "services.*.init", "services.*.read_only",
	"services.*.extra_hosts", "services.*.extra_hosts.*", "services.*.cap_drop",
	"services.*.mem_limit", "services.*.cpus",
	"services.*.deploy", "services.*.deploy.replicas", "services.*.deploy.resources", "services.*.deploy.resources.limits",
	"services.*.deploy.resources.limits.cpus", "services.*.deploy.resources.limits.memory",
	"services.*.scale",
	"services.*.logging", "services.*.logging.driver", "services.*.logging.options", "services.*.logging.options.*",
	"services.*.networks", "services.*.networks.*", "services.*.networks.*.aliases",
	"services.*.network_mode",
	"services.*.extends", "services.*.extends.service",
	"networks", "networks.*", "networks.*.name", "networks.*.driver", "networks.*.internal", "networks.*.external",
	"networks.*.labels", "networks.*.labels.*",
	"volumes", "volumes.*", "volumes.*.name", "volumes.*.driver", "volumes.*.driver_opts", "volumes.*.driver_opts.*",
	"volumes.*.labels", "volumes.*.labels.*",
)

func paths(ps ...string) []tree.Path {
	out := make([]tree.Path, len(ps))
	for i, p := range ps {
		out[i] = tree.Path(p)
	}
	return out
}

// unsupportedValues are the values of supported attributes that TinyForge
// does not implement. A value holding a variable is accepted by the
// uninterpolated screen: the screen of the loaded project sees its value.
func unsupportedValues(inline bool) []loader.UnsupportedAttributePattern {
	ps := []loader.UnsupportedAttributePattern{
		{Path: "services.*.network_mode", Detect: notOneOf("none")},
		{Path: "services.*.deploy.replicas", Detect: notOne},
		{Path: "services.*.scale", Detect: notOne},
		{Path: "services.*.pull_policy", Detect: notOneOf("missing", "if_not_present", "always", "never")},
		{Path: "services.*.depends_on.*.restart", Detect: isTrue},
		{Path: "services.*.volumes.[].type", Detect: notOneOf("volume", "bind", "tmpfs")},
		{Path: "services.*.ports.[].protocol", Detect: notOneOf("tcp", "udp")},
		{Path: "networks.*.driver", Detect: notOneOf("bridge")},
	}
	if inline {
		ps = append(ps, loader.UnsupportedAttributePattern{Path: "services.*.env_file"})
	}
	return ps
}

// valueRefused reports whether p is a supported attribute whose value was
// refused (rather than an attribute refused whatever its value).
func valueRefused(p tree.Path) bool {
	for _, pattern := range unsupportedValues(false) {
		if pattern.Detect != nil && p.Matches(pattern.Path) {
			return true
		}
	}
	return false
}

// variable reports whether v is a string that still holds a variable.
func variable(v any) bool {
	s, ok := v.(string)
	return ok && strings.Contains(s, "$")
}

func notOneOf(allowed ...string) func(any) bool {
	return func(v any) bool {
		if variable(v) {
			return false
		}
		s := fmt.Sprint(v)
		for _, a := range allowed {
			if s == a {
				return false
			}
		}
		return true
	}
}

func notOne(v any) bool {
	if variable(v) {
		return false
	}
	n, err := strconv.Atoi(strings.TrimSpace(fmt.Sprint(v)))
	return err != nil || n != 1
}

func isTrue(v any) bool {
	b, ok := v.(bool)
	return ok && b
}

// hints say, by attribute name, what to do instead of an unsupported one.
var hints = map[string]string{
	"build":          "build the image elsewhere, such as in CI, and name it in image",
	"secrets":        "put secret values in spec.env (from Secrets) and use them as ${VARIABLES}",
	"configs":        "use environment variables or an image that holds the file",
	"include":        "the compose file must be self-contained",
	"file":           "the compose file must be self-contained: extends may only name a service of the same file",
	"container_name": "containers are named <project>-<service>-<number>, and blue-green needs two names",
	"replicas":       "a compose service runs one container",
	"scale":          "a compose service runs one container",
	"network_mode":   "only none is supported; services share the project's networks",
	"privileged":     "TinyForge does not run containers with extra privileges",
	"cap_add":        "TinyForge does not run containers with extra privileges",
	"security_opt":   "TinyForge does not run containers with extra privileges",
	"devices":        "TinyForge does not run containers with extra privileges",
	"pid":            "TinyForge does not run containers with extra privileges",
	"ipc":            "TinyForge does not run containers with extra privileges",
	"userns_mode":    "TinyForge does not run containers with extra privileges",
	"pull_policy":    "use missing, if_not_present, always or never",
	"restart":        "a dependency's restart does not restart its dependants",
	"type":           "volumes are named volumes, absolute bind mounts or tmpfs",
	"protocol":       "ports are tcp or udp",
	"driver":         "project networks use the bridge driver",
	"env_file":       "an inline compose file has no files: use environment with values or ${VARIABLES} from spec.env",
	"links":          "services reach each other by service name on the project network",
	"jobs":           "run a one-shot service that others depend on with condition service_completed_successfully",
	"start_interval": "the Docker Engine API 1.41 has no healthcheck start interval",
	"subpath":        "the Docker Engine API 1.41 cannot mount a volume's subpath",
	"consistency":    "it only matters on Docker Desktop for Mac",
	"external":       "TinyForge creates and labels the stack's volumes, and cannot check one made outside it",
}

// unsupported turns a finding of the screen into a problem that names the
// attribute, and its value when that is a scalar.
func unsupported(f loader.UnsupportedAttribute) problem {
	msg := "not supported"
	if valueRefused(f.Path) {
		if b, ok := f.Value.(bool); ok {
			msg = fmt.Sprintf("%t is not supported", b)
		} else {
			msg = fmt.Sprintf("%q is not supported", fmt.Sprint(f.Value))
		}
	}
	if h, ok := hints[f.Path.Last()]; ok {
		msg += " (" + h + ")"
	}
	return problem{path: f.Path.String(), msg: msg}
}
