package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/tinyforge/tinyforge/plugins"
)

// ErrManifestNotFound is wrapped when the registry has no manifest for a
// tag or digest.
var ErrManifestNotFound = errors.New("manifest not found")

const (
	// registryTimeout bounds one Match or Poll's conversation with the
	// registry, so a registry that hangs fails the binding instead of
	// holding a controller worker.
	registryTimeout = 30 * time.Second
	// userAgent names TinyForge in the registry's logs.
	userAgent = "tinyforge-registry-trigger"
	// maxUnorderedCandidates bounds the images a glob or plain regex policy
	// inspects to find the newest when it must pick a tag itself.
	maxUnorderedCandidates = 32
)

// retryBackoff retries a 5xx or a reset connection twice, quickly: the
// controller retries a failed binding itself, with its own backoff.
var retryBackoff = remote.Backoff{Duration: 100 * time.Millisecond, Factor: 3, Jitter: 0.1, Steps: 3}

// registryClient talks to the registry of one repository, with the
// credentials of the config's Secret. It lives for one Match or Poll.
type registryClient struct {
	repo    name.Repository
	display string // the repository as the config names it
	// access says whose credentials are used, for a refusal's message.
	access string
	puller *remote.Puller
}

// connect prepares a client for set's repository, reading the Secret the
// config names in namespace. Nothing is sent to the registry yet.
func connect(ctx context.Context, deps plugins.Deps, namespace string, set *settings) (*registryClient, error) {
	var opts []name.Option
	if set.Insecure {
		opts = append(opts, name.Insecure)
	}
	repo, err := name.NewRepository(set.repo.Name(), opts...)
	if err != nil {
		return nil, fmt.Errorf("parsing repository %s: %w", set.Repository, err)
	}
	auth, access := authn.Anonymous, "anonymously: the config names no secretRef"
	if set.SecretRef != nil {
		if auth, err = secretAuth(ctx, deps, namespace, set, repo.RegistryStr()); err != nil {
			return nil, err
		}
		access = fmt.Sprintf("with the credentials of Secret %s/%s", namespace, set.SecretRef.Name)
	}
	puller, err := remote.NewPuller(
		remote.WithAuth(auth),
		remote.WithUserAgent(userAgent),
		remote.WithRetryBackoff(retryBackoff),
	)
	if err != nil {
		return nil, fmt.Errorf("preparing a client of registry %s: %w", repo.RegistryStr(), err)
	}
	return &registryClient{repo: repo, display: set.Repository, access: access, puller: puller}, nil
}

// secretAuth reads registry credentials for host from the config's Secret.
// Neither the Secret's content nor a decoding error (which may quote it)
// ever reaches a message.
func secretAuth(ctx context.Context, deps plugins.Deps, namespace string, set *settings, host string) (authn.Authenticator, error) {
	ref := fmt.Sprintf("Secret %s/%s key %s", namespace, set.SecretRef.Name, set.secretKey())
	if deps.Secrets == nil {
		return nil, fmt.Errorf("reading registry credentials from %s: no secret reader", ref)
	}
	raw, err := deps.Secrets.ReadSecret(ctx, namespace, set.SecretRef.Name, set.secretKey())
	if err != nil {
		return nil, fmt.Errorf("reading registry credentials from %s: %w", ref, err)
	}
	cfg, err := authFor(raw, host)
	if err != nil {
		return nil, fmt.Errorf("registry credentials in %s: %w", ref, err)
	}
	return authn.FromConfig(cfg), nil
}

// authFor picks the entry of a Docker config JSON (.dockerconfigjson)
// that serves host, as go-containerregistry names it (index.docker.io for
// Docker Hub). An entry whose key is exactly host wins over one that only
// normalizes to it (https://host/v2/).
func authFor(raw []byte, host string) (authn.AuthConfig, error) {
	var cfg struct {
		Auths map[string]authn.AuthConfig `json:"auths"`
	}
	if err := json.Unmarshal(raw, &cfg); err != nil {
		return authn.AuthConfig{}, errors.New("not a Docker config JSON with an auths object, or an auth that is not base64 of user:password")
	}
	if a, ok := cfg.Auths[host]; ok {
		return a, nil
	}
	for _, server := range slices.Sorted(maps.Keys(cfg.Auths)) {
		if registryHost(server) == host {
			return cfg.Auths[server], nil
		}
	}
	return authn.AuthConfig{}, fmt.Errorf("no credentials for registry %s", host)
}

