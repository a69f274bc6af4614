package image

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"path"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/distribution/reference"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	sigsjson "sigs.k8s.io/json"

	"github.com/tinyforge/tinyforge/internal/docker"
	"github.com/tinyforge/tinyforge/plugins"
)

// Config is spec.source.config of a workload of kind image. Zero values
// take the defaults documented on each field.
type Config struct {
	// image is the reference of the image to run: repository[:tag][@digest],
	// as docker pull takes it. A Rollout that pins a digest (a registry push,
	// a rollback) overrides its tag.
	Image string `json:"image"`

	// pullPolicy is when the image is pulled: IfNotPresent (default) pulls
	// only an image missing locally, Always pulls on every deploy (except
	// for digest references, whose content cannot change), Never uses local
	// images only.
	PullPolicy PullPolicy `json:"pullPolicy,omitempty"`

	// registryAuthSecret names a Secret of type kubernetes.io/dockerconfigjson
	// in the workload's namespace whose .dockerconfigjson holds credentials
	// for the image's registry. It is read only when a pull is needed.
	RegistryAuthSecret string `json:"registryAuthSecret,omitempty"`

	// command overrides the image's ENTRYPOINT. Setting it also drops the
	// image's CMD, as in Kubernetes.
	Command []string `json:"command,omitempty"`

	// args overrides the image's CMD.
	Args []string `json:"args,omitempty"`

	// ports are the container ports published on 127.0.0.1, each on a
	// random host port, for the proxy and the health check. The ports of
	// the workload's routes and health check are published as well, as
	// TCP, whether or not they are listed: a route never fails for a
	// missing entry here. With no ports at all, the image's EXPOSEd ports are
	// published.
	Ports []Port `json:"ports,omitempty"`

	// volumes are mounted into the container.
	Volumes []Volume `json:"volumes,omitempty"`

	// resources limit the container's memory and CPU.
	Resources *Resources `json:"resources,omitempty"`

	// restartPolicy is Docker's restart policy of the container: no,
	// on-failure, always or unless-stopped (default). TinyForge recreates a
	// container of the current revision that stopped for good either way.
	RestartPolicy RestartPolicy `json:"restartPolicy,omitempty"`

	// labels are extra Docker labels of the container. Keys under
	// tinyforge.dev/ and app.kubernetes.io/managed-by are TinyForge's own.
	Labels map[string]string `json:"labels,omitempty"`

	// stopTimeout is how long a container has to exit after SIGTERM before
	// it is killed, as a duration ("30s"); 10s by default.
	StopTimeout string `json:"stopTimeout,omitempty"`
}

// Port is one published container port.
type Port struct {
	// containerPort is the port the container listens on, 1-65535.
	ContainerPort int32 `json:"containerPort"`
	// protocol is tcp (default) or udp.
	Protocol Protocol `json:"protocol,omitempty"`
}

// Volume is one mount: a named Docker volume of the workload, or a
// directory of the host.
type Volume struct {
	// name of a Docker volume of the workload, created on first use. The
	// Docker volume is named tf-<namespace>-<workload>-<name> and labelled
	// with the workload, so two workloads never share one by accident and
	// Teardown can remove it (see Workload.RemoveVolumes).
	Name string `json:"name,omitempty"`
	// hostPath is an absolute path on the Docker host, bind-mounted; it must
	// exist. Exactly one of name and hostPath is set.
	HostPath string `json:"hostPath,omitempty"`
	// mountPath is the absolute path inside the container.
	MountPath string `json:"mountPath"`
	// readOnly mounts the volume read-only.
	ReadOnly bool `json:"readOnly,omitempty"`
}

// Resources limit a container.
type Resources struct {
	// memory limit in bytes, as a Kubernetes quantity: "256Mi", "1Gi",
	// "500M" or a plain number of bytes; at least 6Mi (Docker's minimum).
	Memory Quantity `json:"memory,omitempty"`
	// cpus is how many CPUs the container may use: "0.5", "2" or "500m";
	// at least 0.01.
	CPUs Quantity `json:"cpus,omitempty"`
}

