package image

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/tinyforge/tinyforge/internal/docker"
	"github.com/tinyforge/tinyforge/plugins"
	"github.com/tinyforge/tinyforge/plugins/source/internal/health"
)

// configPath is where the config sits in a Workload, for messages.
var configPath = field.NewPath("spec", "source", "config")

// Deploy makes the image of intent the running revision of w.
//
// The image is intent.Image when set (a registry trigger's digest, a
// rollback), else the digest or image ID in intent.Revision, else the
// configured reference; its revision is its registry digest, or its image
// ID for an image never pulled from a registry.
//
// A running container of that revision and the same config hash is reused
// (a retried or repeated deploy, a controller restart mid-deploy) once it
// passes the health check; otherwise a new container is started. BlueGreen
// waits for it to be healthy, points the routes at it, drains and removes
// every other container of the workload; an unhealthy one is removed and
// the others keep serving. Recreate stops the others first. The end state
// is one running container of the revision.
func (s *Source) Deploy(ctx context.Context, deps plugins.Deps, w plugins.Workload, intent plugins.DeploymentIntent) (plugins.DeployResult, error) {
	start := time.Now()
	set, errs := parseConfig(configPath, w.Config)
	if len(errs) > 0 {
		return plugins.DeployResult{Revision: intent.Revision}, fmt.Errorf("invalid config: %w", errs.ToAggregate())
	}
	pctx, cancel := health.ProgressContext(ctx, w.Strategy.ProgressDeadline)
	defer cancel()

	img, err := resolveImage(pctx, deps, w, set, intent)
	if err != nil {
		return plugins.DeployResult{Revision: intent.Revision}, fmt.Errorf("resolving the image: %w", deployCause(pctx, err))
	}
	sp, err := newRunSpec(w, set, img)
	if err != nil {
		return plugins.DeployResult{Revision: img.revision}, err
	}
	d := &deployment{
		deps:    deps,
		log:     deps.Log.WithValues("revision", img.revision, "rollout", intent.Rollout),
		w:       w,
		sp:      sp,
		rollout: intent.Rollout,
		start:   start,
	}
	d.log.Info("Deploying", "image", img.display, "strategy", w.Strategy.Type, "configHash", sp.hash)
	if w.Strategy.Type == plugins.StrategyRecreate {
		return d.recreate(ctx, pctx)
	}
	return d.blueGreen(ctx, pctx)
}

// deployment is one Deploy call's working state.
type deployment struct {
	deps    plugins.Deps
	log     logr.Logger
	w       plugins.Workload
	sp      *runSpec
	rollout string
	start   time.Time
}

func (d *deployment) revision() string { return d.sp.image.revision }

// blueGreen starts (or reuses) the new container beside the old ones,
// switches the routes once it is healthy, then retires the old ones.
func (d *deployment) blueGreen(ctx, pctx context.Context) (plugins.DeployResult, error) {
	res := plugins.DeployResult{Revision: d.revision()}
	existing, err := listInstances(pctx, d.deps.Docker, d.w)
	if err != nil {
		return res, err
	}
	cur, reused := d.reuse(pctx, existing)
	if !reused {
		if cur, err = d.startHealthy(ctx, pctx); err != nil {
			serving := "nothing else was running"
			if slices.ContainsFunc(existing, instance.running) {
				serving = "the previous containers keep serving"
			}
			return res, fmt.Errorf("%w; %s", err, serving)
		}
	}
	return d.finish(ctx, cur, reused, othersRunning(existing, cur))
}

// othersRunning reports whether a container other than cur ran.
func othersRunning(existing []instance, cur instance) bool {
	return slices.ContainsFunc(existing, func(in instance) bool { return in.ID != cur.ID && in.running() })
}

// recreate stops every container of the workload before starting the new
// one, unless a healthy container of the revision is already running.
func (d *deployment) recreate(ctx, pctx context.Context) (plugins.DeployResult, error) {
	res := plugins.DeployResult{Revision: d.revision()}
	existing, err := listInstances(pctx, d.deps.Docker, d.w)
	if err != nil {
		return res, err
	}
	cur, reused := d.reuse(pctx, existing)
	if reused {
		return d.finish(ctx, cur, true, othersRunning(existing, cur))
	}
	ran := othersRunning(existing, instance{})
	if ran {
		// The routes answer 503 until the new container is healthy.
		if err := clearRoutes(ctx, d.deps, d.w); err != nil {
			return res, err
		}
		drain(ctx, d.deps, d.w, existing)
	}
	if _, err := removeAll(ctx, d.deps, existing, ""); err != nil {
		return res, fmt.Errorf("stopping the previous containers: %w", err)
	}
	if cur, err = d.startHealthy(ctx, pctx); err != nil {
		if ran {
			return res, fmt.Errorf("%w; nothing is running: the Recreate strategy removed the previous containers first", err)
		}
		return res, fmt.Errorf("%w; nothing is running", err)
	}
	return d.finish(ctx, cur, false, ran)
}

