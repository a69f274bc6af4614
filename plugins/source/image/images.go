package image

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/distribution/reference"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/registry"
	"github.com/opencontainers/go-digest"

	"github.com/tinyforge/tinyforge/internal/docker"
	"github.com/tinyforge/tinyforge/plugins"
)

// ErrImageNotFound is wrapped when the image is not present locally and
// the pull policy forbids pulling it.
var ErrImageNotFound = errors.New("image not present locally")

// dockerConfigJSONKey is the key of a kubernetes.io/dockerconfigjson Secret.
const dockerConfigJSONKey = ".dockerconfigjson"

// resolvedImage is an image present locally, and the revision it is.
type resolvedImage struct {
	// ref is what containers are created from: repository@digest when the
	// revision is a registry digest, else the image ID, so a tag moved
	// between resolving and creating cannot change what runs.
	ref string
	// display is the reference people know, for messages.
	display string
	// revision is the repository digest, or the image ID.
	revision string
	inspect  image.InspectResponse
}

// resolveImage finds (pulling as the policy allows) the image a deploy of
// intent runs: intent.Image when it is set, the digest or image ID in
// intent.Revision when it holds one, else the configured reference.
func resolveImage(ctx context.Context, deps plugins.Deps, w plugins.Workload, set *settings, intent plugins.DeploymentIntent) (resolvedImage, error) {
	switch {
	case intent.Image != nil && intent.Image.Repository != "":
		named, err := reference.ParseNormalizedNamed(intent.Image.String())
		if err != nil {
			return resolvedImage{}, fmt.Errorf("parsing the rollout's image %q: %w", intent.Image.String(), err)
		}
		return ensureImage(ctx, deps, w, set, named)
	case looksLikeDigest(intent.Revision):
		return imageForRevision(ctx, deps, w, set, intent.Revision)
	default:
		return ensureImage(ctx, deps, w, set, set.named)
	}
}

// imageForRevision finds the image of revision, a repository digest of the
// configured repository or a local image ID; a digest missing locally is
// pulled as the policy allows.
func imageForRevision(ctx context.Context, deps plugins.Deps, w plugins.Workload, set *settings, revision string) (resolvedImage, error) {
	d, err := digest.Parse(revision)
	if err != nil {
		return resolvedImage{}, fmt.Errorf("revision %q is not a digest: %w", revision, err)
	}
	pinned, err := reference.WithDigest(reference.TrimNamed(set.named), d)
	if err != nil {
		return resolvedImage{}, fmt.Errorf("pinning %s to %s: %w", set.named.Name(), revision, err)
	}
	// A local image ID is no registry digest: look it up as such first.
	if insp, err := deps.Docker.ImageInspect(ctx, revision); err == nil && insp.ID == revision {
		return resolvedImage{ref: insp.ID, display: reference.FamiliarName(pinned) + " (image " + shortID(insp.ID) + ")", revision: insp.ID, inspect: insp}, nil
	}
	return ensureImage(ctx, deps, w, set, pinned)
}

// ensureImage makes ref present locally as the pull policy says, and
// resolves its revision.
func ensureImage(ctx context.Context, deps plugins.Deps, w plugins.Workload, set *settings, ref reference.Named) (resolvedImage, error) {
	c, pinned := ref.(reference.Canonical)
	if pinned {
		// A digest wins over a tag beside it (repo:tag@digest).
		var err error
		if ref, err = reference.WithDigest(reference.TrimNamed(ref), c.Digest()); err != nil {
			return resolvedImage{}, fmt.Errorf("pinning %s: %w", c, err)
		}
	} else {
		ref = reference.TagNameOnly(ref)
	}
	display := reference.FamiliarString(ref)

	pull := set.PullPolicy == PullAlways && !pinned
	if !pull {
		insp, err := deps.Docker.ImageInspect(ctx, ref.String())
		switch {
		case err == nil:
			return fromInspect(insp, ref), nil
		case !cerrdefs.IsNotFound(err):
			return resolvedImage{}, fmt.Errorf("inspecting image %s: %w", display, err)
		case set.PullPolicy == PullNever:
			return resolvedImage{}, fmt.Errorf("%w: %s, and pullPolicy is Never", ErrImageNotFound, display)
		}
	}
	if err := pullImage(ctx, deps, w, set, ref); err != nil {
		return resolvedImage{}, err
	}
	insp, err := deps.Docker.ImageInspect(ctx, ref.String())
	if err != nil {
		return resolvedImage{}, fmt.Errorf("inspecting image %s after pulling it: %w", display, err)
	}
	return fromInspect(insp, ref), nil
}

// fromInspect names the revision of an inspected image: the digest ref
// pins, else the digest of ref's repository among RepoDigests, else the
// image ID.
func fromInspect(insp image.InspectResponse, ref reference.Named) resolvedImage {
	r := resolvedImage{ref: insp.ID, display: reference.FamiliarString(ref), revision: insp.ID, inspect: insp}
	if c, ok := ref.(reference.Canonical); ok && hasRepoDigest(insp, ref.Name(), c.Digest()) {
		r.ref, r.revision = c.String(), c.Digest().String()
		return r
	}
	for _, rd := range insp.RepoDigests {
		parsed, err := reference.ParseNormalizedNamed(rd)
		if err != nil {
			continue
		}
		if c, ok := parsed.(reference.Canonical); ok && parsed.Name() == ref.Name() {
			r.ref, r.revision = c.String(), c.Digest().String()
			return r
		}
	}
	return r
}

