package compose

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/go-connections/nat"

	"github.com/tinyforge/tinyforge/internal/docker"
	"github.com/tinyforge/tinyforge/plugins"
)

// The labels Docker Compose reads, which every container, network and
// volume of a stack carries besides TinyForge's own (internal/docker), so
// `docker compose ls` and `docker compose -p NAME ps` list the stack.
const (
	LabelProject     = "com.docker.compose.project"
	LabelService     = "com.docker.compose.service"
	LabelNumber      = "com.docker.compose.container-number"
	LabelOneoff      = "com.docker.compose.oneoff"
	LabelConfigHash  = "com.docker.compose.config-hash"
	LabelImage       = "com.docker.compose.image"
	LabelWorkingDir  = "com.docker.compose.project.working_dir"
	LabelConfigFiles = "com.docker.compose.project.config_files"
	LabelVersion     = "com.docker.compose.version"
	LabelDependsOn   = "com.docker.compose.depends_on"
	LabelNetwork     = "com.docker.compose.network"
	LabelVolume      = "com.docker.compose.volume"
)

// ComposeVersion is the com.docker.compose.version label: the version of
// compose-go that read the file, as Compose puts its own version there.
const ComposeVersion = "2.16.2"

// removeTimeout bounds the Docker calls of a cleanup that runs after the
// caller's context is done; a stop's own timeout comes on top.
const removeTimeout = 30 * time.Second

// instance is one container of the workload, as listed.
type instance struct {
	ID         string
	Name       string
	Project    string
	Service    string
	Number     int
	ConfigHash string
	ImageID    string
	Revision   string
	Rollout    string
	// Commit is the git commit of the compose file it was created from.
	Commit string
	// Services lists the stack's services at the revision it was created
	// for, comma-separated.
	Services string
	State    string
	// Status is Docker's status line, such as "Up 2 minutes (healthy)".
	Status  string
	Created int64
	// addrs maps a published container port ("8080/tcp") to an address on
	// 127.0.0.1; empty unless the container runs.
	addrs map[nat.Port]string
	// ip is the container's address on a project network the host routes
	// to (see networkIP); empty unless it runs with one.
	ip string
}

func (in instance) running() bool { return in.State == "running" }

