package image

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/volume"
	"github.com/docker/go-connections/nat"

	"github.com/tinyforge/tinyforge/internal/docker"
	"github.com/tinyforge/tinyforge/plugins"
)

// LabelConfigHash is the container label holding the hash of what the
// container was created from besides its image (see configHash). A
// container is reused only when both its revision and this hash match.
const LabelConfigHash = "tinyforge.dev/config-hash"

const (
	// loopback is where every port is published: people on this host
	// reach the containers there (status.endpoints), and so do the proxy
	// and the health checks when the containers have no network address or
	// plugins.Deps.PublishedUpstreams is set.
	loopback = "127.0.0.1"
	// maxNameLength keeps container names usable as DNS labels (they are
	// aliases on user-defined networks).
	maxNameLength = 63
	// removeTimeout bounds the Docker calls of a cleanup that runs after the
	// caller's context is done; a stop's own timeout comes on top.
	removeTimeout = 30 * time.Second
)

// instance is one container of the workload, as listed.
type instance struct {
	ID         string
	Name       string
	Revision   string
	ConfigHash string
	Rollout    string
	ImageID    string
	State      string
	// Status is Docker's status line, such as "Up 2 minutes (healthy)".
	Status  string
	Created int64
	// addrs maps a published container port ("8080/tcp") to its loopback
	// address; empty unless the container runs.
	addrs map[nat.Port]string
	// ip is the container's address on its Docker network (see
	// docker.ContainerIP); empty unless it runs with one.
	ip string
}

func (in instance) running() bool { return in.State == "running" }

// upstream returns where the proxy and the health checks reach TCP port p
// of the container: its own address on its network, which spares Docker's
// userland proxy, unless published is set (plugins.Deps.PublishedUpstreams)
// or it has none; else the loopback address p is published on.
func (in instance) upstream(p nat.Port, published bool) (string, bool) {
	if in.ip != "" && !published {
		return net.JoinHostPort(in.ip, p.Port()), true
	}
	a, ok := in.addrs[p]
	return a, ok
}

// endpoints lists the loopback addresses of the TCP ports, by port.
func (in instance) endpoints() []string {
	ports := slices.SortedFunc(maps.Keys(in.addrs), func(a, b nat.Port) int { return cmp.Compare(a.Int(), b.Int()) })
	var out []string
	for _, p := range ports {
		if p.Proto() == "tcp" {
			out = append(out, in.addrs[p])
		}
	}
	return out
}

func tcpPort(p int32) nat.Port { return nat.Port(strconv.Itoa(int(p)) + "/tcp") }

// listInstances lists every container of w, running or not, oldest first.
func listInstances(ctx context.Context, cli docker.API, w plugins.Workload) ([]instance, error) {
	list, err := cli.ContainerList(ctx, container.ListOptions{All: true, Filters: docker.WorkloadFilter(w.Namespace, w.Name)})
	if err != nil {
		return nil, fmt.Errorf("listing containers of %s/%s: %w", w.Namespace, w.Name, err)
	}
	out := make([]instance, 0, len(list))
	for _, c := range list {
		in := instance{
			ID:         c.ID,
			Revision:   c.Labels[docker.LabelRevision],
			ConfigHash: c.Labels[LabelConfigHash],
			Rollout:    c.Labels[docker.LabelRollout],
			ImageID:    c.ImageID,
			State:      string(c.State),
			Status:     c.Status,
			Created:    c.Created,
			addrs:      map[nat.Port]string{},
		}
		if len(c.Names) > 0 {
			in.Name = strings.TrimPrefix(c.Names[0], "/")
		}
		if c.NetworkSettings != nil && in.running() {
			in.ip = docker.ContainerIP(c.NetworkSettings.Networks, nil)
		}
		for _, p := range c.Ports {
			if p.PublicPort != 0 && (p.IP == loopback || p.IP == "0.0.0.0") {
				in.addrs[nat.Port(fmt.Sprintf("%d/%s", p.PrivatePort, p.Type))] = net.JoinHostPort(loopback, strconv.Itoa(int(p.PublicPort)))
			}
		}
		out = append(out, in)
	}
	slices.SortStableFunc(out, func(a, b instance) int { return cmp.Compare(a.Created, b.Created) })
	return out, nil
}