func hasRepoDigest(insp image.InspectResponse, name string, d digest.Digest) bool {
	for _, rd := range insp.RepoDigests {
		parsed, err := reference.ParseNormalizedNamed(rd)
		if c, ok := parsed.(reference.Canonical); err == nil && ok && parsed.Name() == name && c.Digest() == d {
			return true
		}
	}
	return false
}

// pullImage pulls ref with the credentials of registryAuthSecret, if any.
func pullImage(ctx context.Context, deps plugins.Deps, w plugins.Workload, set *settings, ref reference.Named) error {
	display := reference.FamiliarString(ref)
	var auth string
	if set.RegistryAuthSecret != "" {
		var err error
		if auth, err = registryAuth(ctx, deps, w.Namespace, set.RegistryAuthSecret, reference.Domain(ref)); err != nil {
			return fmt.Errorf("pulling %s: %w", display, err)
		}
	}
	deps.Log.Info("Pulling image", "image", display)
	rc, err := deps.Docker.ImagePull(ctx, ref.String(), image.PullOptions{RegistryAuth: auth})
	if err != nil {
		return fmt.Errorf("pulling %s: %w", display, err)
	}
	defer rc.Close()
	if err := docker.ReadJSONMessages(rc); err != nil {
		return fmt.Errorf("pulling %s: %w", display, err)
	}
	return nil
}

// dockerConfig is the .dockerconfigjson format (~/.docker/config.json).
type dockerConfig struct {
	Auths map[string]dockerAuth `json:"auths"`
}

type dockerAuth struct {
	Username      string `json:"username,omitempty"`
	Password      string `json:"password,omitempty"`
	Auth          string `json:"auth,omitempty"`
	IdentityToken string `json:"identitytoken,omitempty"`
	RegistryToken string `json:"registrytoken,omitempty"`
}

// registryAuth reads the Secret namespace/name and returns the encoded
// X-Registry-Auth for domain (reference.Domain: "docker.io" for Docker Hub).
func registryAuth(ctx context.Context, deps plugins.Deps, namespace, name, domain string) (string, error) {
	if deps.Secrets == nil {
		return "", fmt.Errorf("reading registry credentials %s/%s: no secret reader", namespace, name)
	}
	raw, err := deps.Secrets.ReadSecret(ctx, namespace, name, dockerConfigJSONKey)
	if err != nil {
		return "", fmt.Errorf("reading registry credentials: %w", err)
	}
	cfg, err := authFor(raw, domain)
	if err != nil {
		return "", fmt.Errorf("registry credentials %s/%s: %w", namespace, name, err)
	}
	enc, err := registry.EncodeAuthConfig(cfg)
	if err != nil {
		return "", fmt.Errorf("encoding registry credentials: %w", err)
	}
	return enc, nil
}

// authFor picks the entry of a .dockerconfigjson that serves domain.
func authFor(raw []byte, domain string) (registry.AuthConfig, error) {
	var cfg dockerConfig
	if err := json.Unmarshal(raw, &cfg); err != nil {
		return registry.AuthConfig{}, fmt.Errorf("key %s is not a Docker config: %w", dockerConfigJSONKey, err)
	}
	for server, a := range cfg.Auths {
		if registryDomain(server) != domain {
			continue
		}
		ac := registry.AuthConfig{
			Username:      a.Username,
			Password:      a.Password,
			ServerAddress: server,
			IdentityToken: a.IdentityToken,
			RegistryToken: a.RegistryToken,
		}
		if a.Auth != "" && ac.Username == "" {
			dec, err := base64.StdEncoding.DecodeString(a.Auth)
			if err != nil {
				return registry.AuthConfig{}, fmt.Errorf("auth of %s is not base64: %w", server, err)
			}
			user, pass, ok := strings.Cut(string(dec), ":")
			if !ok {
				return registry.AuthConfig{}, fmt.Errorf("auth of %s is not user:password", server)
			}
			ac.Username, ac.Password = user, pass
		}
		return ac, nil
	}
	return registry.AuthConfig{}, fmt.Errorf("no credentials for registry %s", domain)
}

// registryDomain normalizes a config.json server key ("https://index.docker.io/v1/",
// "registry.example:5000") to a reference domain.
func registryDomain(server string) string {
	s := strings.TrimPrefix(strings.TrimPrefix(server, "https://"), "http://")
	s, _, _ = strings.Cut(s, "/")
	switch s {
	case "index.docker.io", "registry-1.docker.io", "docker.io":
		return "docker.io"
	}
	return s
}

// looksLikeDigest reports whether s is algorithm:hex, as image IDs and
// registry digests are (and git commits and config hashes are not).
func looksLikeDigest(s string) bool {
	_, err := digest.Parse(s)
	return err == nil
}
