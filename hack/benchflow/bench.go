package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/docker/docker/client"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	ctrlclient "sigs.k8s.io/controller-runtime/pkg/client"

	tinyforgev1alpha1 "github.com/tinyforge/tinyforge/api/v1alpha1"
	"github.com/tinyforge/tinyforge/controllers/trigger"
	"github.com/tinyforge/tinyforge/internal/docker"
	"github.com/tinyforge/tinyforge/internal/docker/dockertest"
)

// Names of the run's objects.
const (
	// pushesTrigger receives the registry's notifications (figure 6).
	pushesTrigger = "pushes"
	// fanTrigger receives the one generic delivery of figure 7.
	fanTrigger = "fan"
	// hooksTrigger receives figure 5's deliveries; it has no bindings.
	hooksTrigger = "hooks"
	// appRepo and fanRepo are the registry repositories of figures 6 and 7.
	appRepo = "bench/app"
	fanRepo = "bench/fan"
	// hooksRepo is the repository figure 5's deliveries name.
	hooksRepo = "127.0.0.1:5000/x"
	// bgWorkload is the workload of figures 2 and 3, deployed first.
	bgWorkload = "bg"
	// hookWorkload is figure 6's.
	hookWorkload = "hook"
)

// bench is one benchmark run: its options, report and everything it
// started, for the figures to use and cleanup to remove.
type bench struct {
	o    options
	rep  *report
	run  string // the run ID, also the namespace
	root string

	docker *client.Client
	srv    *server
	reg    *registryProc
	kube   ctrlclient.WithWatch
	// restCfg has the admin credentials, for /debug/pprof.
	restCfg *rest.Config

	workloads, events, rollouts, triggers, bindings *watcher

	// images are the IDs of the v1 and v2 images; local their local tags.
	images map[string]string
	local  map[string]string
	// testApp is the compiled test app, for figure 9's serving image.
	testApp     []byte
	tokens      map[string]string
	hookURLs    map[string]string
	stopWatches context.CancelFunc
	applyMedian time.Duration
	manyReady   bool
	proxyClient *http.Client
	cleanupOnce sync.Once
}

func newBench(o options) (*bench, error) {
	cli, err := docker.New()
	if err != nil {
		return nil, err
	}
	return &bench{
		o: o, rep: newReport(), run: newRunID(), docker: cli,
		images: map[string]string{}, local: map[string]string{}, tokens: map[string]string{}, hookURLs: map[string]string{},
		applyMedian: -1,
		// Polls of the proxy reuse one connection, as a browser would.
		proxyClient: keepAliveClient(1),
	}, nil
}

// setup removes what killed runs left, builds the images, starts the
// server and the registry, creates the namespace and triggers, pushes the
// images and deploys the first Workload.
func (b *bench) setup(ctx context.Context) error {
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	_, err := b.docker.Ping(pingCtx)
	cancel()
	if err != nil {
		return fmt.Errorf("no Docker daemon answers at %s: %w", b.docker.DaemonHost(), err)
	}
	if c, i, d, err := removeLeftovers(ctx, b.docker); err != nil {
		b.rep.note("removing what earlier runs left: %v", err)
	} else if c+i+d > 0 {
		b.rep.note("removed what killed runs left: %d containers, %d images, %d temporary directories", c, i, d)
	}
	if b.root, err = os.MkdirTemp("", b.run+".*"); err != nil {
		return fmt.Errorf("creating the temporary directory: %w", err)
	}
	progress("run %s, temporary directory %s", b.run, b.root)

	// The images build while the server starts.
	built := make(chan error, 1)
	go func() { built <- b.buildImages(ctx) }()
	var ready time.Duration
	b.srv, ready, err = startServer(ctx, b.o.tinyforge, b.root)
	if err != nil {
		<-built
		return err
	}
	b.rep.info(0, "server start to /readyz, proxy and ingress answering", fmtDur(ready))
	if err := <-built; err != nil {
		return err
	}
	if b.kube, b.restCfg, err = newKubeClient(b.srv.dataDir); err != nil {
		return err
	}
	// The watches outlive ctx: cleanup stops them.
	wctx, cancelWatches := context.WithCancel(context.Background())
	b.stopWatches = cancelWatches
	if err := b.startWatchers(wctx); err != nil {
		return err
	}
	// The webhook paths derive from the tokens, so the registry can be
	// told where to notify before the triggers exist; it notifies nothing
	// until the first push, which comes after them.
	for _, name := range []string{pushesTrigger, fanTrigger, hooksTrigger} {
		b.tokens[name] = randomHex(16)
		b.hookURLs[name] = "http://" + b.srv.ports.ingressAddr() + trigger.WebhookPath(b.run, name, []byte(b.tokens[name]))
	}
	b.reg, err = startRegistry(ctx, b.o.registry, b.root, b.hookURLs[pushesTrigger], b.tokens[pushesTrigger])
	if err != nil {
		return fmt.Errorf("starting the registry: %w", err)
	}
	if err := b.createTriggers(ctx); err != nil {
		return err
	}
	for _, p := range []struct{ image, path string }{{"v1", appRepo + ":v1"}, {"v1", fanRepo + ":v1"}, {"v2", fanRepo + ":v2"}} {
		if _, err := b.reg.push(ctx, b.docker, b.images[p.image], p.path); err != nil {
			return err
		}
	}
	return b.firstDeploy(ctx)
}