// registryHost normalizes a Docker config key ("https://index.docker.io/v1/",
// "http://127.0.0.1:5000/v2/", "registry.example:5000") to the host
// go-containerregistry uses.
func registryHost(server string) string {
	s := strings.TrimPrefix(strings.TrimPrefix(server, "https://"), "http://")
	s, _, _ = strings.Cut(s, "/")
	switch s {
	case "docker.io", "registry-1.docker.io", "index.docker.io":
		return name.DefaultRegistry
	}
	return s
}

// digest resolves a tag, or checks a digest, to the manifest digest the
// registry serves now. A missing manifest is ErrManifestNotFound.
func (c *registryClient) digest(ctx context.Context, tagOrDigest string) (string, error) {
	var ref name.Reference
	var err error
	if strings.Contains(tagOrDigest, ":") {
		ref, err = name.NewDigest(c.repo.Name()+"@"+tagOrDigest, name.WeakValidation)
	} else {
		ref = c.repo.Tag(tagOrDigest)
	}
	if err != nil {
		return "", fmt.Errorf("naming %s: %w", c.ref(tagOrDigest), err)
	}
	desc, err := c.puller.Head(ctx, ref)
	if isOtherStatus(err, http.StatusNotFound) {
		// A HEAD answer has no body to explain a refusal, and some
		// registries answer HEAD badly: GET says it with a body.
		var full *remote.Descriptor
		if full, err = c.puller.Get(ctx, ref); err == nil {
			desc = &full.Descriptor
		}
	}
	switch {
	case isStatus(err, http.StatusNotFound):
		return "", fmt.Errorf("%w: %s in registry %s", ErrManifestNotFound, c.ref(tagOrDigest), c.repo.RegistryStr())
	case err != nil:
		return "", c.fail("resolving "+c.ref(tagOrDigest), err)
	}
	return desc.Digest.String(), nil
}

// tags lists every tag of the repository, following pagination.
func (c *registryClient) tags(ctx context.Context) ([]string, error) {
	tags, err := c.puller.List(ctx, c.repo)
	if isStatus(err, http.StatusNotFound) {
		// The repository does not exist (yet): it has no tags.
		return nil, nil
	}
	if err != nil {
		return nil, c.fail("listing the tags of "+c.display, err)
	}
	return tags, nil
}

// created returns when the image of tag was built, from its config (for
// an index, the linux/amd64 image's).
func (c *registryClient) created(ctx context.Context, tag string) (time.Time, error) {
	desc, err := c.puller.Get(ctx, c.repo.Tag(tag))
	if err != nil {
		return time.Time{}, c.fail("fetching "+c.ref(tag), err)
	}
	img, err := desc.Image()
	if err != nil {
		return time.Time{}, fmt.Errorf("reading image %s: %w", c.ref(tag), err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return time.Time{}, fmt.Errorf("reading the config of image %s: %w", c.ref(tag), err)
	}
	return cfg.Created.Time, nil
}

// fail wraps err of doing what; a refusal also says whose credentials
// were refused.
func (c *registryClient) fail(what string, err error) error {
	if isStatus(err, http.StatusUnauthorized, http.StatusForbidden) {
		return fmt.Errorf("%s: the registry refused access %s: %w", what, c.access, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// ref renders repository:tag or repository@digest for messages, with the
// repository as the config names it.
func (c *registryClient) ref(tagOrDigest string) string {
	if strings.Contains(tagOrDigest, ":") {
		return c.display + "@" + tagOrDigest
	}
	return c.display + ":" + tagOrDigest
}

// isStatus reports whether err is a registry answer with one of codes.
func isStatus(err error, codes ...int) bool {
	var terr *transport.Error
	return errors.As(err, &terr) && slices.Contains(codes, terr.StatusCode)
}

// isOtherStatus reports whether err is a registry answer with a code other
// than codes; refused connections and timeouts are no answer.
func isOtherStatus(err error, codes ...int) bool {
	var terr *transport.Error
	return errors.As(err, &terr) && !slices.Contains(codes, terr.StatusCode)
}