// Quantity is a resource amount, written as a string ("256Mi", "0.5") or,
// for YAML users who write cpus: 0.5, a JSON number.
type Quantity string

// UnmarshalJSON accepts a JSON string or number.
func (q *Quantity) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case len(b) == 0 || string(b) == "null":
		return nil
	case b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*q = Quantity(s)
	case b[0] == '-' || b[0] >= '0' && b[0] <= '9':
		*q = Quantity(b)
	default:
		// The decoder adds the field's path to a type error.
		return &json.UnmarshalTypeError{Value: jsonKind(b[0]), Type: reflect.TypeFor[string]()}
	}
	return nil
}

func jsonKind(c byte) string {
	switch c {
	case '{':
		return "object"
	case '[':
		return "array"
	case 't', 'f':
		return "bool"
	default:
		return "value"
	}
}

// PullPolicy is when the image is pulled.
type PullPolicy string

// Pull policies.
const (
	// PullIfNotPresent pulls only an image missing locally.
	PullIfNotPresent PullPolicy = "IfNotPresent"
	// PullAlways pulls the tag on every deploy.
	PullAlways PullPolicy = "Always"
	// PullNever uses local images only.
	PullNever PullPolicy = "Never"
)

// Protocol is a port's transport protocol.
type Protocol string

// Protocols.
const (
	ProtocolTCP Protocol = "tcp"
	ProtocolUDP Protocol = "udp"
)

// RestartPolicy is Docker's restart policy.
type RestartPolicy string

// Restart policies, Docker's names.
const (
	RestartNo            RestartPolicy = "no"
	RestartOnFailure     RestartPolicy = "on-failure"
	RestartAlways        RestartPolicy = "always"
	RestartUnlessStopped RestartPolicy = "unless-stopped"
)

// Defaults and bounds of the config.
const (
	// DefaultStopTimeout is Docker's own default.
	DefaultStopTimeout = 10 * time.Second
	// maxStopTimeout keeps a typo from parking a deploy for days.
	maxStopTimeout = time.Hour
	// minMemory is the smallest limit Docker accepts (6 MiB).
	minMemory = 6 << 20
	// minMilliCPUs is the smallest CPU limit Docker accepts (0.01 CPU).
	minMilliCPUs = 10
	// maxItems bounds ports and volumes (the API keeps 64 endpoints).
	maxItems = 64
	// maxImageLength matches the API's limit on a Rollout's image.
	maxImageLength = 1024
)

// reservedLabelPrefix marks the labels TinyForge itself sets.
const reservedLabelPrefix = "tinyforge.dev/"

// volumeNameFmt describes the names isVolumeName accepts, which stay valid
// inside a Docker volume name.
const volumeNameFmt = "lowercase letters, digits, '-', '_' and '.', starting and ending with a letter or digit"

// settings is a config with defaults applied and its values parsed.
type settings struct {
	Config
	named       reference.Named
	memory      int64
	nanoCPUs    int64
	stopTimeout time.Duration
}

// Validate checks spec.source.config and returns every problem at once,
// each under path. It reaches neither Docker nor the network.
func (*Source) Validate(path *field.Path, config []byte) field.ErrorList {
	_, errs := parseConfig(path, config)
	return errs
}

// parseConfig decodes config strictly, applies defaults and checks every
// field, reporting each problem under path. The settings are usable only
// when the list is empty.
func parseConfig(path *field.Path, config []byte) (*settings, field.ErrorList) {
	s := &settings{}
	errs := plugins.DecodeStrict(path, config, &s.Config)
	if len(errs) > 0 && !decodes(config) {
		// A syntax or type error: the rest of the config is unknown.
		return s, errs
	}
	s.applyDefaults()
	errs = append(errs, s.validate(path)...)
	return s, errs
}

// decodes reports whether config decodes at all, ignoring unknown and
// duplicate keys, which leave the known fields decoded.
func decodes(config []byte) bool {
	var c Config
	return sigsjson.UnmarshalCaseSensitivePreserveInts(config, &c) == nil
}