// runSpec is everything needed to create a container of one revision.
type runSpec struct {
	w     plugins.Workload
	set   *settings
	image resolvedImage
	hash  string
	// ports are published on loopback, in order.
	ports []nat.Port
	// probe is the port of the HTTP health check; empty without one.
	probe nat.Port
}

// newRunSpec works out the ports and the config hash of a container of img.
func newRunSpec(w plugins.Workload, set *settings, img resolvedImage) (*runSpec, error) {
	sp := &runSpec{w: w, set: set, image: img, hash: configHash(set, w)}
	add := func(p nat.Port) {
		if !slices.Contains(sp.ports, p) {
			sp.ports = append(sp.ports, p)
		}
	}
	for _, p := range set.Ports {
		add(nat.Port(fmt.Sprintf("%d/%s", p.ContainerPort, p.Protocol)))
	}
	for _, r := range w.Routes {
		add(tcpPort(r.Port))
	}
	if w.HealthCheck.Port != 0 {
		add(tcpPort(w.HealthCheck.Port))
	}
	var exposed []nat.Port
	if img.inspect.Config != nil {
		for p := range img.inspect.Config.ExposedPorts {
			exposed = append(exposed, nat.Port(p))
		}
		slices.SortFunc(exposed, func(a, b nat.Port) int { return cmp.Compare(a.Int(), b.Int()) })
	}
	if len(sp.ports) == 0 {
		for _, p := range exposed {
			add(p)
		}
	}
	if w.HealthCheck.Path != "" {
		switch {
		case w.HealthCheck.Port != 0:
			sp.probe = tcpPort(w.HealthCheck.Port)
		case len(w.Routes) > 0:
			sp.probe = tcpPort(w.Routes[0].Port)
		default:
			for _, p := range sp.ports {
				if p.Proto() == "tcp" {
					sp.probe = p
					break
				}
			}
		}
		if sp.probe == "" {
			return nil, fmt.Errorf("healthCheck.path %s is set but there is no TCP port to probe: set healthCheck.port, a route, or a port in the config", w.HealthCheck.Path)
		}
	}
	return sp, nil
}

// configHash identifies what a container runs besides its image: the
// resolved config without the fields that only say where the image comes
// from (the revision covers that), the env, the routes (they decide the
// published ports) and the health check.
func configHash(set *settings, w plugins.Workload) string {
	c := set.Config
	c.Image, c.PullPolicy, c.RegistryAuthSecret = "", "", ""
	c.StopTimeout = set.stopTimeout.String()
	b, err := json.Marshal(struct {
		Config      Config              `json:"config"`
		Env         []plugins.EnvVar    `json:"env,omitempty"`
		Routes      []plugins.Route     `json:"routes,omitempty"`
		HealthCheck plugins.HealthCheck `json:"healthCheck"`
	}{c, w.Env, w.Routes, w.HealthCheck})
	if err != nil {
		// Only plain data is marshalled.
		panic(fmt.Sprintf("image: hashing config: %v", err))
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])[:16]
}

// containerName is tf-<namespace>-<workload>-<revision prefix>-<random>,
// the namespace and workload part shortened to keep it a DNS label.
func containerName(w plugins.Workload, revision string) string {
	suffix := "-" + shortID(revision) + "-" + randomSuffix(5)
	base := "tf-" + w.Namespace + "-" + w.Name
	if len(base)+len(suffix) > maxNameLength {
		base = strings.TrimRight(base[:maxNameLength-len(suffix)], "-.")
	}
	return base + suffix
}

// shortID returns the first 12 characters of a digest's hex, or of s when
// it has no algorithm.
func shortID(s string) string {
	if _, h, ok := strings.Cut(s, ":"); ok {
		s = h
	}
	if len(s) > 12 {
		s = s[:12]
	}
	return s
}

func randomSuffix(n int) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, n)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

// volumeName is the Docker name of the workload's volume name.
func volumeName(w plugins.Workload, name string) string {
	return "tf-" + w.Namespace + "-" + w.Name + "-" + name
}

