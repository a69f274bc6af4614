package registry

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker/docker/client"
	"github.com/go-logr/logr/funcr"
	"k8s.io/apimachinery/pkg/types"

	"github.com/tinyforge/tinyforge/internal/docker"
	"github.com/tinyforge/tinyforge/internal/docker/dockertest"
	"github.com/tinyforge/tinyforge/plugins"
)

// testTimeout bounds each registry test.
const testTimeout = 2 * time.Minute

// env is one test's world: the real Docker daemon, a real registry of its
// own, test app images built on demand, and a logger whose lines the test
// can search.
type env struct {
	t    *testing.T
	ctx  context.Context
	cli  *client.Client
	reg  *dockertest.Registry
	ns   string
	trig *Trigger
	deps plugins.Deps
	logs *lines

	mu     sync.Mutex
	images map[string]string // version → image ID
}

func newEnv(t *testing.T, opts ...dockertest.RegistryOption) *env {
	t.Helper()
	if testing.Short() {
		t.Skip("needs the Docker daemon and docker-registry")
	}
	t.Parallel()
	cli := dockertest.Client(t)
	ns := "regtrig-" + randomHex(4)
	// The tests run no containers; this catches any that a helper starts.
	dockertest.CleanupContainers(t, cli, docker.LabelNamespace+"="+ns)
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	t.Cleanup(cancel)
	logs := &lines{}
	log := funcr.New(func(prefix, args string) {
		logs.add(prefix + " " + args)
		t.Log(prefix, args)
	}, funcr.Options{Verbosity: 1})
	return &env{
		t: t, ctx: ctx, cli: cli, ns: ns, trig: &Trigger{}, logs: logs,
		reg:    dockertest.StartRegistry(t, opts...),
		deps:   plugins.Deps{Docker: cli, Log: log},
		images: map[string]string{},
	}
}

// image returns the test app image reporting version, built on first use.
func (e *env) image(version string) string {
	e.t.Helper()
	e.mu.Lock()
	defer e.mu.Unlock()
	if id, ok := e.images[version]; ok {
		return id
	}
	id := dockertest.BuildTestApp(e.t, e.cli, "tinyforge-registry-trigger-test:"+e.ns+"-"+version, dockertest.WithVersion(version))
	e.images[version] = id
	return id
}

// push pushes the image of version to the registry as path
// (repository:tag) and returns the manifest digest.
func (e *env) push(version, path string) string {
	e.t.Helper()
	return e.reg.Push(e.t, e.cli, e.image(version), path)
}

// config renders a trigger config for repository path of the registry,
// with extra fields.
func (e *env) config(path string, extra map[string]any) []byte {
	e.t.Helper()
	c := map[string]any{"repository": e.reg.Ref(path)}
	for k, v := range extra {
		c[k] = v
	}
	b, err := json.Marshal(c)
	if err != nil {
		e.t.Fatal(err)
	}
	return b
}

// match calls Match for workload "web" of the test's namespace, and checks
// that a result is well-formed.
func (e *env) match(config []byte, ev plugins.InboundEvent) (plugins.MatchResult, error) {
	e.t.Helper()
	ev.Trigger = types.NamespacedName{Namespace: e.ns, Name: "images"}
	res, err := e.trig.Match(e.ctx, e.deps, plugins.MatchRequest{
		Workload: plugins.Workload{Namespace: e.ns, Name: "web"},
		Config:   config,
		Event:    ev,
	})
	if err == nil {
		if verr := res.Validate(); verr != nil {
			e.t.Errorf("Match returned an invalid result %+v: %v", res, verr)
		}
	}
	return res, err
}

// pushEvent is an image-push event as the ingress makes of a registry
// notification.
func pushEvent(repo, tag, digest string) plugins.InboundEvent {
	return plugins.InboundEvent{
		Name: "push-" + tag, Provider: "distribution", Type: plugins.EventTypeImagePush, DeliveryID: randomHex(8),
		Image: &plugins.ImageRef{Repository: repo, Tag: tag, Digest: digest}, ReceivedTime: time.Now(),
	}
}

func manualEvent(m plugins.ManualEvent) plugins.InboundEvent {
	return plugins.InboundEvent{Name: "manual-1", Type: plugins.EventTypeManual, Manual: &m, ReceivedTime: time.Now()}
}

func cronEvent() plugins.InboundEvent {
	return plugins.InboundEvent{Name: "tick-1", Type: plugins.EventTypeCronTick, ReceivedTime: time.Now()}
}

// want is the expected outcome of one Match: exactly one of a deploy of
// digest (with tag and a reason), a skip whose reason contains skip, or an
// error containing err.
type want struct {
	digest, tag, reason string
	skip                string
	err                 string
}

func check(t *testing.T, res plugins.MatchResult, err error, w want) {
	t.Helper()
	switch {
	case w.err != "":
		if err == nil || !strings.Contains(err.Error(), w.err) {
			t.Fatalf("Match = %+v, %v; want an error containing %q", res, err, w.err)
		}
	case err != nil:
		t.Fatalf("Match: %v", err)
	case w.skip != "":
		if res.Intent != nil || !strings.Contains(res.SkipReason, w.skip) {
			t.Fatalf("Match = %s; want a skip containing %q", describe(res), w.skip)
		}
	default:
		in := res.Intent
		if in == nil {
			t.Fatalf("Match skipped: %s; want a deploy of %s", res.SkipReason, w.digest)
		}
		if in.Revision != w.digest || in.Image == nil || in.Image.Digest != w.digest || in.Image.Tag != w.tag {
			t.Errorf("Match = %s; want revision %s of tag %q", describe(res), w.digest, w.tag)
		}
		if w.reason != "" && in.Reason != w.reason {
			t.Errorf("reason = %q, want %q", in.Reason, w.reason)
		}
	}
}

func describe(res plugins.MatchResult) string {
	if res.Intent == nil {
		return "skip: " + res.SkipReason
	}
	b, _ := json.Marshal(res.Intent)
	return "deploy " + string(b)
}

// lines collects log lines.
type lines struct {
	mu  sync.Mutex
	all []string
}

func (l *lines) add(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.all = append(l.all, s)
}

func (l *lines) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.all, "\n")
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
