package image

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	cerrdefs "github.com/containerd/errdefs"

	"github.com/tinyforge/tinyforge/plugins"
	"github.com/tinyforge/tinyforge/plugins/source/internal/health"
)

// Reconcile keeps one container of w.CurrentRevision running and routed.
//
// Containers of other revisions (leftovers of an interrupted deploy, strays)
// are removed. When no container of the revision runs (it crashed for good,
// exited, or was removed by hand), a new one is created from the same image
// and the workload's current spec, awaited as a deploy awaits it, and
// reported in Recreated. A container Docker is restarting is left to Docker
// and reported unhealthy. The routes are published again in every case: the
// proxy's table lives in memory.
func (s *Source) Reconcile(ctx context.Context, deps plugins.Deps, w plugins.Workload) (plugins.ReconcileResult, error) {
	if w.CurrentRevision == "" {
		return plugins.ReconcileResult{Message: "no revision is deployed yet"}, nil
	}
	set, errs := parseConfig(configPath, w.Config)
	if len(errs) > 0 {
		return plugins.ReconcileResult{}, fmt.Errorf("invalid config: %w", errs.ToAggregate())
	}
	log := deps.Log.WithValues("revision", w.CurrentRevision)
	all, err := listInstances(ctx, deps.Docker, w)
	if err != nil {
		return plugins.ReconcileResult{}, err
	}

	var current, stale []instance
	for _, in := range all {
		if in.Revision == w.CurrentRevision {
			current = append(current, in)
		} else {
			stale = append(stale, in)
		}
	}
	keep, ok := pickCurrent(current, configHash(set, w))
	restarting := slices.IndexFunc(current, func(in instance) bool { return in.State == "restarting" })
	switch {
	case ok:
		stale = append(stale, slices.DeleteFunc(current, func(in instance) bool { return in.ID == keep.ID })...)
	case restarting < 0:
		// Those of the revision stopped for good and make way for a new one.
		stale = append(stale, current...)
	}
	removed, rmErr := removeAll(ctx, deps, stale, "")
	if len(removed) > 0 {
		log.Info("Removed leftover containers", "removed", removed)
	}
	if !ok && restarting >= 0 {
		// Docker's restart policy brings it back; a new one would not fare
		// better.
		r := current[restarting]
		return plugins.ReconcileResult{Message: fmt.Sprintf("container %s is restarting (%s)", r.Name, r.Status)}, nil
	}

	res := plugins.ReconcileResult{Healthy: true}
	var notes []string
	if !ok {
		why := "no container of the revision was found"
		if n := len(current); n > 0 {
			why = fmt.Sprintf("container %s stopped (%s)", current[n-1].Name, current[n-1].Status)
		}
		in, err := recreate(ctx, deps, w, set, current)
		if in.ID != "" {
			res.Recreated = []string{in.Name}
			keep = in
		}
		if err != nil {
			log.Info("Recreating the container failed", "reason", why, "error", err.Error())
			if in.ID == "" || errors.Is(err, ErrExited) {
				return plugins.ReconcileResult{Recreated: res.Recreated, Message: fmt.Sprintf("%s; recreating it failed: %v", why, err)}, nil
			}
			// Running but unhealthy: it is all there is to route to.
			res.Healthy = false
			notes = append(notes, fmt.Sprintf("%s; recreated %s, which is not healthy: %v", why, in.Name, err))
		} else {
			log.Info("Recreated the container", "container", in.Name, "reason", why)
			notes = append(notes, fmt.Sprintf("%s; recreated it as %s", why, in.Name))
		}
	} else if strings.Contains(keep.Status, "(unhealthy)") {
		res.Healthy = false
		notes = append(notes, fmt.Sprintf("container %s is unhealthy (%s)", keep.Name, keep.Status))
	}
	if err := setRoutes(ctx, deps, w, keep); err != nil {
		return res, err
	}
	res.Endpoints = keep.endpoints()
	if len(removed) > 0 {
		notes = append(notes, "removed "+strings.Join(removed, ", "))
	}
	if rmErr != nil {
		notes = append(notes, fmt.Sprintf("could not remove old containers: %v", rmErr))
	}
	if len(notes) == 0 {
		notes = append(notes, fmt.Sprintf("revision %s runs in %s", shortID(w.CurrentRevision), keep.Name))
	}
	res.Message = strings.Join(notes, "; ")
	return res, nil
}

// pickCurrent chooses the running container to keep among those of the
// current revision: one of the current config, else the newest.
func pickCurrent(current []instance, hash string) (instance, bool) {
	var best instance
	found := false
	for _, in := range current {
		if !in.running() {
			continue
		}
		better := !found ||
			(in.ConfigHash == hash) != (best.ConfigHash == hash) && in.ConfigHash == hash ||
			(in.ConfigHash == hash) == (best.ConfigHash == hash) && in.Created >= best.Created
		if better {
			best, found = in, true
		}
	}
	return best, found
}

// recreate starts a new container of the current revision and waits until
// it is healthy, within the progress deadline. On a health failure the
// container is returned with the error and left in place: a running one is
// routed, an exited one shows why in its log until the next attempt
// removes it.
func recreate(ctx context.Context, deps plugins.Deps, w plugins.Workload, set *settings, previous []instance) (instance, error) {
	pctx, cancel := health.ProgressContext(ctx, w.Strategy.ProgressDeadline)
	defer cancel()
	img, err := imageOfRevision(pctx, deps, w, set, previous)
	if err != nil {
		return instance{}, err
	}
	sp, err := newRunSpec(w, set, img)
	if err != nil {
		return instance{}, err
	}
	rollout := ""
	if n := len(previous); n > 0 {
		rollout = previous[n-1].Rollout
	}
	in, err := startContainer(pctx, deps, sp, rollout)
	if err != nil {
		return instance{}, deployCause(pctx, err)
	}
	return in, waitHealthy(pctx, deps, sp, in)
}

// imageOfRevision finds the image of w.CurrentRevision: the image of a
// container of it that is still there, else the revision's digest or ID.
func imageOfRevision(ctx context.Context, deps plugins.Deps, w plugins.Workload, set *settings, previous []instance) (resolvedImage, error) {
	for _, in := range slices.Backward(previous) {
		if in.ImageID == "" {
			continue
		}
		insp, err := deps.Docker.ImageInspect(ctx, in.ImageID)
		if err == nil {
			return resolvedImage{ref: insp.ID, display: set.Image, revision: w.CurrentRevision, inspect: insp}, nil
		}
		if !cerrdefs.IsNotFound(err) {
			return resolvedImage{}, fmt.Errorf("inspecting image %s: %w", in.ImageID, err)
		}
	}
	if !looksLikeDigest(w.CurrentRevision) {
		return resolvedImage{}, fmt.Errorf("current revision %q is no image digest or ID: deploy the workload again", w.CurrentRevision)
	}
	img, err := imageForRevision(ctx, deps, w, set, w.CurrentRevision)
	if err != nil {
		return resolvedImage{}, err
	}
	img.revision = w.CurrentRevision
	return img, nil
}
