package plugins

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/go-logr/logr"
	"k8s.io/client-go/tools/record"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/tinyforge/tinyforge/internal/docker"
)

// ErrSecretNotFound is wrapped by SecretReader errors when the Secret or the
// key does not exist, so plugins can wait for it instead of failing.
var ErrSecretNotFound = errors.New("secret not found")

// Deps is everything a plugin may use, handed to it on every call. It is a
// bundle of shared clients, not state: plugins keep nothing between calls.
type Deps struct {
	// Client reads and writes API objects. Plugins rarely need it; the
	// controller already resolved what the Workload refers to.
	Client client.Client

	// Docker is the Docker daemon the workload runs on.
	Docker docker.API

	// Routes publishes workload routes to the proxy.
	Routes RouteTable

	// PublishedUpstreams makes the proxy reach containers only through
	// their published loopback ports (a daemon whose container networks
	// this host cannot route to, such as rootless Docker or a remote
	// daemon). The zero value routes to each container's own address on
	// its Docker network (container IP and port), which spares every
	// request a trip through Docker's userland proxy; containers without
	// one (network mode host or none) are reached on their published ports
	// either way. Health checks before a switch probe the same address.
	PublishedUpstreams bool

	// Recorder records Kubernetes Events on API objects, for what people
	// should see in `forgectl describe`.
	Recorder record.EventRecorder

	// Secrets reads Secret keys, such as registry credentials or a git
	// token named in a plugin's config.
	Secrets SecretReader

	// Log is the caller's logger, already carrying the workload or trigger
	// keys; debug output goes to Log.V(1).
	Log logr.Logger
}

// SecretReader reads one key of a Secret.
type SecretReader interface {
	// ReadSecret returns the value of key in the Secret namespace/name. A
	// missing Secret or key is an error wrapping ErrSecretNotFound.
	ReadSecret(ctx context.Context, namespace, name, key string) ([]byte, error)
}

// APISecretReader reads Secrets through r, which should read through to the
// API server (a manager's APIReader): the controllers do not cache Secret
// data.
func APISecretReader(r client.Reader) SecretReader {
	return SecretReaderFunc(func(ctx context.Context, namespace, name, key string) ([]byte, error) {
		var sec corev1.Secret
		if err := r.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, &sec); err != nil {
			if apierrors.IsNotFound(err) {
				return nil, fmt.Errorf("Secret %s/%s: %w", namespace, name, ErrSecretNotFound)
			}
			return nil, fmt.Errorf("reading Secret %s/%s: %w", namespace, name, err)
		}
		v, ok := sec.Data[key]
		if !ok {
			return nil, fmt.Errorf("Secret %s/%s has no key %q: %w", namespace, name, key, ErrSecretNotFound)
		}
		return v, nil
	})
}

// SecretReaderFunc adapts a function to a SecretReader.
type SecretReaderFunc func(ctx context.Context, namespace, name, key string) ([]byte, error)

// ReadSecret calls f.
func (f SecretReaderFunc) ReadSecret(ctx context.Context, namespace, name, key string) ([]byte, error) {
	return f(ctx, namespace, name, key)
}

// RouteKey identifies one public route: a host and a path prefix. The
// Workload controller ensures that a key belongs to one workload only.
type RouteKey struct {
	// Host is the public hostname; empty matches any host no other route
	// claims.
	Host string
	// PathPrefix is the request path prefix, at least "/".
	PathPrefix string
}

// String returns host/path, the form used in logs and messages.
func (k RouteKey) String() string {
	return k.Host + k.PathPrefix
}

// SameBackends tells whether a and b hold the same backends, in any order;
// route tables use it to make setting the same backends again a no-op.
func SameBackends(a, b []Backend) bool {
	if len(a) != len(b) {
		return false
	}
	for _, x := range a {
		if !slices.Contains(b, x) {
			return false
		}
	}
	return true
}

// Backend is one address that serves a route.
type Backend struct {
	// Address is host:port as the proxy reaches the container.
	Address string
	// Revision the backend runs, for the proxy's logs and metrics.
	Revision string
}

// RouteTable is the proxy's routing table as sources see it. Calls take a
// context and return an error because the proxy may run in another process
// or on another host.
type RouteTable interface {
	// SetRoute makes backends the only ones serving key, atomically: a
	// request is served either by the old set or by the new one, never by
	// none. Callers check the new backends are healthy first; draining the
	// old ones is up to the caller. With no backends the route stays claimed
	// and answers 503 Service Unavailable (the gap of a Recreate deploy).
	// Setting the same backends again is a no-op, so Reconcile may
	// re-publish routes freely.
	SetRoute(ctx context.Context, key RouteKey, backends ...Backend) error

	// RemoveRoute stops serving key. Removing a route that does not exist
	// succeeds.
	RemoveRoute(ctx context.Context, key RouteKey) error
}

// Drainer is an optional interface of a RouteTable (the proxy implements
// it) that tells when backends taken out of every route are idle. After a
// blue-green switch, sources call Drain with the old backends and the
// workload's drainTimeout, and stop the old containers when it returns,
// whatever the error; a route table without Drain gets a short grace period
// instead.
type Drainer interface {
	// Drain returns nil once every request in flight to backends has
	// completed, and an error when timeout passes or ctx ends first (the
	// requests left may then have been cut). Callers take backends out of
	// every route first: a route table may refuse, with an error, to drain
	// a backend that still serves one.
	Drain(ctx context.Context, timeout time.Duration, backends ...Backend) error
}
