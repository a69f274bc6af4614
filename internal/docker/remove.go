package docker

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/volume"
	"github.com/go-logr/logr"
)

// StopAndRemove stops the container with its own stop timeout (the one it
// was created with), so requests in flight can finish, then removes it
// with its anonymous volumes. A container already gone, or being removed
// by someone else, is no error.
func StopAndRemove(ctx context.Context, cli API, id string) error {
	if err := cli.ContainerStop(ctx, id, container.StopOptions{}); err != nil && !cerrdefs.IsNotFound(err) {
		// Removal kills it anyway; say why if that fails too.
		if rerr := cli.ContainerRemove(ctx, id, container.RemoveOptions{Force: true, RemoveVolumes: true}); rerr != nil && !cerrdefs.IsNotFound(rerr) {
			return errors.Join(fmt.Errorf("stopping: %w", err), fmt.Errorf("removing: %w", rerr))
		}
		return nil
	}
	err := cli.ContainerRemove(ctx, id, container.RemoveOptions{Force: true, RemoveVolumes: true})
	if err != nil && !cerrdefs.IsNotFound(err) && !IsRemovalInProgress(err) {
		return fmt.Errorf("removing: %w", err)
	}
	return nil
}

// IsRemovalInProgress matches Docker's answer when someone else (an
// earlier attempt, a person) is removing the same container.
func IsRemovalInProgress(err error) bool {
	return cerrdefs.IsConflict(err) && strings.Contains(err.Error(), "already in progress")
}

// RemoveQuietly force-removes a container that must not stay, on a context
// of its own bounded by timeout, since ctx may be what ended. Failures are
// logged only: the next deploy or reconcile removes what is left.
func RemoveQuietly(ctx context.Context, cli API, log logr.Logger, id, name string, timeout time.Duration) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	defer cancel()
	err := cli.ContainerRemove(ctx, id, container.RemoveOptions{Force: true, RemoveVolumes: true})
	if err != nil && !cerrdefs.IsNotFound(err) && !IsRemovalInProgress(err) {
		log.Error(err, "Removing container", "container", name)
	}
}

// RemoveNetworksAndVolumes removes the networks that filter matches and,
// with volumes set, the volumes it matches, and returns the names of those
// it removed. Docker refuses those still in use; each failure is in the
// joined error, and the others are still removed.
func RemoveNetworksAndVolumes(ctx context.Context, cli API, filter filters.Args, volumes bool) (networks, vols []string, err error) {
	var errs []error
	list, err := cli.NetworkList(ctx, network.ListOptions{Filters: filter})
	if err != nil {
		errs = append(errs, fmt.Errorf("listing networks: %w", err))
	}
	for _, n := range list {
		if err := cli.NetworkRemove(ctx, n.ID); err != nil && !cerrdefs.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("removing network %s: %w", n.Name, err))
			continue
		}
		networks = append(networks, n.Name)
	}
	if !volumes {
		return networks, nil, errors.Join(errs...)
	}
	vl, err := cli.VolumeList(ctx, volume.ListOptions{Filters: filter})
	if err != nil {
		errs = append(errs, fmt.Errorf("listing volumes: %w", err))
	}
	for _, v := range vl.Volumes {
		if err := cli.VolumeRemove(ctx, v.Name, false); err != nil && !cerrdefs.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("removing volume %s: %w", v.Name, err))
			continue
		}
		vols = append(vols, v.Name)
	}
	return networks, vols, errors.Join(errs...)
}