// upstream returns where the proxy and the health checks reach TCP port p
// of the container: its own address on its network, which spares Docker's
// userland proxy, unless published is set (plugins.Deps.PublishedUpstreams)
// or it has none; else the loopback address p is published on.
func (in instance) upstream(p int32, published bool) (string, bool) {
	if in.ip != "" && !published {
		return net.JoinHostPort(in.ip, strconv.Itoa(int(p))), true
	}
	a, ok := in.addrs[tcpPort(p)]
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

// listInstances lists every container of w, running or not, oldest first.
func listInstances(ctx context.Context, cli docker.API, w plugins.Workload) ([]instance, error) {
	list, err := cli.ContainerList(ctx, container.ListOptions{All: true, Filters: docker.WorkloadFilter(w.Namespace, w.Name)})
	if err != nil {
		return nil, fmt.Errorf("listing containers of %s/%s: %w", w.Namespace, w.Name, err)
	}
	out := make([]instance, 0, len(list))
	internal := map[string]bool{}
	for _, c := range list {
		in := instance{
			ID:         c.ID,
			Project:    c.Labels[LabelProject],
			Service:    c.Labels[LabelService],
			ConfigHash: c.Labels[LabelConfigHash],
			ImageID:    c.Labels[LabelImage],
			Revision:   c.Labels[docker.LabelRevision],
			Rollout:    c.Labels[docker.LabelRollout],
			Commit:     c.Labels[LabelGitCommit],
			Services:   c.Labels[LabelServices],
			State:      string(c.State),
			Status:     c.Status,
			Created:    c.Created,
			addrs:      map[nat.Port]string{},
		}
		in.Number, _ = strconv.Atoi(c.Labels[LabelNumber])
		if in.ImageID == "" {
			in.ImageID = c.ImageID
		}
		if len(c.Names) > 0 {
			in.Name = strings.TrimPrefix(c.Names[0], "/")
		}
		if c.NetworkSettings != nil && in.running() {
			if in.ip, err = networkIP(ctx, cli, c.NetworkSettings.Networks, internal); err != nil {
				return nil, fmt.Errorf("container %s: %w", in.Name, err)
			}
		}
		for _, p := range c.Ports {
			port := nat.Port(fmt.Sprintf("%d/%s", p.PrivatePort, p.Type))
			if _, seen := in.addrs[port]; p.PublicPort != 0 && !seen && reachable(nat.PortBinding{HostIP: p.IP}) {
				in.addrs[port] = net.JoinHostPort(loopback, strconv.Itoa(int(p.PublicPort)))
			}
		}
		out = append(out, in)
	}
	slices.SortStableFunc(out, func(a, b instance) int { return cmp.Compare(a.Created, b.Created) })
	return out, nil
}

// byService groups containers by their compose service; those without
// one (strays) are under "".
func byService(list []instance) map[string][]instance {
	out := map[string][]instance{}
	for _, in := range list {
		out[in.Service] = append(out[in.Service], in)
	}
	return out
}

// containerName is Compose's name of a service's container number n.
func containerName(project, service string, n int) string {
	return fmt.Sprintf("%s-%s-%d", project, service, n)
}

// freeNumber returns the lowest container number no container of the
// service uses: a blue-green replacement of web-1 is web-2, and of web-2
// web-1 again.
func freeNumber(list []instance) int {
	for n := 1; ; n++ {
		if !slices.ContainsFunc(list, func(in instance) bool { return in.Number == n }) {
			return n
		}
	}
}

// containerLabels are the labels of a container of s: TinyForge's, the
// service's own, and Compose's.
func (st *stack) containerLabels(s *service, number int, rollout string) map[string]string {
	l := docker.Labels(st.w.Namespace, st.w.Name, st.revision, rollout)
	maps.Copy(l, s.cfg.Labels)
	maps.Copy(l, map[string]string{
		LabelProject:     st.project.Name,
		LabelService:     s.name,
		LabelNumber:      strconv.Itoa(number),
		LabelOneoff:      "False",
		LabelConfigHash:  s.hash,
		LabelImage:       s.image.id,
		LabelWorkingDir:  st.project.WorkingDir,
		LabelConfigFiles: strings.Join(st.project.ComposeFiles, ","),
		LabelVersion:     ComposeVersion,
		LabelDependsOn:   dependsOnLabel(s),
	})
	if st.commit != "" {
		l[LabelGitCommit] = st.commit
	}
	l[LabelServices] = strings.Join(slices.Sorted(maps.Keys(st.services)), ",")
	return l
}

// createContainer creates (without starting it) container number n of s,
// attached to its networks.
func createContainer(ctx context.Context, deps plugins.Deps, st *stack, s *service, number int, rollout string) (instance, error) {
	spec, err := st.containerSpec(s)
	if err != nil {
		return instance{}, err
	}
	spec.config.Labels = st.containerLabels(s, number, rollout)
	name := containerName(st.project.Name, s.name, number)
	var nc *network.NetworkingConfig
	if len(spec.networks) > 0 {
		nc = &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{spec.networks[0].name: spec.networks[0].endpoint}}
	}
	created, err := deps.Docker.ContainerCreate(ctx, spec.config, spec.host, nc, nil, name)
	switch {
	case cerrdefs.IsConflict(err):
		return instance{}, fmt.Errorf("creating container %s: the name is taken by a container that is not of this workload (another stack with project name %s?): %w",
			name, st.project.Name, err)
	case err != nil:
		return instance{}, fmt.Errorf("creating container %s: %w", name, err)
	}
	for _, a := range spec.networks[min(1, len(spec.networks)):] {
		if err := deps.Docker.NetworkConnect(ctx, a.name, created.ID, a.endpoint); err != nil {
			docker.RemoveQuietly(ctx, deps.Docker, deps.Log, created.ID, name, removeTimeout)
			return instance{}, fmt.Errorf("connecting container %s to network %s: %w", name, a.name, err)
		}
	}
	deps.Log.V(1).Info("Created container", "container", name, "service", s.name, "configHash", s.hash[:12])
	return instance{
		ID: created.ID, Name: name, Project: st.project.Name, Service: s.name, Number: number,
		ConfigHash: s.hash, ImageID: s.image.id, Revision: st.revision, Rollout: rollout,
		State: "created", Created: time.Now().Unix(), addrs: map[nat.Port]string{},
	}, nil
}

// startContainer starts a created container and records its addresses.
func startContainer(ctx context.Context, deps plugins.Deps, in *instance) error {
	if err := deps.Docker.ContainerStart(ctx, in.ID, container.StartOptions{}); err != nil {
		return fmt.Errorf("starting container %s: %w", in.Name, err)
	}
	insp, err := deps.Docker.ContainerInspect(ctx, in.ID)
	if err != nil {
		return fmt.Errorf("inspecting container %s: %w", in.Name, err)
	}
	if insp.State != nil {
		in.State = string(insp.State.Status)
	}
	in.addrs = map[nat.Port]string{}
	if insp.NetworkSettings != nil {
		if in.ip, err = networkIP(ctx, deps.Docker, insp.NetworkSettings.Networks, map[string]bool{}); err != nil {
			return fmt.Errorf("container %s: %w", in.Name, err)
		}
		for p, bindings := range insp.NetworkSettings.Ports {
			for _, b := range bindings {
				if b.HostPort != "" && reachable(nat.PortBinding{HostIP: b.HostIP}) {
					in.addrs[p] = net.JoinHostPort(loopback, b.HostPort)
					break
				}
			}
		}
	}
	deps.Log.Info("Started container", "container", in.Name, "service", in.Service, "endpoints", in.endpoints(), "ip", in.ip)
	return nil
}

// removeAll stops and removes the containers, concurrently, and returns
// the names of those removed.
func removeAll(ctx context.Context, deps plugins.Deps, list []instance) ([]string, error) {
	var (
		mu      sync.Mutex
		removed []string
		errs    []error
		wg      sync.WaitGroup
	)
	for _, in := range list {
		wg.Go(func() {
			err := docker.StopAndRemove(ctx, deps.Docker, in.ID)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, fmt.Errorf("container %s: %w", in.Name, err))
				return
			}
			removed = append(removed, in.Name)
			deps.Log.Info("Removed container", "container", in.Name, "service", in.Service)
		})
	}
	wg.Wait()
	slices.Sort(removed)
	return removed, errors.Join(errs...)
}
