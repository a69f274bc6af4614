package static

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/go-logr/logr"

	"github.com/tinyforge/tinyforge/internal/git"
	"github.com/tinyforge/tinyforge/plugins"
	imagesource "github.com/tinyforge/tinyforge/plugins/source/image"
)

// target is where one deploy takes its site from.
type target struct {
	url string
	// ref is what was asked for, for messages and the fallback fetch.
	ref string
	// commit is the full commit ID, once known.
	commit string
	// fromLsRemote: commit is what ref pointed at a moment ago, so a
	// server refusing a fetch by commit ID may be asked for ref instead.
	fromLsRemote bool
	opts         []git.Option
}

// sitePlan is what a deploy serves: a revision, and its image once found
// or built.
type sitePlan struct {
	target   target
	revision string
	imageID  string
	built    time.Duration
}

// plan works out the revision intent asks for and makes sure its image
// exists, building it when it does not.
//
// The commit is intent.Git's (a git trigger's push, whose URL and ref
// override the config's), else intent.Revision when it is a full commit
// ID, else the commit of a revision of this plugin in intent.Revision (a
// rollback: its image is reused when it is still there and the config is
// the same, else the commit is looked up by its prefix), else what the
// configured ref points at now.
func plan(ctx context.Context, deps plugins.Deps, w plugins.Workload, set *settings, intent plugins.DeploymentIntent, log logr.Logger) (sitePlan, error) {
	t := target{url: set.Git.URL, ref: set.Git.Ref}
	var prefix string
	switch {
	case intent.Git != nil:
		if intent.Git.URL != "" {
			t.url = intent.Git.URL
		}
		if intent.Git.Ref != "" {
			t.ref = intent.Git.Ref
		}
		t.commit = intent.Git.Commit
		if err := validateIntent(t); err != nil {
			return sitePlan{}, err
		}
	case git.IsCommitID(intent.Revision):
		t.commit = intent.Revision
	case intent.Revision != "":
		c, h, ok := parseRevision(intent.Revision)
		if !ok {
			return sitePlan{}, fmt.Errorf("revision %q is neither a commit ID nor a static revision (<commit[:12]>-<config hash[:8]>)", intent.Revision)
		}
		if h == shorten(set.hash, revisionHashLength) {
			insp, own, err := findImage(ctx, deps.Docker, w, intent.Revision)
			if err != nil {
				return sitePlan{}, err
			}
			if own {
				log.Info("Reusing the image of the revision", "image", imageTag(w, intent.Revision))
				return sitePlan{target: t, revision: intent.Revision, imageID: insp.ID}, nil
			}
		} else {
			log.Info("The config changed since the revision was built; building its commit with the current config",
				"revision", intent.Revision)
		}
		prefix = c
	}
	opts, err := authOptions(ctx, deps, w, set, t.url, log)
	if err != nil {
		return sitePlan{}, err
	}
	t.opts = opts
	switch {
	case t.commit != "":
	case prefix != "":
		if t.commit, err = git.FindCommit(ctx, t.url, t.ref, prefix, t.opts...); err != nil {
			return sitePlan{}, fmt.Errorf("finding the commit of revision %s: %w", intent.Revision, err)
		}
	default:
		if t.commit, err = git.LsRemote(ctx, t.url, t.ref, t.opts...); err != nil {
			return sitePlan{}, fmt.Errorf("resolving %s: %w", describeRef(t.ref), err)
		}
		t.fromLsRemote = true
	}
	return ensureImage(ctx, deps, w, set, t, intent.Rollout, log)
}

// validateIntent checks what a git trigger put in the intent: it comes from
// a webhook.
func validateIntent(t target) error {
	if err := git.ValidateURL(t.url); err != nil {
		return fmt.Errorf("the rollout's git URL: %w", err)
	}
	if err := git.ValidateRef(t.ref); err != nil {
		return fmt.Errorf("the rollout's git ref: %w", err)
	}
	if t.commit != "" && !git.IsCommitID(t.commit) {
		return fmt.Errorf("the rollout's git commit %q is not a full commit ID", t.commit)
	}
	return nil
}

