package image

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	cerrdefs "github.com/containerd/errdefs"

	"github.com/tinyforge/tinyforge/plugins"
	"github.com/tinyforge/tinyforge/plugins/source/internal/health"
)

// LocalImage is an image already on the Docker host, built by another
// source (the static source builds one per revision), that the image
// source's machinery runs under a revision of that source's choosing.
type LocalImage struct {
	// ID is the image ID (sha256:…) containers are created from.
	ID string
	// Revision is the revision label of the containers: the other source's
	// revision, not the image ID.
	Revision string
}

// LocalDeploy is what DeployLocal runs, and how.
type LocalDeploy struct {
	// Config is the image source config of the containers. Its image names
	// the image in messages (a tag of it) and must parse as a reference;
	// pullPolicy and registryAuthSecret are ignored, since nothing is
	// pulled.
	Config Config
	// Image is the image to run and the revision to label it with.
	Image LocalImage
	// Rollout is the rollout label of the containers started.
	Rollout string
	// Start is when the deploy began: the workload's progress deadline
	// counts from it, so time spent building the image counts too. Zero
	// means now.
	Start time.Time
}

// DeployLocal deploys d.Image as the revision of w exactly as Deploy
// deploys an image it resolved: a running container of the revision and
// config is reused, else a new one is started, health-checked, routed,
// and the others drained and removed (blue-green), or the others are
// removed first (recreate). The containers carry d.Image.Revision, so
// Reconcile (through ReconcileLocal) and Teardown work on them as on any
// workload of the image source.
func DeployLocal(ctx context.Context, deps plugins.Deps, w plugins.Workload, d LocalDeploy) (plugins.DeployResult, error) {
	start := d.Start
	if start.IsZero() {
		start = time.Now()
	}
	res := plugins.DeployResult{Revision: d.Image.Revision}
	w, set, err := localWorkload(w, d.Config)
	if err != nil {
		return res, err
	}
	pctx, cancel := health.ProgressContextFrom(ctx, w.Strategy.ProgressDeadline, start)
	defer cancel()
	img, err := inspectLocal(pctx, deps, set, d.Image)
	if err != nil {
		return res, deployCause(pctx, err)
	}
	sp, err := newRunSpec(w, set, img)
	if err != nil {
		return res, err
	}
	dep := &deployment{
		deps:    deps,
		log:     deps.Log.WithValues("revision", img.revision, "rollout", d.Rollout),
		w:       w,
		sp:      sp,
		rollout: d.Rollout,
		start:   start,
	}
	dep.log.Info("Deploying", "image", img.display, "strategy", w.Strategy.Type, "configHash", sp.hash)
	if w.Strategy.Type == plugins.StrategyRecreate {
		return dep.recreate(ctx, pctx)
	}
	return dep.blueGreen(ctx, pctx)
}

