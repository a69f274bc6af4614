package compose

import (
	"fmt"
	"maps"
	"math"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/go-connections/nat"
)

// loopback is where ports are published unless the compose file names a
// host IP: only the proxy and the health checks on this host reach them.
const loopback = "127.0.0.1"

// containerSpec is what a container of a service is created from.
type containerSpec struct {
	config *container.Config
	host   *container.HostConfig
	// networks are the Docker networks to attach, the first at creation
	// (API 1.41 takes one), the others before the start.
	networks []attachment
}

type attachment struct {
	name     string
	endpoint *network.EndpointSettings
}

// containerSpec converts service s of the stack into the Docker API's
// create options, without labels or name.
func (st *stack) containerSpec(s *service) (*containerSpec, error) {
	cfg := s.cfg
	c := &container.Config{
		Image:        s.image.id,
		Env:          environment(cfg.Environment),
		Hostname:     cfg.Hostname,
		User:         cfg.User,
		WorkingDir:   cfg.WorkingDir,
		Tty:          cfg.Tty,
		OpenStdin:    cfg.StdinOpen,
		StopSignal:   cfg.StopSignal,
		ExposedPorts: nat.PortSet{},
	}
	if cfg.Command != nil {
		c.Cmd = slices.Clone([]string(cfg.Command))
	}
	if cfg.Entrypoint != nil {
		c.Entrypoint = slices.Clone([]string(cfg.Entrypoint))
		if len(c.Entrypoint) == 0 {
			// How the Docker CLI clears an image's ENTRYPOINT.
			c.Entrypoint = []string{""}
		}
	}
	if cfg.StopGracePeriod != nil {
		secs := int(math.Ceil(time.Duration(*cfg.StopGracePeriod).Seconds()))
		c.StopTimeout = &secs
	}
	c.Healthcheck = healthConfig(cfg.HealthCheck)

	restart, retries, err := restartPolicy(cfg.Restart)
	if err != nil {
		return nil, err
	}
	h := &container.HostConfig{
		RestartPolicy:  container.RestartPolicy{Name: container.RestartPolicyMode(restart), MaximumRetryCount: retries},
		PortBindings:   nat.PortMap{},
		Init:           cfg.Init,
		ReadonlyRootfs: cfg.ReadOnly,
		CapDrop:        slices.Clone(cfg.CapDrop),
	}
	if len(cfg.ExtraHosts) > 0 {
		h.ExtraHosts = cfg.ExtraHosts.AsList(":")
		slices.Sort(h.ExtraHosts)
	}
	if cfg.Logging != nil {
		h.LogConfig = container.LogConfig{Type: cfg.Logging.Driver, Config: maps.Clone(map[string]string(cfg.Logging.Options))}
	}
	h.Memory, h.NanoCPUs = limits(cfg)
	if err := st.ports(s, c, h); err != nil {
		return nil, err
	}
	if err := st.mounts(s, h); err != nil {
		return nil, err
	}
	spec := &containerSpec{config: c, host: h}
	if cfg.NetworkMode == "none" {
		h.NetworkMode = "none"
		return spec, nil
	}
	for _, key := range cfg.NetworksByPriority() {
		n, ok := st.project.Networks[key]
		if !ok {
			return nil, fmt.Errorf("%w: service %s uses network %s, which is not declared", ErrInvalidCompose, s.name, key)
		}
		aliases := []string{s.name}
		if sn := cfg.Networks[key]; sn != nil {
			if !sn.ServiceNameAliasEnabled() {
				aliases = nil
			}
			for _, a := range sn.Aliases {
				if !slices.Contains(aliases, a) {
					aliases = append(aliases, a)
				}
			}
		}
		spec.networks = append(spec.networks, attachment{name: n.Name, endpoint: &network.EndpointSettings{Aliases: aliases}})
	}
	if len(spec.networks) > 0 {
		h.NetworkMode = container.NetworkMode(spec.networks[0].name)
	}
	return spec, nil
}

// environment renders a resolved environment as NAME=value, sorted;
// variables left without a value are not set, as Compose does.
func environment(env types.MappingWithEquals) []string {
	var out []string
	for _, k := range slices.Sorted(maps.Keys(env)) {
		if v := env[k]; v != nil {
			out = append(out, k+"="+*v)
		}
	}
	return out
}

func healthConfig(hc *types.HealthCheckConfig) *container.HealthConfig {
	if hc == nil {
		return nil
	}
	if hc.Disable {
		return &container.HealthConfig{Test: []string{"NONE"}}
	}
	out := &container.HealthConfig{Test: slices.Clone([]string(hc.Test))}
	if hc.Interval != nil {
		out.Interval = time.Duration(*hc.Interval)
	}
	if hc.Timeout != nil {
		out.Timeout = time.Duration(*hc.Timeout)
	}
	if hc.StartPeriod != nil {
		out.StartPeriod = time.Duration(*hc.StartPeriod)
	}
	if hc.Retries != nil {
		out.Retries = int(min(*hc.Retries, math.MaxInt32))
	}
	return out
}

