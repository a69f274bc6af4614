package static

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/tinyforge/tinyforge/internal/git"
	"github.com/tinyforge/tinyforge/plugins"
	imagesource "github.com/tinyforge/tinyforge/plugins/source/image"
	"github.com/tinyforge/tinyforge/plugins/source/internal/health"
)

// configPath is where the config sits in a Workload, for messages.
var configPath = field.NewPath("spec", "source", "config")

// Deploy makes the site at the commit intent names (see plan) the running
// revision of w: it builds the revision's image unless it exists, then
// deploys it as the image source does, blue-green (or recreate) behind the
// workload's health check, every route going to the config's port. The
// previous revision keeps serving when anything fails, the build included.
// Once the revision serves, the images of the revisions it replaced are
// removed. Deploying the revision that runs is a no-op.
func (s *Source) Deploy(ctx context.Context, deps plugins.Deps, w plugins.Workload, intent plugins.DeploymentIntent) (plugins.DeployResult, error) {
	start := time.Now()
	set, errs := parseConfig(configPath, w.Config)
	if len(errs) > 0 {
		return plugins.DeployResult{Revision: intent.Revision}, fmt.Errorf("invalid config: %w", errs.ToAggregate())
	}
	log := deps.Log.WithValues("rollout", intent.Rollout)
	pctx, cancel := health.ProgressContextFrom(ctx, w.Strategy.ProgressDeadline, start)
	defer cancel()
	log.Info("Deploying a static site", "source", set.describe(), "intentRevision", intent.Revision)

	p, err := plan(pctx, deps, w, set, intent, log)
	if err != nil {
		rev := p.revision
		if rev == "" || p.target.commit == "" {
			rev = intent.Revision
		}
		if pctx.Err() != nil && !errors.Is(err, imagesource.ErrProgressDeadline) {
			err = fmt.Errorf("%w: %w", context.Cause(pctx), err)
		}
		return plugins.DeployResult{Revision: rev}, &untouchedError{err: err, deployed: w.CurrentRevision != ""}
	}
	before, err := containerRevisions(ctx, deps.Docker, w)
	if err != nil {
		return plugins.DeployResult{Revision: p.revision}, err
	}
	res, err := imagesource.DeployLocal(ctx, deps, routed(w, set), imagesource.LocalDeploy{
		Config:  containerConfig(w, set, p.revision),
		Image:   imagesource.LocalImage{ID: p.imageID, Revision: p.revision},
		Rollout: intent.Rollout,
		Start:   start,
	})
	if err != nil {
		if p.revision != w.CurrentRevision {
			// The containers of a failed revision are gone; so goes its
			// image, unless one still uses it.
			_, _ = removeImages(ctx, deps, w, []string{p.revision}, "")
		}
		return res, err
	}
	res.Revision = p.revision
	old := append(before, w.CurrentRevision)
	removed, _ := removeImages(ctx, deps, w, old, p.revision)
	res.Message = summary(p, removed) + "; " + res.Message
	return res, nil
}

// untouchedError is a deploy that failed before touching any container.
// Its first line says so, before the build output an error may quote.
type untouchedError struct {
	err      error
	deployed bool
}

func (e *untouchedError) Error() string {
	first, rest, multiline := strings.Cut(e.err.Error(), "\n")
	if e.deployed {
		first += "; the previous revision keeps serving"
	} else {
		first += "; nothing was deployed"
	}
	if multiline {
		return first + "\n" + rest
	}
	return first
}

func (e *untouchedError) Unwrap() error { return e.err }

// summary is the first part of the result's message: what was served and
// whether it was built.
func summary(p sitePlan, removedImages []string) string {
	s := fmt.Sprintf("commit %s", shorten(p.target.commit, revisionCommitLength))
	if p.target.commit == "" {
		s = "revision " + p.revision
	}
	if p.target.ref != "" {
		s += " of " + p.target.ref
	}
	if p.built > 0 {
		s += fmt.Sprintf(", image built in %v", p.built.Round(time.Millisecond))
	}
	if n := len(removedImages); n > 0 {
		s += fmt.Sprintf(", %d old image(s) removed", n)
	}
	return s
}