// reuse returns a running container of the revision and config hash that
// passes the health check, preferring one of this rollout, then the
// newest. One that fails is left for finish to remove.
func (d *deployment) reuse(pctx context.Context, existing []instance) (instance, bool) {
	var found []instance
	for _, in := range existing {
		if in.running() && in.Revision == d.revision() && in.ConfigHash == d.sp.hash {
			found = append(found, in)
		}
	}
	slices.SortStableFunc(found, func(a, b instance) int {
		if (a.Rollout == d.rollout) != (b.Rollout == d.rollout) {
			if a.Rollout == d.rollout {
				return -1
			}
			return 1
		}
		return cmp.Compare(b.Created, a.Created)
	})
	for _, in := range found {
		if err := waitHealthy(pctx, d.deps, d.sp, in); err != nil {
			d.log.Info("Not reusing a container of the revision", "container", in.Name, "reason", err.Error())
			if pctx.Err() != nil {
				break
			}
			continue
		}
		d.log.Info("Reusing the running container of the revision", "container", in.Name)
		return in, true
	}
	return instance{}, false
}

// startHealthy starts a container and waits until it is healthy; one that
// is not is removed.
func (d *deployment) startHealthy(ctx, pctx context.Context) (instance, error) {
	in, err := startContainer(pctx, d.deps, d.sp, d.rollout)
	if err != nil {
		return instance{}, deployCause(pctx, err)
	}
	if err := waitHealthy(pctx, d.deps, d.sp, in); err != nil {
		docker.RemoveQuietly(ctx, d.deps.Docker, d.deps.Log, in.ID, in.Name, removeTimeout)
		d.log.Info("New container is not healthy; removed it", "container", in.Name, "reason", err.Error())
		return instance{}, fmt.Errorf("revision %s (%s) did not become healthy, its container was removed: %w",
			d.revision(), d.sp.image.display, err)
	}
	return in, nil
}

// finish points the routes at cur, then drains and removes every other
// container of the workload. Whether reused is, and whether other
// containers ran before (replaced), decide the action reported.
func (d *deployment) finish(ctx context.Context, cur instance, reused, replaced bool) (plugins.DeployResult, error) {
	res := plugins.DeployResult{Revision: d.revision(), Endpoints: cur.endpoints()}
	healthyAt := time.Since(d.start)
	if err := setRoutes(ctx, d.deps, d.w, cur); err != nil {
		// Both revisions stay: a retry reuses the new container.
		return res, err
	}
	// Listed again: whatever is not cur goes, even if it appeared since.
	var removed []string
	others, rmErr := listInstances(ctx, d.deps.Docker, d.w)
	if rmErr == nil {
		others = slices.DeleteFunc(others, func(in instance) bool { return in.ID == cur.ID })
		drain(ctx, d.deps, d.w, others)
		removed, rmErr = removeAll(ctx, d.deps, others, cur.ID)
	}

	action := plugins.ServiceReplaced
	switch {
	case reused && !replaced:
		action = plugins.ServiceUnchanged
	case !replaced:
		action = plugins.ServiceCreated
	}
	res.Services = []plugins.ServiceResult{{Name: cur.Name, Action: action,
		BlueGreen: action == plugins.ServiceReplaced && d.w.Strategy.Type != plugins.StrategyRecreate}}
	var msg strings.Builder
	if reused {
		fmt.Fprintf(&msg, "revision %s already runs in %s", shortID(d.revision()), cur.Name)
	} else {
		fmt.Fprintf(&msg, "started %s (revision %s), healthy after %v", cur.Name, shortID(d.revision()), healthyAt.Round(time.Millisecond))
	}
	if n := len(d.w.Routes); n > 0 {
		fmt.Fprintf(&msg, "; %d route(s) set", n)
	}
	if len(removed) > 0 {
		fmt.Fprintf(&msg, "; removed %s", strings.Join(removed, ", "))
	}
	if rmErr != nil {
		// The revision serves: leftovers are Reconcile's to remove.
		fmt.Fprintf(&msg, "; could not remove old containers: %v", rmErr)
		d.log.Error(rmErr, "Removing old containers")
	}
	res.Message = msg.String()
	d.log.Info("Deployed", "container", cur.Name, "action", action, "removed", removed,
		"duration", time.Since(d.start).Round(time.Millisecond))
	return res, nil
}

// removeAll stops and removes the containers but keep, concurrently, and
// returns the names of those removed.
func removeAll(ctx context.Context, deps plugins.Deps, list []instance, keep string) ([]string, error) {
	var (
		mu      sync.Mutex
		removed []string
		errs    []error
		wg      sync.WaitGroup
	)
	for _, in := range list {
		if in.ID == keep {
			continue
		}
		wg.Go(func() {
			err := docker.StopAndRemove(ctx, deps.Docker, in.ID)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, fmt.Errorf("container %s: %w", in.Name, err))
				return
			}
			removed = append(removed, in.Name)
			deps.Log.Info("Removed container", "container", in.Name, "revision", in.Revision)
		})
	}
	wg.Wait()
	slices.Sort(removed)
	return removed, errors.Join(errs...)
}

// deployCause replaces a context error by the context's cause, which
// names the progress deadline.
func deployCause(ctx context.Context, err error) error {
	if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
		return fmt.Errorf("%w (%v)", context.Cause(ctx), err)
	}
	return err
}