// limits returns the memory (bytes) and CPU (nano CPUs) limits: mem_limit
// and cpus, or deploy.resources.limits.
func limits(cfg types.ServiceConfig) (memory, nanoCPUs int64) {
	memory, cpus := int64(cfg.MemLimit), float64(cfg.CPUS)
	if cfg.Deploy != nil && cfg.Deploy.Resources.Limits != nil {
		l := cfg.Deploy.Resources.Limits
		if memory == 0 {
			memory = int64(l.MemoryBytes)
		}
		if cpus == 0 {
			cpus = float64(l.NanoCPUs)
		}
	}
	return memory, int64(math.Round(cpus * 1e9))
}

// ports publishes the service's ports, on 127.0.0.1 unless the file names
// a host IP, and the ports of its routes and probe on 127.0.0.1 (a random
// host port) unless a published one is reachable there already.
func (st *stack) ports(s *service, c *container.Config, h *container.HostConfig) error {
	if len(s.cfg.Expose) > 0 {
		exposed, _, err := nat.ParsePortSpecs(s.cfg.Expose)
		if err != nil {
			return fmt.Errorf("%w: services.%s.expose: %v", ErrInvalidCompose, s.name, err)
		}
		for p := range exposed {
			c.ExposedPorts[p] = struct{}{}
		}
	}
	for _, p := range s.cfg.Ports {
		proto := p.Protocol
		if proto == "" {
			proto = "tcp"
		}
		port, err := nat.NewPort(proto, fmt.Sprint(p.Target))
		if err != nil {
			return fmt.Errorf("%w: services.%s.ports: %v", ErrInvalidCompose, s.name, err)
		}
		ip := p.HostIP
		if ip == "" {
			ip = loopback
		}
		c.ExposedPorts[port] = struct{}{}
		h.PortBindings[port] = append(h.PortBindings[port], nat.PortBinding{HostIP: ip, HostPort: p.Published})
	}
	for _, target := range slices.Sorted(slices.Values(s.loopback)) {
		port := tcpPort(target)
		c.ExposedPorts[port] = struct{}{}
		if !slices.ContainsFunc(h.PortBindings[port], reachable) {
			h.PortBindings[port] = append(h.PortBindings[port], nat.PortBinding{HostIP: loopback})
		}
	}
	return nil
}

// reachable reports whether a binding is reachable at 127.0.0.1.
func reachable(b nat.PortBinding) bool {
	return b.HostIP == loopback || b.HostIP == "" || b.HostIP == "0.0.0.0"
}

func tcpPort(p int32) nat.Port { return nat.Port(fmt.Sprintf("%d/tcp", p)) }

// mounts converts the service's volumes and tmpfs. Short-syntax bind
// mounts create a missing host path, as Compose does, which only the
// legacy Binds do.
func (st *stack) mounts(s *service, h *container.HostConfig) error {
	for _, v := range s.cfg.Volumes {
		switch v.Type {
		case types.VolumeTypeVolume:
			vol, ok := st.project.Volumes[v.Source]
			if !ok || v.Source == "" {
				return fmt.Errorf("%w: services.%s.volumes: volume %q is not declared", ErrInvalidCompose, s.name, v.Source)
			}
			m := mount.Mount{Type: mount.TypeVolume, Source: vol.Name, Target: v.Target, ReadOnly: v.ReadOnly}
			if v.Volume != nil && v.Volume.NoCopy {
				m.VolumeOptions = &mount.VolumeOptions{NoCopy: true}
			}
			h.Mounts = append(h.Mounts, m)
		case types.VolumeTypeBind:
			if v.Bind == nil || bool(v.Bind.CreateHostPath) {
				opts := []string{"rw"}
				if v.ReadOnly {
					opts[0] = "ro"
				}
				if v.Bind != nil && v.Bind.Propagation != "" {
					opts = append(opts, v.Bind.Propagation)
				}
				h.Binds = append(h.Binds, v.Source+":"+v.Target+":"+strings.Join(opts, ","))
				continue
			}
			m := mount.Mount{Type: mount.TypeBind, Source: v.Source, Target: v.Target, ReadOnly: v.ReadOnly}
			if v.Bind.Propagation != "" {
				m.BindOptions = &mount.BindOptions{Propagation: mount.Propagation(v.Bind.Propagation)}
			}
			h.Mounts = append(h.Mounts, m)
		case types.VolumeTypeTmpfs:
			m := mount.Mount{Type: mount.TypeTmpfs, Target: v.Target}
			if v.Tmpfs != nil {
				m.TmpfsOptions = &mount.TmpfsOptions{SizeBytes: int64(v.Tmpfs.Size)}
				if v.Tmpfs.Mode != 0 {
					m.TmpfsOptions.Mode = os.FileMode(v.Tmpfs.Mode)
				}
			}
			h.Mounts = append(h.Mounts, m)
		default:
			return fmt.Errorf("%w: services.%s.volumes: type %q is not supported", ErrInvalidCompose, s.name, v.Type)
		}
	}
	if len(s.cfg.Tmpfs) > 0 {
		h.Tmpfs = map[string]string{}
		for _, t := range s.cfg.Tmpfs {
			target, opts, _ := strings.Cut(t, ":")
			h.Tmpfs[target] = opts
		}
	}
	return nil
}