// buildImages compiles the test app and builds the v1 and v2 images.
func (b *bench) buildImages(ctx context.Context) error {
	start := time.Now()
	bin, err := dockertest.CompileTestApp()
	if err != nil {
		return err
	}
	b.testApp = bin
	for _, v := range []string{"v1", "v2"} {
		tag := fmt.Sprintf("tinyforge-bench/%s:%s", b.run, v)
		id, err := buildTestApp(ctx, b.docker, bin, tag, v, b.run)
		if err != nil {
			return err
		}
		b.images[v], b.local[v] = id, tag
	}
	b.rep.info(0, "compile test app, build v1 and v2 images", fmtDur(time.Since(start)))
	return nil
}

func (b *bench) startWatchers(ctx context.Context) error {
	var err error
	watches := []struct {
		w       **watcher
		kind    string
		newList func() ctrlclient.ObjectList
	}{
		{&b.workloads, "Workload", func() ctrlclient.ObjectList { return &tinyforgev1alpha1.WorkloadList{} }},
		{&b.events, "Event", func() ctrlclient.ObjectList { return &tinyforgev1alpha1.EventList{} }},
		{&b.rollouts, "Rollout", func() ctrlclient.ObjectList { return &tinyforgev1alpha1.RolloutList{} }},
		{&b.triggers, "Trigger", func() ctrlclient.ObjectList { return &tinyforgev1alpha1.TriggerList{} }},
		{&b.bindings, "TriggerBinding", func() ctrlclient.ObjectList { return &tinyforgev1alpha1.TriggerBindingList{} }},
	}
	for _, w := range watches {
		if *w.w, err = startWatcher(ctx, b.kube, b.run, w.kind, w.newList); err != nil {
			return err
		}
	}
	return nil
}

// createTriggers creates the namespace, the three triggers with their
// token Secrets, and waits until each serves its webhook path.
func (b *bench) createTriggers(ctx context.Context) error {
	if err := b.kube.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: b.run}}); err != nil {
		return fmt.Errorf("creating namespace %s: %w", b.run, err)
	}
	triggers := []struct {
		name, repo string
		provider   tinyforgev1alpha1.Provider
	}{
		{pushesTrigger, b.reg.ref(appRepo), tinyforgev1alpha1.ProviderDistribution},
		{fanTrigger, b.reg.ref(fanRepo), tinyforgev1alpha1.ProviderGeneric},
		{hooksTrigger, hooksRepo, tinyforgev1alpha1.ProviderGeneric},
	}
	for _, t := range triggers {
		if err := b.kube.Create(ctx, tokenSecret(b.run, t.name+"-token", b.tokens[t.name])); err != nil {
			return fmt.Errorf("creating the token Secret of %s: %w", t.name, err)
		}
		if err := b.kube.Create(ctx, registryTrigger(b.run, t.name, t.provider, t.name+"-token", t.repo, "v*")); err != nil {
			return fmt.Errorf("creating trigger %s: %w", t.name, err)
		}
	}
	for _, t := range triggers {
		path := trigger.WebhookPath(b.run, t.name, []byte(b.tokens[t.name]))
		_, err := b.triggers.waitFor(ctx, t.name, b.o.waitTimeout, "to serve its webhook path", func(o ctrlclient.Object) bool {
			tr, ok := o.(*tinyforgev1alpha1.Trigger)
			return ok && tr.Status.WebhookPath == path && conditionTrue(tinyforgev1alpha1.ConditionReady)(o)
		}, explainObject)
		if err != nil {
			return err
		}
	}
	// The ingress finds a trigger through its own cache: a ping answered
	// pong shows it is there.
	for _, name := range []string{fanTrigger, hooksTrigger} {
		if err := b.waitPong(ctx, name); err != nil {
			return err
		}
	}
	return nil
}

