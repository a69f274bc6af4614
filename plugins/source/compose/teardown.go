package compose

import (
	"context"
	"errors"
	"fmt"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/volume"

	"github.com/tinyforge/tinyforge/internal/docker"
	"github.com/tinyforge/tinyforge/plugins"
)

// Teardown removes the routes of w, then every container of the stack
// (stopped with its stop timeout, so requests in flight can finish), its
// networks, and its volumes when w.RemoveVolumes is set. Everything is
// found by the workload's labels: Teardown needs no valid config, leaves
// external networks alone, and succeeds when nothing is left.
func (s *Source) Teardown(ctx context.Context, deps plugins.Deps, w plugins.Workload) error {
	var errs []error
	if deps.Routes != nil {
		for _, r := range w.Routes {
			if err := deps.Routes.RemoveRoute(ctx, r.Key()); err != nil {
				errs = append(errs, fmt.Errorf("removing route %s: %w", r.Key(), err))
			}
		}
	}
	all, err := listInstances(ctx, deps.Docker, w)
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	removed, err := removeAll(ctx, deps, all)
	if err != nil {
		// Networks and volumes in use cannot go either.
		return errors.Join(append(errs, err)...)
	}

	filter := docker.WorkloadFilter(w.Namespace, w.Name)
	networks, err := deps.Docker.NetworkList(ctx, network.ListOptions{Filters: filter})
	if err != nil {
		errs = append(errs, fmt.Errorf("listing networks: %w", err))
	}
	var nets []string
	for _, n := range networks {
		if err := deps.Docker.NetworkRemove(ctx, n.ID); err != nil && !cerrdefs.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("removing network %s: %w", n.Name, err))
			continue
		}
		nets = append(nets, n.Name)
	}
	var volumes []string
	if w.RemoveVolumes {
		list, err := deps.Docker.VolumeList(ctx, volume.ListOptions{Filters: filter})
		if err != nil {
			errs = append(errs, fmt.Errorf("listing volumes: %w", err))
		}
		for _, v := range list.Volumes {
			if err := deps.Docker.VolumeRemove(ctx, v.Name, false); err != nil && !cerrdefs.IsNotFound(err) {
				errs = append(errs, fmt.Errorf("removing volume %s: %w", v.Name, err))
				continue
			}
			volumes = append(volumes, v.Name)
		}
	}
	deps.Log.Info("Torn down", "containers", removed, "networks", nets, "volumes", volumes)
	return errors.Join(errs...)
}