// startContainer creates and starts a container of sp and returns it as
// listed. A container that fails to start is removed.
func startContainer(ctx context.Context, deps plugins.Deps, sp *runSpec, rollout string) (instance, error) {
	mounts, err := ensureVolumes(ctx, deps.Docker, sp)
	if err != nil {
		return instance{}, err
	}
	w, set := sp.w, sp.set
	labels := docker.Labels(w.Namespace, w.Name, sp.image.revision, rollout)
	maps.Copy(labels, set.Labels)
	labels[LabelConfigHash] = sp.hash
	stopSeconds := int(math.Ceil(set.stopTimeout.Seconds()))

	cfg := &container.Config{
		Image:        sp.image.ref,
		Env:          w.EnvStrings(),
		Labels:       labels,
		ExposedPorts: nat.PortSet{},
		StopTimeout:  &stopSeconds,
	}
	if len(set.Command) > 0 {
		cfg.Entrypoint = set.Command
	}
	if len(set.Args) > 0 {
		cfg.Cmd = set.Args
	}
	host := &container.HostConfig{
		PortBindings:  nat.PortMap{},
		RestartPolicy: container.RestartPolicy{Name: container.RestartPolicyMode(set.RestartPolicy)},
		Resources:     container.Resources{Memory: set.memory, NanoCPUs: set.nanoCPUs},
		Mounts:        mounts,
	}
	for _, p := range sp.ports {
		cfg.ExposedPorts[p] = struct{}{}
		host.PortBindings[p] = []nat.PortBinding{{HostIP: loopback}}
	}

	name := containerName(w, sp.image.revision)
	created, err := deps.Docker.ContainerCreate(ctx, cfg, host, nil, nil, name)
	if cerrdefs.IsConflict(err) {
		// Five random characters met their match: draw again.
		name = containerName(w, sp.image.revision)
		created, err = deps.Docker.ContainerCreate(ctx, cfg, host, nil, nil, name)
	}
	if err != nil {
		return instance{}, fmt.Errorf("creating container of %s: %w", sp.image.display, err)
	}
	deps.Log.V(1).Info("Created container", "container", name, "revision", sp.image.revision)
	if err := deps.Docker.ContainerStart(ctx, created.ID, container.StartOptions{}); err != nil {
		docker.RemoveQuietly(ctx, deps.Docker, deps.Log, created.ID, name, removeTimeout)
		return instance{}, fmt.Errorf("starting container %s: %w", name, err)
	}
	insp, err := deps.Docker.ContainerInspect(ctx, created.ID)
	if err != nil {
		docker.RemoveQuietly(ctx, deps.Docker, deps.Log, created.ID, name, removeTimeout)
		return instance{}, fmt.Errorf("inspecting container %s: %w", name, err)
	}
	in := instance{
		ID: created.ID, Name: name, Revision: sp.image.revision, ConfigHash: sp.hash, Rollout: rollout,
		ImageID: insp.Image, State: "running", Created: time.Now().Unix(), addrs: map[nat.Port]string{},
	}
	if insp.NetworkSettings != nil {
		in.ip = docker.ContainerIP(insp.NetworkSettings.Networks, nil)
		for p, bindings := range insp.NetworkSettings.Ports {
			for _, b := range bindings {
				if b.HostPort != "" {
					in.addrs[p] = net.JoinHostPort(loopback, b.HostPort)
					break
				}
			}
		}
	}
	deps.Log.Info("Started container", "container", name, "revision", sp.image.revision, "endpoints", in.endpoints(), "ip", in.ip)
	return in, nil
}

// ensureVolumes creates the workload's named volumes that do not exist yet
// and returns the mounts of the container.
func ensureVolumes(ctx context.Context, cli docker.API, sp *runSpec) ([]mount.Mount, error) {
	var mounts []mount.Mount
	for _, v := range sp.set.Volumes {
		m := mount.Mount{Target: v.MountPath, ReadOnly: v.ReadOnly}
		if v.HostPath != "" {
			m.Type, m.Source = mount.TypeBind, v.HostPath
			mounts = append(mounts, m)
			continue
		}
		name := volumeName(sp.w, v.Name)
		// Creating a volume that exists returns it as it is.
		vol, err := cli.VolumeCreate(ctx, volume.CreateOptions{Name: name, Labels: docker.Labels(sp.w.Namespace, sp.w.Name, "", "")})
		if err != nil {
			return nil, fmt.Errorf("creating volume %s: %w", name, err)
		}
		if vol.Labels[docker.LabelNamespace] != sp.w.Namespace || vol.Labels[docker.LabelWorkload] != sp.w.Name {
			return nil, fmt.Errorf("volume %s exists and does not belong to workload %s/%s", name, sp.w.Namespace, sp.w.Name)
		}
		m.Type, m.Source = mount.TypeVolume, name
		mounts = append(mounts, m)
	}
	return mounts, nil
}