// ensureImage returns the plan of t's commit, building its image unless it
// exists already.
func ensureImage(ctx context.Context, deps plugins.Deps, w plugins.Workload, set *settings, t target, rollout string, log logr.Logger) (sitePlan, error) {
	p := sitePlan{target: t, revision: revisionOf(t.commit, set.hash)}
	if t.commit != "" {
		insp, own, err := findImage(ctx, deps.Docker, w, p.revision)
		if err != nil {
			return p, err
		}
		if own {
			p.imageID = insp.ID
			log.V(1).Info("The revision's image exists", "image", imageTag(w, p.revision))
			return p, nil
		}
	}

	dir, err := os.MkdirTemp("", "tinyforge-static-")
	if err != nil {
		return p, fmt.Errorf("creating a work directory: %w", err)
	}
	defer os.RemoveAll(dir)
	checkout := filepath.Join(dir, "checkout")
	start := time.Now()
	commit, err := git.Checkout(ctx, t.url, t.commit, checkout, t.opts...)
	if err != nil && t.fromLsRemote && errors.Is(err, git.ErrNotFound) {
		// A server that does not serve commits by ID: ask for the ref, and
		// serve whatever it points at now.
		log.Info("Fetching the commit by ID failed; fetching the ref instead", "ref", t.ref, "error", err.Error())
		if rerr := os.RemoveAll(checkout); rerr != nil {
			return p, fmt.Errorf("cleaning the work directory: %w", rerr)
		}
		commit, err = git.Checkout(ctx, t.url, t.ref, checkout, t.opts...)
	}
	if err != nil {
		return p, fmt.Errorf("fetching %s: %w", describeTarget(t), err)
	}
	if commit != t.commit {
		t.commit = commit
		p = sitePlan{target: t, revision: revisionOf(commit, set.hash)}
		if insp, own, err := findImage(ctx, deps.Docker, w, p.revision); err != nil {
			return p, err
		} else if own {
			p.imageID = insp.ID
			return p, nil
		}
	}
	fetched := time.Since(start)

	real, err := filepath.EvalSymlinks(checkout)
	if err != nil {
		return p, fmt.Errorf("resolving the checkout: %w", err)
	}
	site, err := git.SafeJoin(real, set.Git.Path)
	if err != nil {
		return p, fmt.Errorf("git.path %s of commit %s: %w", set.Git.Path, shorten(commit, revisionCommitLength), err)
	}
	if fi, err := os.Stat(site); err != nil || !fi.IsDir() {
		return p, fmt.Errorf("git.path %s is not a folder of commit %s of %s", set.Git.Path, shorten(commit, revisionCommitLength), git.DisplayURL(t.url))
	}
	mtime, err := git.CommitTime(ctx, checkout)
	if err != nil {
		return p, err
	}
	tag := imageTag(w, p.revision)
	log.Info("Building the site image", "image", tag, "commit", commit, "fetched", fetched.Round(time.Millisecond))
	start = time.Now()
	id, err := buildImage(ctx, deps, siteBuild{
		checkout: real, dir: site, mtime: mtime, set: set, tag: tag,
		labels: imageLabels(w, p.revision, rollout, commit, git.DisplayURL(t.url)),
	})
	if err != nil {
		return p, fmt.Errorf("commit %s: %w", shorten(commit, revisionCommitLength), err)
	}
	p.imageID, p.built = id, time.Since(start)
	log.Info("Built the site image", "image", tag, "took", p.built.Round(time.Millisecond))
	return p, nil
}

// authOptions reads the token of secretRef, sent only to the configured
// repository's origin: a git trigger's URL on another host gets none.
func authOptions(ctx context.Context, deps plugins.Deps, w plugins.Workload, set *settings, repo string, log logr.Logger) ([]git.Option, error) {
	r := set.SecretRef
	if r == nil {
		return nil, nil
	}
	if !sameOrigin(repo, set.Git.URL) {
		log.Info("Not sending the token to a repository other than git.url's", "url", git.DisplayURL(repo))
		return nil, nil
	}
	if deps.Secrets == nil {
		return nil, fmt.Errorf("reading the git token %s/%s: no secret reader", w.Namespace, r.Name)
	}
	token, err := deps.Secrets.ReadSecret(ctx, w.Namespace, r.Name, r.Key)
	if err != nil {
		return nil, fmt.Errorf("reading the git token (key %s of Secret %s/%s): %w", r.Key, w.Namespace, r.Name, err)
	}
	return []git.Option{git.WithBasicAuth(r.Username, string(token))}, nil
}

// sameOrigin reports whether two URLs have the same scheme, host and port.
func sameOrigin(a, b string) bool {
	ua, err := url.Parse(a)
	if err != nil {
		return false
	}
	ub, err := url.Parse(b)
	if err != nil {
		return false
	}
	return ua.Scheme != "" && ua.Scheme == ub.Scheme && ua.Host == ub.Host
}

func describeRef(ref string) string {
	if ref == "" {
		return "the remote HEAD"
	}
	return ref
}

func describeTarget(t target) string {
	what := describeRef(t.ref)
	if t.commit != "" {
		what = "commit " + shorten(t.commit, revisionCommitLength)
	}
	return what + " of " + git.DisplayURL(t.url)
}

// containerConfig is the image source config of the site's containers
// running revision.
func containerConfig(w plugins.Workload, set *settings, revision string) imagesource.Config {
	display := imageRepository(w)
	if _, _, ok := parseRevision(revision); ok {
		display = imageTag(w, revision)
	}
	return imagesource.Config{
		// Names the image in messages; a revision of another kind (the
		// workload's source kind changed) is no tag.
		Image: display,
		Ports: []imagesource.Port{{ContainerPort: set.Port, Protocol: imagesource.ProtocolTCP}},
	}
}

// routed is w with every route going to the site's port.
func routed(w plugins.Workload, set *settings) plugins.Workload {
	routes := make([]plugins.Route, len(w.Routes))
	for i, r := range w.Routes {
		r.Port = set.Port
		routes[i] = r
	}
	w.Routes = routes
	return w
}
