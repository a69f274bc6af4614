package compose

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/volume"

	"github.com/tinyforge/tinyforge/internal/docker"
	"github.com/tinyforge/tinyforge/plugins"
)

// usedNetworks returns the keys of the project networks that enabled
// services attach to, sorted.
func (st *stack) usedNetworks() []string {
	used := map[string]bool{}
	for _, s := range st.services {
		if s.cfg.NetworkMode == "none" {
			continue
		}
		for key := range s.cfg.Networks {
			used[key] = true
		}
	}
	return slices.Sorted(maps.Keys(used))
}

// usedVolumes returns the keys of the project volumes that enabled
// services mount, sorted.
func (st *stack) usedVolumes() []string {
	used := map[string]bool{}
	for _, s := range st.services {
		for _, v := range s.cfg.Volumes {
			if v.Source != "" && v.Type == "volume" {
				used[v.Source] = true
			}
		}
	}
	return slices.Sorted(maps.Keys(used))
}

// ensureNetworks creates the project networks the services use, named
// <project>_<key> unless the file names them, and checks that external
// ones exist. A network of that name must belong to the workload, and have
// the file's driver and internal setting: a changed one is not recreated
// under running containers.
func ensureNetworks(ctx context.Context, deps plugins.Deps, st *stack) error {
	existing, err := deps.Docker.NetworkList(ctx, network.ListOptions{Filters: docker.WorkloadFilter(st.w.Namespace, st.w.Name)})
	if err != nil {
		return fmt.Errorf("listing networks: %w", err)
	}
	for _, key := range st.usedNetworks() {
		n := st.project.Networks[key]
		if n.External {
			if _, err := deps.Docker.NetworkInspect(ctx, n.Name, network.InspectOptions{}); err != nil {
				if cerrdefs.IsNotFound(err) {
					return fmt.Errorf("%w: external network %s (networks.%s) does not exist", ErrInvalidCompose, n.Name, key)
				}
				return fmt.Errorf("inspecting external network %s: %w", n.Name, err)
			}
			continue
		}
		driver := n.Driver
		if driver == "" {
			driver = "bridge"
		}
		if i := slices.IndexFunc(existing, func(e network.Summary) bool { return e.Name == n.Name }); i >= 0 {
			e := existing[i]
			if e.Driver != driver || e.Internal != n.Internal {
				return fmt.Errorf("%w: network %s exists with driver %s, internal %t, but networks.%s now says driver %s, internal %t: "+
					"Docker cannot change a network under running containers (rename the network, or delete and re-create the workload)",
					ErrInvalidCompose, n.Name, e.Driver, e.Internal, key, driver, n.Internal)
			}
			continue
		}
		if _, err := deps.Docker.NetworkInspect(ctx, n.Name, network.InspectOptions{}); err == nil {
			return fmt.Errorf("network %s exists and does not belong to workload %s/%s", n.Name, st.w.Namespace, st.w.Name)
		} else if !cerrdefs.IsNotFound(err) {
			return fmt.Errorf("inspecting network %s: %w", n.Name, err)
		}
		labels := docker.Labels(st.w.Namespace, st.w.Name, "", "")
		maps.Copy(labels, n.Labels)
		maps.Copy(labels, map[string]string{LabelProject: st.project.Name, LabelNetwork: key, LabelVersion: ComposeVersion})
		if _, err := deps.Docker.NetworkCreate(ctx, n.Name, network.CreateOptions{Driver: driver, Internal: n.Internal, Labels: labels}); err != nil {
			return fmt.Errorf("creating network %s: %w", n.Name, err)
		}
		deps.Log.Info("Created network", "network", n.Name)
	}
	return nil
}

// ensureVolumes creates the project volumes the services mount, named
// <project>_<key> unless the file names them. Creating a volume that
// exists returns it as it is; it must belong to the workload.
func ensureVolumes(ctx context.Context, deps plugins.Deps, st *stack) error {
	for _, key := range st.usedVolumes() {
		v := st.project.Volumes[key]
		labels := docker.Labels(st.w.Namespace, st.w.Name, "", "")
		maps.Copy(labels, v.Labels)
		maps.Copy(labels, map[string]string{LabelProject: st.project.Name, LabelVolume: key, LabelVersion: ComposeVersion})
		vol, err := deps.Docker.VolumeCreate(ctx, volume.CreateOptions{Name: v.Name, Driver: v.Driver, DriverOpts: v.DriverOpts, Labels: labels})
		if err != nil {
			return fmt.Errorf("creating volume %s: %w", v.Name, err)
		}
		if vol.Labels[docker.LabelNamespace] != st.w.Namespace || vol.Labels[docker.LabelWorkload] != st.w.Name {
			return fmt.Errorf("volume %s exists and does not belong to workload %s/%s", v.Name, st.w.Namespace, st.w.Name)
		}
	}
	return nil
}

// removeUnusedNetworks removes the workload's networks that the project no
// longer uses (a network dropped from the file, or a renamed project).
func removeUnusedNetworks(ctx context.Context, deps plugins.Deps, st *stack) ([]string, error) {
	existing, err := deps.Docker.NetworkList(ctx, network.ListOptions{Filters: docker.WorkloadFilter(st.w.Namespace, st.w.Name)})
	if err != nil {
		return nil, fmt.Errorf("listing networks: %w", err)
	}
	keep := map[string]bool{}
	for _, key := range st.usedNetworks() {
		keep[st.project.Networks[key].Name] = true
	}
	var removed []string
	var errs []error
	for _, n := range existing {
		if keep[n.Name] {
			continue
		}
		if err := deps.Docker.NetworkRemove(ctx, n.ID); err != nil && !cerrdefs.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("removing network %s: %w", n.Name, err))
			continue
		}
		removed = append(removed, n.Name)
	}
	return removed, errors.Join(errs...)
}

// networkIP returns the container's address on the first of networks (its
// NetworkSettings.Networks), in name order, that is not internal: Docker
// need not give the host an address on an internal network, so the host
// may not reach it there. "" when there is none. internal caches what
// NetworkInspect said by network name, across the containers of a listing;
// a network gone meanwhile counts as internal.
func networkIP(ctx context.Context, cli docker.API, networks map[string]*network.EndpointSettings, internal map[string]bool) (string, error) {
	var errs []error
	ip := docker.ContainerIP(networks, func(name string) bool {
		in, ok := internal[name]
		if !ok {
			ref := name
			if id := networks[name].NetworkID; id != "" {
				ref = id
			}
			n, err := cli.NetworkInspect(ctx, ref, network.InspectOptions{})
			switch {
			case cerrdefs.IsNotFound(err):
				in = true
			case err != nil:
				errs = append(errs, fmt.Errorf("inspecting network %s: %w", name, err))
				return false
			default:
				in = n.Internal
			}
			internal[name] = in
		}
		return !in
	})
	if len(errs) > 0 {
		// Not the next network's address: that would move the route.
		return "", errors.Join(errs...)
	}
	return ip, nil
}