// Reconcile keeps one container of w.CurrentRevision running and routed,
// as the image source does. When no container of the revision is left to
// take its image from, the revision's image is used, and rebuilt from its
// commit when it is gone too (only while the config is the one it was
// built with). Images of revisions whose containers it removed go too.
func (s *Source) Reconcile(ctx context.Context, deps plugins.Deps, w plugins.Workload) (plugins.ReconcileResult, error) {
	if w.CurrentRevision == "" {
		return plugins.ReconcileResult{Message: "no revision is deployed yet"}, nil
	}
	set, errs := parseConfig(configPath, w.Config)
	if len(errs) > 0 {
		return plugins.ReconcileResult{}, fmt.Errorf("invalid config: %w", errs.ToAggregate())
	}
	before, err := containerRevisions(ctx, deps.Docker, w)
	if err != nil {
		return plugins.ReconcileResult{}, err
	}
	log := deps.Log.WithValues("revision", w.CurrentRevision)
	res, err := imagesource.ReconcileLocal(ctx, deps, routed(w, set), containerConfig(w, set, w.CurrentRevision),
		func(ctx context.Context) (imagesource.LocalImage, error) {
			return imageOfRevision(ctx, deps, w, set, log)
		})
	if err == nil {
		if removed, _ := removeImages(ctx, deps, w, before, w.CurrentRevision); len(removed) > 0 {
			log.Info("Removed images of old revisions", "revisions", removed)
		}
	}
	return res, err
}

// imageOfRevision finds the image of w.CurrentRevision, or builds it again
// from its commit.
func imageOfRevision(ctx context.Context, deps plugins.Deps, w plugins.Workload, set *settings, log logr.Logger) (imagesource.LocalImage, error) {
	rev := w.CurrentRevision
	insp, own, err := findImage(ctx, deps.Docker, w, rev)
	if err != nil {
		return imagesource.LocalImage{}, err
	}
	if own {
		return imagesource.LocalImage{ID: insp.ID, Revision: rev}, nil
	}
	prefix, hash, ok := parseRevision(rev)
	switch {
	case !ok:
		return imagesource.LocalImage{}, fmt.Errorf("revision %q is no static revision: deploy the workload again", rev)
	case hash != shorten(set.hash, revisionHashLength):
		return imagesource.LocalImage{}, fmt.Errorf("the image of revision %s is gone, and the config changed since it was built: deploy the workload again", rev)
	}
	pctx, cancel := health.ProgressContext(ctx, w.Strategy.ProgressDeadline)
	defer cancel()
	opts, err := authOptions(pctx, deps, w, set, set.Git.URL, log)
	if err != nil {
		return imagesource.LocalImage{}, err
	}
	log.Info("The revision's image is gone; building it again", "image", imageTag(w, rev))
	commit, err := git.FindCommit(pctx, set.Git.URL, set.Git.Ref, prefix, opts...)
	if err != nil {
		return imagesource.LocalImage{}, fmt.Errorf("finding the commit of revision %s: %w", rev, err)
	}
	p, err := ensureImage(pctx, deps, w, set, target{url: set.Git.URL, ref: set.Git.Ref, commit: commit, opts: opts}, "", log)
	if err != nil {
		return imagesource.LocalImage{}, err
	}
	if p.revision != rev {
		return imagesource.LocalImage{}, fmt.Errorf("rebuilding revision %s gave revision %s", rev, p.revision)
	}
	return imagesource.LocalImage{ID: p.imageID, Revision: rev}, nil
}

// Teardown removes the routes, containers, networks (and volumes when
// w.RemoveVolumes is set) of w as the image source does, then the images
// built for it. It does not need a valid config.
func (s *Source) Teardown(ctx context.Context, deps plugins.Deps, w plugins.Workload) error {
	revs, listErr := containerRevisions(ctx, deps.Docker, w)
	if err := (&imagesource.Source{}).Teardown(ctx, deps, w); err != nil {
		return err
	}
	if listErr != nil {
		return listErr
	}
	removed, err := removeImages(ctx, deps, w, append(revs, w.CurrentRevision), "")
	deps.Log.Info("Removed the site images", "revisions", removed)
	return err
}