// waitPong delivers signed pings to trigger name until it answers pong.
func (b *bench) waitPong(ctx context.Context, name string) error {
	c := keepAliveClient(1)
	defer c.CloseIdleConnections()
	deadline := time.NewTimer(b.o.waitTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(readyPollInterval)
	defer tick.Stop()
	for {
		code, a, err := deliver(ctx, c, b.hookURLs[name], b.tokens[name], genericPing())
		if err == nil && code == http.StatusOK {
			return nil
		}
		select {
		case <-tick.C:
		case <-deadline.C:
			return fmt.Errorf("%w from trigger %s within %s: last answer %d %q %v", errNoPong, name, b.o.waitTimeout, code, a.Message, err)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// firstDeploy deploys the workload of figures 2 and 3, which also warms
// the controllers up.
func (b *bench) firstDeploy(ctx context.Context) error {
	d, err := b.deploy(ctx, imageWorkload(b.run, bgWorkload, b.local["v1"], b.o.probe))
	if err != nil {
		return fmt.Errorf("first deploy: %w", err)
	}
	b.rep.info(0, "first deploy after the start (warms the controllers up)", fmtDur(d))
	if _, err := pollUntil(ctx, b.proxyClient, "http://"+b.srv.ports.proxyAddr()+"/", routeHost(b.run, bgWorkload), "version=v1", b.o.pollEvery, b.o.waitTimeout); err != nil {
		return err
	}
	return nil
}

// deploy creates w and returns the time from the create call to the watch
// showing it Ready.
func (b *bench) deploy(ctx context.Context, w *tinyforgev1alpha1.Workload) (time.Duration, error) {
	t := b.workloads.track(func(o ctrlclient.Object) bool { return o.GetName() == w.Name && readyAt(1)(o) })
	defer b.workloads.untrack(t)
	start := time.Now()
	if err := b.kube.Create(ctx, w); err != nil {
		return 0, fmt.Errorf("creating workload %s: %w", w.Name, err)
	}
	at, err := b.workloads.waitTracked(ctx, t, w.Name, b.o.waitTimeout, "to be Ready", explainObject)
	if err != nil {
		return 0, err
	}
	return at.Sub(start), nil
}

// cleanup stops the server first (a running one recreates the containers
// removed under it), then the registry, removes the run's containers and
// images, and its temporary directory.
func (b *bench) cleanup() {
	b.cleanupOnce.Do(func() {
		if b.stopWatches != nil {
			b.stopWatches()
		}
		if b.srv != nil {
			if err := b.srv.stop(); err != nil {
				b.rep.note("stopping the server: %v", err)
			}
		}
		if b.reg != nil {
			b.reg.stop()
		}
		var ids []string
		for _, id := range b.images {
			ids = append(ids, id)
		}
		n, err := removeRun(context.Background(), b.docker, b.run, ids)
		if err != nil {
			b.rep.note("cleaning up: %v", err)
		}
		progress("removed %d containers and %d images of run %s", n, len(ids), b.run)
		if b.root != "" {
			if b.o.keep {
				b.rep.note("server data and logs, registry storage kept in %s", b.root)
			} else if err := os.RemoveAll(b.root); err != nil {
				b.rep.note("removing %s: %v", b.root, err)
			}
		}
		_ = b.docker.Close()
	})
}

func randomHex(n int) string {
	buf := make([]byte, n)
	_, _ = rand.Read(buf)
	return hex.EncodeToString(buf)
}