// ReconcileLocal is Reconcile for a workload whose images another source
// builds, with cfg as the image source config of its containers (as in
// LocalDeploy.Config). Reconcile recreates a lost container from the
// image of a container of the revision that is left; when none is left
// (or its image is gone), image is called for the image of
// w.CurrentRevision, a container of it is started and awaited, and
// Reconcile then keeps and routes it and removes the rest. image is not
// called otherwise.
func ReconcileLocal(ctx context.Context, deps plugins.Deps, w plugins.Workload, cfg Config, image func(context.Context) (LocalImage, error)) (plugins.ReconcileResult, error) {
	w, set, err := localWorkload(w, cfg)
	if err != nil {
		return plugins.ReconcileResult{}, err
	}
	src := &Source{}
	if w.CurrentRevision == "" {
		return src.Reconcile(ctx, deps, w)
	}
	all, err := listInstances(ctx, deps.Docker, w)
	if err != nil {
		return plugins.ReconcileResult{}, err
	}
	usable, err := hasUsableInstance(ctx, deps, all, w.CurrentRevision)
	if err != nil || usable {
		if err != nil {
			return plugins.ReconcileResult{}, err
		}
		return src.Reconcile(ctx, deps, w)
	}

	why := "no container of the revision was found"
	li, err := image(ctx)
	if err != nil {
		return plugins.ReconcileResult{Message: fmt.Sprintf("%s; finding its image failed: %v", why, err)}, nil
	}
	li.Revision = w.CurrentRevision
	in, healthErr := startLocal(ctx, deps, w, set, li)
	switch {
	case in.ID == "":
		return plugins.ReconcileResult{Message: fmt.Sprintf("%s; recreating it failed: %v", why, healthErr)}, nil
	case errors.Is(healthErr, ErrExited):
		// As Reconcile does: the exited container shows why in its log
		// until the next attempt removes it.
		return plugins.ReconcileResult{Recreated: []string{in.Name},
			Message: fmt.Sprintf("%s; recreating it failed: %v", why, healthErr)}, nil
	}
	res, err := src.Reconcile(ctx, deps, w)
	res.Recreated = append([]string{in.Name}, res.Recreated...)
	note := fmt.Sprintf("%s; recreated it as %s", why, in.Name)
	if healthErr != nil {
		res.Healthy = false
		note = fmt.Sprintf("%s; recreated %s, which is not healthy: %v", why, in.Name, healthErr)
	}
	res.Message = note + "; " + res.Message
	deps.Log.Info("Recreated the container from the source's image", "container", in.Name, "revision", w.CurrentRevision)
	return res, err
}

// localWorkload puts cfg, set to use local images only, into w's config,
// and parses it.
func localWorkload(w plugins.Workload, cfg Config) (plugins.Workload, *settings, error) {
	cfg.PullPolicy, cfg.RegistryAuthSecret = PullNever, ""
	raw, err := json.Marshal(cfg)
	if err != nil {
		return w, nil, fmt.Errorf("encoding the container config: %w", err)
	}
	w.Config = raw
	set, errs := parseConfig(configPath, raw)
	if len(errs) > 0 {
		return w, nil, fmt.Errorf("invalid container config: %w", errs.ToAggregate())
	}
	return w, set, nil
}

// inspectLocal resolves li to the image it names, labelled with its
// revision.
func inspectLocal(ctx context.Context, deps plugins.Deps, set *settings, li LocalImage) (resolvedImage, error) {
	insp, err := deps.Docker.ImageInspect(ctx, li.ID)
	if err != nil {
		return resolvedImage{}, fmt.Errorf("inspecting image %s (%s): %w", set.Image, shortID(li.ID), err)
	}
	return resolvedImage{ref: insp.ID, display: set.Image, revision: li.Revision, inspect: insp}, nil
}

// hasUsableInstance reports whether a container of revision runs, or is
// left with its image, so Reconcile can recreate it by itself.
func hasUsableInstance(ctx context.Context, deps plugins.Deps, all []instance, revision string) (bool, error) {
	for _, in := range all {
		if in.Revision != revision {
			continue
		}
		if in.running() || in.State == "restarting" {
			return true, nil
		}
		if in.ImageID == "" {
			continue
		}
		_, err := deps.Docker.ImageInspect(ctx, in.ImageID)
		switch {
		case err == nil:
			return true, nil
		case !cerrdefs.IsNotFound(err):
			return false, fmt.Errorf("inspecting image %s: %w", shortID(in.ImageID), err)
		}
	}
	return false, nil
}

// startLocal starts a container of li and waits, within the progress
// deadline, until it is healthy. A container that started is returned
// even when it is not healthy, with the reason.
func startLocal(ctx context.Context, deps plugins.Deps, w plugins.Workload, set *settings, li LocalImage) (instance, error) {
	pctx, cancel := health.ProgressContext(ctx, w.Strategy.ProgressDeadline)
	defer cancel()
	img, err := inspectLocal(pctx, deps, set, li)
	if err != nil {
		return instance{}, err
	}
	sp, err := newRunSpec(w, set, img)
	if err != nil {
		return instance{}, err
	}
	in, err := startContainer(pctx, deps, sp, "")
	if err != nil {
		return instance{}, deployCause(pctx, err)
	}
	return in, waitHealthy(pctx, deps, sp, in)
}
