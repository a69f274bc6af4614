package image

import (
	"context"
	"errors"
	"fmt"

	"github.com/tinyforge/tinyforge/internal/docker"
	"github.com/tinyforge/tinyforge/plugins"
)

// Teardown removes the routes of w, then every container of the workload
// (stopped with its stop timeout, so requests in flight can finish), the
// networks labelled with it, and its volumes when w.RemoveVolumes is set.
// It does not need a valid config, and succeeds when nothing is left.
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
	removed, err := removeAll(ctx, deps, all, "")
	if err != nil {
		// Volumes and networks in use cannot go either.
		return errors.Join(append(errs, err)...)
	}

	networks, volumes, err := docker.RemoveNetworksAndVolumes(ctx, deps.Docker, docker.WorkloadFilter(w.Namespace, w.Name), w.RemoveVolumes)
	if err != nil {
		errs = append(errs, err)
	}
	deps.Log.Info("Torn down", "containers", removed, "networks", networks, "volumes", volumes)
	return errors.Join(errs...)
}