func (s *settings) applyDefaults() {
	if s.PullPolicy == "" {
		s.PullPolicy = PullIfNotPresent
	}
	if s.RestartPolicy == "" {
		s.RestartPolicy = RestartUnlessStopped
	}
	for i := range s.Ports {
		if s.Ports[i].Protocol == "" {
			s.Ports[i].Protocol = ProtocolTCP
		}
	}
	s.stopTimeout = DefaultStopTimeout
}

func (s *settings) validate(p *field.Path) field.ErrorList {
	var errs field.ErrorList
	errs = append(errs, s.validateImage(p)...)
	switch s.PullPolicy {
	case PullIfNotPresent, PullAlways, PullNever:
	default:
		errs = append(errs, field.NotSupported(p.Child("pullPolicy"), s.PullPolicy,
			[]PullPolicy{PullIfNotPresent, PullAlways, PullNever}))
	}
	if name := s.RegistryAuthSecret; name != "" {
		for _, msg := range validation.IsDNS1123Subdomain(name) {
			errs = append(errs, field.Invalid(p.Child("registryAuthSecret"), name, msg))
		}
	}
	if len(s.Command) > 0 && s.Command[0] == "" {
		errs = append(errs, field.Invalid(p.Child("command").Index(0), "", "the executable must not be empty"))
	}
	errs = append(errs, s.validatePorts(p.Child("ports"))...)
	errs = append(errs, s.validateVolumes(p.Child("volumes"))...)
	errs = append(errs, s.validateResources(p.Child("resources"))...)
	switch s.RestartPolicy {
	case RestartNo, RestartOnFailure, RestartAlways, RestartUnlessStopped:
	default:
		errs = append(errs, field.NotSupported(p.Child("restartPolicy"), s.RestartPolicy,
			[]RestartPolicy{RestartNo, RestartOnFailure, RestartAlways, RestartUnlessStopped}))
	}
	for _, k := range slices.Sorted(maps.Keys(s.Labels)) {
		kp := p.Child("labels").Key(k)
		switch {
		case k == "":
			errs = append(errs, field.Invalid(kp, k, "a label key must not be empty"))
		case strings.HasPrefix(k, reservedLabelPrefix):
			errs = append(errs, field.Invalid(kp, k, "label keys under "+reservedLabelPrefix+" are reserved for TinyForge"))
		case k == docker.LabelManagedBy:
			errs = append(errs, field.Invalid(kp, k, "this label is reserved for TinyForge"))
		}
	}
	if v := s.StopTimeout; v != "" {
		d, err := time.ParseDuration(v)
		switch {
		case err != nil:
			errs = append(errs, field.Invalid(p.Child("stopTimeout"), v, `must be a duration such as "30s"`))
		case d < 0 || d > maxStopTimeout:
			errs = append(errs, field.Invalid(p.Child("stopTimeout"), v, fmt.Sprintf("must be from 0s to %v", maxStopTimeout)))
		default:
			s.stopTimeout = d
		}
	}
	return errs
}

func (s *settings) validateImage(p *field.Path) field.ErrorList {
	ip := p.Child("image")
	switch {
	case s.Image == "":
		return field.ErrorList{field.Required(ip, "the image reference to run, such as registry.example/team/web:1.4")}
	case len(s.Image) > maxImageLength:
		return field.ErrorList{field.TooLong(ip, "", maxImageLength)}
	}
	named, err := reference.ParseNormalizedNamed(s.Image)
	if err != nil {
		return field.ErrorList{field.Invalid(ip, s.Image, "must be a reference repository[:tag][@digest]: "+err.Error())}
	}
	s.named = named
	return nil
}

