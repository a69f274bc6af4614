package compose

import (
	"context"
	"errors"
	"fmt"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/distribution/reference"
	"github.com/docker/docker/api/types/image"

	"github.com/tinyforge/tinyforge/internal/docker"
	"github.com/tinyforge/tinyforge/plugins"
)

// ErrImageNotFound is wrapped when an image is not present locally and the
// service's pull_policy is never, or when Reconcile (which never pulls)
// misses one.
var ErrImageNotFound = errors.New("image not present locally")

// resolvedImage is an image present locally.
type resolvedImage struct {
	// id is the image ID, which containers are created from, so a tag
	// moved between resolving and creating cannot change what runs. It is
	// the com.docker.compose.image label.
	id string
	// display is the reference people know, for messages.
	display string
	// healthcheck: the image has a HEALTHCHECK.
	healthcheck bool
}

// imageRef is the reference service s runs: the file's, unless the
// deploy's intent names an image of the same repository (a registry
// trigger's digest, a rollback), which wins.
func imageRef(s *service, intent plugins.DeploymentIntent) (reference.Named, error) {
	named, err := reference.ParseNormalizedNamed(s.cfg.Image)
	if err != nil {
		return nil, fmt.Errorf("%w: services.%s.image: %q is not an image reference: %v", ErrInvalidCompose, s.name, s.cfg.Image, err)
	}
	if intent.Image != nil && intent.Image.Repository != "" {
		pinned, err := reference.ParseNormalizedNamed(intent.Image.String())
		if err == nil && pinned.Name() == named.Name() {
			named = pinned
		}
	}
	if c, ok := named.(reference.Canonical); ok {
		// A digest wins over a tag beside it (repo:tag@digest).
		return reference.WithDigest(reference.TrimNamed(named), c.Digest())
	}
	return reference.TagNameOnly(named), nil
}

// resolveImages makes every service's image present as its pull_policy
// says (missing by default: pulled only when absent) and records its ID.
// Each reference is pulled once.
func resolveImages(ctx context.Context, deps plugins.Deps, st *stack, intent plugins.DeploymentIntent) error {
	done := map[string]resolvedImage{}
	for _, name := range st.order {
		s := st.services[name]
		ref, err := imageRef(s, intent)
		if err != nil {
			return err
		}
		key := ref.String() + " " + s.cfg.PullPolicy
		img, ok := done[key]
		if !ok {
			if img, err = ensureImage(ctx, deps, ref, s.cfg.PullPolicy); err != nil {
				return fmt.Errorf("service %s: %w", name, err)
			}
			done[key] = img
		}
		s.image = img
	}
	return nil
}

// ensureImage makes ref present locally as policy says.
func ensureImage(ctx context.Context, deps plugins.Deps, ref reference.Named, policy string) (resolvedImage, error) {
	display := reference.FamiliarString(ref)
	_, pinned := ref.(reference.Canonical)
	if policy != "always" || pinned {
		img, err := inspectImage(ctx, deps, ref.String(), display)
		switch {
		case err == nil:
			return img, nil
		case !errors.Is(err, ErrImageNotFound):
			return resolvedImage{}, err
		case policy == "never":
			return resolvedImage{}, fmt.Errorf("%w: %s, and its pull_policy is never", ErrImageNotFound, display)
		}
	}
	deps.Log.Info("Pulling image", "image", display)
	rc, err := deps.Docker.ImagePull(ctx, ref.String(), image.PullOptions{})
	if err != nil {
		return resolvedImage{}, fmt.Errorf("pulling %s: %w", display, err)
	}
	defer rc.Close()
	if err := docker.ReadJSONMessages(rc); err != nil {
		return resolvedImage{}, fmt.Errorf("pulling %s: %w", display, err)
	}
	return inspectImage(ctx, deps, ref.String(), display)
}

// inspectImage resolves a local image; a missing one is ErrImageNotFound.
func inspectImage(ctx context.Context, deps plugins.Deps, ref, display string) (resolvedImage, error) {
	insp, err := deps.Docker.ImageInspect(ctx, ref)
	switch {
	case cerrdefs.IsNotFound(err):
		return resolvedImage{}, fmt.Errorf("%w: %s", ErrImageNotFound, display)
	case err != nil:
		return resolvedImage{}, fmt.Errorf("inspecting image %s: %w", display, err)
	}
	img := resolvedImage{id: insp.ID, display: display}
	if insp.Config != nil && insp.Config.Healthcheck != nil && len(insp.Config.Healthcheck.Test) > 0 && insp.Config.Healthcheck.Test[0] != "NONE" {
		img.healthcheck = true
	}
	return img, nil
}

// recordedImages resolves the services' images for Reconcile, which never
// pulls: the image a container of the service with the same hash was
// created from, when there is one and it is still present, else the
// file's reference as present locally.
func recordedImages(ctx context.Context, deps plugins.Deps, st *stack, existing map[string][]instance) error {
	for _, name := range st.order {
		s := st.services[name]
		found := false
		for _, in := range existing[name] {
			if in.ConfigHash != s.hash || in.ImageID == "" {
				continue
			}
			img, err := inspectImage(ctx, deps, in.ImageID, s.cfg.Image)
			if errors.Is(err, ErrImageNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			s.image, found = img, true
			break
		}
		if found {
			continue
		}
		ref, err := imageRef(s, plugins.DeploymentIntent{})
		if err != nil {
			return err
		}
		img, err := inspectImage(ctx, deps, ref.String(), reference.FamiliarString(ref))
		if err != nil {
			return fmt.Errorf("service %s: %w", name, err)
		}
		s.image = img
	}
	return nil
}
