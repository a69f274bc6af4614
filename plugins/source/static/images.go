package static

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/distribution/reference"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/image"

	"github.com/tinyforge/tinyforge/internal/docker"
	"github.com/tinyforge/tinyforge/plugins"
)

// Labels of a site's image besides those of internal/docker.
const (
	// LabelGitCommit is the full commit the image was built from.
	LabelGitCommit = "tinyforge.dev/git-commit"
	// LabelGitURL is the repository it came from, without credentials.
	LabelGitURL = "tinyforge.dev/git-url"
)

const (
	// imageRepositoryPrefix starts the repository of every site image.
	imageRepositoryPrefix = "tinyforge-static/"
	// maxRepositoryLength keeps a repository name well under Docker's 255.
	maxRepositoryLength = 200
)

// imageRepository is tinyforge-static/<namespace>-<workload>, shortened
// with a hash of the whole when too long to be a repository name.
func imageRepository(w plugins.Workload) string {
	name := imageRepositoryPrefix + w.Namespace + "-" + w.Name
	if len(name) <= maxRepositoryLength {
		if _, err := reference.ParseNormalizedNamed(name); err == nil {
			return name
		}
	}
	sum := sha256.Sum256([]byte(w.Namespace + "/" + w.Name))
	short := shorten(w.Namespace+"-"+w.Name, maxRepositoryLength-len(imageRepositoryPrefix)-17)
	name = imageRepositoryPrefix + short + "-" + hex.EncodeToString(sum[:8])
	if _, err := reference.ParseNormalizedNamed(name); err == nil {
		return name
	}
	return imageRepositoryPrefix + "w-" + hex.EncodeToString(sum[:16])
}

// imageTag is the tag of the image of revision: the repository and the
// revision itself, which is a valid tag.
func imageTag(w plugins.Workload, revision string) string {
	return imageRepository(w) + ":" + revision
}

// imageLabels are the labels of the image of revision, built for rollout.
func imageLabels(w plugins.Workload, revision, rollout, commit, url string) map[string]string {
	l := docker.Labels(w.Namespace, w.Name, revision, rollout)
	l[LabelGitCommit] = commit
	l[LabelGitURL] = url
	return l
}

// ownImage reports whether insp is the image of revision of w, as this
// plugin built it: a tag someone else moved is not reused nor removed.
func ownImage(insp image.InspectResponse, w plugins.Workload, revision string) bool {
	if insp.Config == nil {
		return false
	}
	l := insp.Config.Labels
	return l[docker.LabelManagedBy] == docker.ManagedByValue && l[docker.LabelNamespace] == w.Namespace &&
		l[docker.LabelWorkload] == w.Name && (revision == "" || l[docker.LabelRevision] == revision)
}

// findImage returns the image of revision when it exists and is this
// plugin's.
func findImage(ctx context.Context, cli docker.API, w plugins.Workload, revision string) (image.InspectResponse, bool, error) {
	insp, err := cli.ImageInspect(ctx, imageTag(w, revision))
	switch {
	case cerrdefs.IsNotFound(err):
		return image.InspectResponse{}, false, nil
	case err != nil:
		return image.InspectResponse{}, false, fmt.Errorf("inspecting image %s: %w", imageTag(w, revision), err)
	}
	return insp, ownImage(insp, w, revision), nil
}

// containerRevisions lists the revisions of the workload's containers.
func containerRevisions(ctx context.Context, cli docker.API, w plugins.Workload) ([]string, error) {
	list, err := cli.ContainerList(ctx, container.ListOptions{All: true, Filters: docker.WorkloadFilter(w.Namespace, w.Name)})
	if err != nil {
		return nil, fmt.Errorf("listing containers of %s/%s: %w", w.Namespace, w.Name, err)
	}
	var revs []string
	for _, c := range list {
		if r := c.Labels[docker.LabelRevision]; r != "" && !slices.Contains(revs, r) {
			revs = append(revs, r)
		}
	}
	return revs, nil
}

// removeImages removes the images of revisions but keep: their tags, and
// the image with its untagged parents when no other tag names it. Images
// in use by a container, or not this plugin's, stay. Failures are logged
// (a later deploy or the teardown tries again) and returned only when
// Docker itself failed.
func removeImages(ctx context.Context, deps plugins.Deps, w plugins.Workload, revisions []string, keep string) ([]string, error) {
	var removed []string
	var firstErr error
	for _, rev := range revisions {
		if rev == "" || rev == keep || slices.Contains(removed, rev) {
			continue
		}
		if _, _, ok := parseRevision(rev); !ok {
			// A revision of another source kind: it built no image here.
			continue
		}
		insp, own, err := findImage(ctx, deps.Docker, w, rev)
		if err != nil {
			deps.Log.Error(err, "Looking up an old site image", "revision", rev)
			firstErr = firstErrOf(firstErr, err)
			continue
		}
		if !own {
			if insp.ID != "" {
				deps.Log.Info("Not removing an image tagged like a site image but not built for this workload", "image", imageTag(w, rev))
			}
			continue
		}
		tag := imageTag(w, rev)
		_, err = deps.Docker.ImageRemove(ctx, tag, image.RemoveOptions{PruneChildren: true})
		switch {
		case err == nil:
			removed = append(removed, rev)
			deps.Log.V(1).Info("Removed site image", "image", tag)
		case cerrdefs.IsNotFound(err):
		case cerrdefs.IsConflict(err):
			deps.Log.Info("Site image is still in use; kept it", "image", tag, "reason", err.Error())
		default:
			deps.Log.Error(err, "Removing site image", "image", tag)
			firstErr = firstErrOf(firstErr, fmt.Errorf("removing image %s: %w", tag, err))
		}
	}
	return removed, firstErr
}

// firstErrOf keeps the first error of a loop that goes on after errors.
func firstErrOf(first, err error) error {
	if first != nil {
		return first
	}
	return err
}