func (s *settings) validatePorts(p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if len(s.Ports) > maxItems {
		return field.ErrorList{field.TooMany(p, len(s.Ports), maxItems)}
	}
	seen := map[Port]bool{}
	for i, port := range s.Ports {
		pp := p.Index(i)
		if port.ContainerPort < 1 || port.ContainerPort > 65535 {
			errs = append(errs, field.Invalid(pp.Child("containerPort"), port.ContainerPort, "must be from 1 to 65535"))
		}
		switch port.Protocol {
		case ProtocolTCP, ProtocolUDP:
		default:
			errs = append(errs, field.NotSupported(pp.Child("protocol"), port.Protocol, []Protocol{ProtocolTCP, ProtocolUDP}))
		}
		if seen[port] {
			errs = append(errs, field.Duplicate(pp, fmt.Sprintf("%d/%s", port.ContainerPort, port.Protocol)))
		}
		seen[port] = true
	}
	return errs
}

func (s *settings) validateVolumes(p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if len(s.Volumes) > maxItems {
		return field.ErrorList{field.TooMany(p, len(s.Volumes), maxItems)}
	}
	mounts := map[string]bool{}
	for i, v := range s.Volumes {
		vp := p.Index(i)
		switch {
		case v.Name != "" && v.HostPath != "":
			errs = append(errs, field.Invalid(vp, v.Name, "name and hostPath are mutually exclusive"))
		case v.Name == "" && v.HostPath == "":
			errs = append(errs, field.Required(vp, "one of name (a Docker volume) or hostPath"))
		case v.Name != "":
			if !isVolumeName(v.Name) {
				errs = append(errs, field.Invalid(vp.Child("name"), v.Name, "must be at most 63 "+volumeNameFmt))
			}
		case !path.IsAbs(v.HostPath):
			errs = append(errs, field.Invalid(vp.Child("hostPath"), v.HostPath, "must be an absolute path"))
		}
		mp := vp.Child("mountPath")
		switch {
		case v.MountPath == "":
			errs = append(errs, field.Required(mp, "the absolute path inside the container"))
		case !path.IsAbs(v.MountPath):
			errs = append(errs, field.Invalid(mp, v.MountPath, "must be an absolute path"))
		case path.Clean(v.MountPath) == "/":
			errs = append(errs, field.Invalid(mp, v.MountPath, "must not be the root directory"))
		case mounts[path.Clean(v.MountPath)]:
			errs = append(errs, field.Duplicate(mp, v.MountPath))
		default:
			mounts[path.Clean(v.MountPath)] = true
		}
	}
	return errs
}

func isVolumeName(s string) bool {
	if s == "" || len(s) > 63 || !isAlnum(s[0]) || !isAlnum(s[len(s)-1]) {
		return false
	}
	for i := range len(s) {
		if c := s[i]; !isAlnum(c) && c != '-' && c != '_' && c != '.' {
			return false
		}
	}
	return true
}

func isAlnum(c byte) bool { return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' }

func (s *settings) validateResources(p *field.Path) field.ErrorList {
	if s.Resources == nil {
		return nil
	}
	var errs field.ErrorList
	if v := string(s.Resources.Memory); v != "" {
		mp := p.Child("memory")
		q, err := resource.ParseQuantity(v)
		switch {
		case err != nil:
			errs = append(errs, field.Invalid(mp, v, `must be a quantity of bytes such as "256Mi" or "1Gi"`))
		case q.CmpInt64(minMemory) < 0:
			errs = append(errs, field.Invalid(mp, v, "must be at least 6Mi, Docker's minimum"))
		case q.Cmp(resource.MustParse("1Ei")) > 0:
			errs = append(errs, field.Invalid(mp, v, "must be at most 1Ei"))
		default:
			s.memory = q.Value()
		}
	}
	if v := string(s.Resources.CPUs); v != "" {
		cp := p.Child("cpus")
		q, err := resource.ParseQuantity(v)
		switch {
		case err != nil:
			errs = append(errs, field.Invalid(cp, v, `must be a number of CPUs such as "0.5" or "2"`))
		case q.Cmp(*resource.NewMilliQuantity(minMilliCPUs, resource.DecimalSI)) < 0:
			errs = append(errs, field.Invalid(cp, v, "must be at least 0.01"))
		case q.CmpInt64(1<<20) > 0:
			errs = append(errs, field.Invalid(cp, v, "must be at most 1048576"))
		default:
			s.nanoCPUs = q.MilliValue() * 1_000_000
		}
	}
	return errs
}
