package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/go-connections/nat"
	"sigs.k8s.io/controller-runtime/pkg/client"

	tinyforgev1alpha1 "github.com/tinyforge/tinyforge/api/v1alpha1"
	"github.com/tinyforge/tinyforge/internal/docker"
)

// Targets the figures are compared with.
const (
	// targetApplyRatio: apply → Ready within 1.5x of docker run → healthy.
	targetApplyRatio = 1.5
	// targetProxyShare: the proxy serves at least 80% of direct rps.
	targetProxyShare = 0.80
)

// applyToReady is figure 1: apply → Ready of an image Workload, next to
// `docker run` of the same image until /healthz answers, polled as often as
// the Workload's probe runs. The runs alternate, so both see the same load.
func (b *bench) applyToReady(ctx context.Context) error {
	var tf, cli, api []time.Duration
	for i := range b.o.applyRuns {
		d, err := b.dockerRunCLI(ctx)
		if err != nil {
			return fmt.Errorf("docker run: %w", err)
		}
		cli = append(cli, d)
		if d, err = b.dockerRunAPI(ctx); err != nil {
			return fmt.Errorf("Engine API create and start: %w", err)
		}
		api = append(api, d)
		if d, err = b.deploy(ctx, imageWorkload(b.run, fmt.Sprintf("ready-%d", i), b.local["v1"], b.o.probe)); err != nil {
			return err
		}
		tf = append(tf, d)
	}
	n := b.o.applyRuns
	base, mine := median(cli), median(tf)
	b.applyMedian = mine
	limit := time.Duration(float64(base) * targetApplyRatio)
	b.rep.info(1, fmt.Sprintf("docker run -d → /healthz 200 (CLI), median of %d", n), spread(cli))
	b.rep.info(1, fmt.Sprintf("Engine API create+start → /healthz 200, median of %d", n), spread(api))
	b.rep.check(1, fmt.Sprintf("apply → Ready (client-go create, watch), median of %d", n), spread(tf),
		fmt.Sprintf("<= %.1fx docker run = %s", targetApplyRatio, fmtDur(limit)), mine <= limit)
	b.rep.info(1, "  ratio apply → Ready / docker run", fmt.Sprintf("%.2fx", float64(mine)/float64(base)))
	b.rep.note("figure 1: the Workloads probe /healthz every %s and docker run's /healthz is polled as often; both wait for the same answer", b.o.probe)
	return nil
}

// baselineLabels mark the docker run containers as this run's, so cleanup
// (and a later run, should this one be killed) removes them; TinyForge
// leaves them alone, since they carry no managed-by or cluster label.
func (b *bench) baselineLabels() map[string]string {
	return map[string]string{docker.LabelNamespace: b.run, docker.LabelWorkload: "baseline", labelRun: b.run}
}

// dockerRunCLI times `docker run -d -p 127.0.0.1::8080` until /healthz
// answers 200, and removes the container.
func (b *bench) dockerRunCLI(ctx context.Context) (time.Duration, error) {
	args := []string{"run", "-d", "-p", fmt.Sprintf("127.0.0.1::%d", testAppPort)}
	for k, v := range b.baselineLabels() {
		args = append(args, "--label", k+"="+v)
	}
	args = append(args, b.local["v1"])
	runCtx, cancel := context.WithTimeout(ctx, b.o.waitTimeout)
	defer cancel()
	start := time.Now()
	out, err := exec.CommandContext(runCtx, b.o.docker, args...).Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = strings.TrimSpace(string(ee.Stderr))
		}
		return 0, fmt.Errorf("%w: %s", err, stderr)
	}
	id := strings.TrimSpace(string(out))
	defer b.removeBaseline(id)
	return b.waitHealthz(ctx, id, start)
}

// dockerRunAPI does what docker run does through the Engine API, create
// and start, without the CLI's own start-up, and times it the same way.
func (b *bench) dockerRunAPI(ctx context.Context) (time.Duration, error) {
	port := nat.Port(fmt.Sprintf("%d/tcp", testAppPort))
	start := time.Now()
	resp, err := b.docker.ContainerCreate(ctx,
		&container.Config{Image: b.local["v1"], Labels: b.baselineLabels(), ExposedPorts: nat.PortSet{port: {}}},
		&container.HostConfig{PortBindings: nat.PortMap{port: {{HostIP: "127.0.0.1"}}}}, nil, nil, "")
	if err != nil {
		return 0, err
	}
	defer b.removeBaseline(resp.ID)
	if err := b.docker.ContainerStart(ctx, resp.ID, container.StartOptions{}); err != nil {
		return 0, err
	}
	return b.waitHealthz(ctx, resp.ID, start)
}

// waitHealthz finds the container's published port and polls its /healthz
// every probe interval until it answers 200; it returns the time since
// start.
func (b *bench) waitHealthz(ctx context.Context, id string, start time.Time) (time.Duration, error) {
	insp, err := b.docker.ContainerInspect(ctx, id)
	if err != nil {
		return 0, fmt.Errorf("inspecting %.12s: %w", id, err)
	}
	var addr string
	if insp.NetworkSettings != nil {
		for _, bnd := range insp.NetworkSettings.Ports[nat.Port(fmt.Sprintf("%d/tcp", testAppPort))] {
			addr = net.JoinHostPort("127.0.0.1", bnd.HostPort)
		}
	}
	if addr == "" {
		return 0, fmt.Errorf("container %.12s publishes no port for %d", id, testAppPort)
	}
	c := keepAliveClient(1)
	defer c.CloseIdleConnections()
	at, err := pollUntil(ctx, c, "http://"+addr+"/healthz", "", "", b.o.probe, b.o.waitTimeout)
	if err != nil {
		return 0, err
	}
	return at.Sub(start), nil
}

// removeBaseline removes a baseline container, outside any timing.
func (b *bench) removeBaseline(id string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := removeContainers(ctx, b.docker, []string{id}); err != nil {
		b.rep.note("%v", err)
	}
}

// blueGreenSwitch is figure 2: the image of the running Workload changes
// (v1 → v2 → v1 …); the time from the update to the proxy answering with
// the new version, then to the Workload Ready at the new generation.
func (b *bench) blueGreenSwitch(ctx context.Context) error {
	url, host := "http://"+b.srv.ports.proxyAddr()+"/", routeHost(b.run, bgWorkload)
	var served, ready []time.Duration
	for i := range b.o.switchRuns {
		version := "v2"
		if i%2 == 1 {
			version = "v1"
		}
		var w tinyforgev1alpha1.Workload
		if err := b.kube.Get(ctx, client.ObjectKey{Namespace: b.run, Name: bgWorkload}, &w); err != nil {
			return fmt.Errorf("reading workload %s: %w", bgWorkload, err)
		}
		// Patch updates w; the predicate keeps the generation before it.
		next := readyAt(w.Generation + 1)
		t := b.workloads.track(func(o client.Object) bool { return o.GetName() == bgWorkload && next(o) })
		patch := client.MergeFrom(w.DeepCopy())
		if err := setImage(&w, b.local[version]); err != nil {
			b.workloads.untrack(t)
			return err
		}
		start := time.Now()
		if err := b.kube.Patch(ctx, &w, patch); err != nil {
			b.workloads.untrack(t)
			return fmt.Errorf("updating the image of %s: %w", bgWorkload, err)
		}
		at, err := pollUntil(ctx, b.proxyClient, url, host, "version="+version, b.o.pollEvery, b.o.waitTimeout)
		if err != nil {
			b.workloads.untrack(t)
			return err
		}
		served = append(served, at.Sub(start))
		// The next switch starts from one settled revision.
		readyTime, err := b.workloads.waitTracked(ctx, t, bgWorkload, b.o.waitTimeout, "to be Ready at the new generation", explainObject)
		b.workloads.untrack(t)
		if err != nil {
			return err
		}
		ready = append(ready, readyTime.Sub(start))
	}
	n := b.o.switchRuns
	b.rep.info(2, fmt.Sprintf("image update → proxy serves the new version, median of %d", n), spread(served))
	b.rep.info(2, fmt.Sprintf("image update → Ready (old revision drained and removed), median of %d", n), spread(ready))
	b.rep.note("figure 2: the proxy is polled every %s; drainTimeout is %s", b.o.pollEvery, drainTimeout)
	return nil
}

// setImage replaces the image in w's source config.
func setImage(w *tinyforgev1alpha1.Workload, image string) error {
	cfg := map[string]any{}
	if w.Spec.Source.Config != nil && len(w.Spec.Source.Config.Raw) > 0 {
		if err := json.Unmarshal(w.Spec.Source.Config.Raw, &cfg); err != nil {
			return fmt.Errorf("reading the source config of %s: %w", w.Name, err)
		}
	}
	cfg["image"] = image
	raw, err := json.Marshal(cfg)
	if err != nil {
		return err
	}
	w.Spec.Source.Config.Raw = raw
	return nil
}

// proxyThroughput is figure 3: requests per second and latency of GET /
// straight to the container of the Workload on its published port (what
// status.endpoints gives people, through Docker's docker-proxy), then on
// its own network address (where the proxy reaches it), then through the
// proxy, with the same keep-alive load loop. The target compares the proxy
// with the published port.
func (b *bench) proxyThroughput(ctx context.Context) error {
	obj, ok := b.workloads.get(bgWorkload)
	w, _ := obj.(*tinyforgev1alpha1.Workload)
	if !ok || w == nil || len(w.Status.Endpoints) == 0 {
		return fmt.Errorf("workload %s has no endpoint", bgWorkload)
	}
	direct := "http://" + w.Status.Endpoints[0] + "/"
	proxy, host := "http://"+b.srv.ports.proxyAddr()+"/", routeHost(b.run, bgWorkload)
	type loadRun struct{ name, url, host string }
	runs := []loadRun{{"direct", direct, ""}}
	if addr, err := b.networkAddr(ctx, w.Namespace, w.Name, w.Status.Endpoints[0]); err != nil {
		b.rep.note("figure 3: no run direct to the container's network address: %v", err)
	} else {
		runs = append(runs, loadRun{"network", "http://" + addr + "/", ""})
	}
	runs = append(runs, loadRun{"proxy", proxy, host})
	res := map[string]loadResult{}
	cpu := map[string]string{}
	for _, run := range runs {
		progress("  %s: %d connections for %s", run.name, b.o.loadConns, b.o.loadDuration)
		profile := ""
		if run.name == "proxy" {
			profile = b.o.proxyProfile
		}
		profiled := b.profileServer(ctx, profile, b.o.loadDuration, "figure 3's run through the proxy")
		before := b.sampleCPU()
		r := runLoad(ctx, b.o.loadConns, b.o.loadDuration, func(ctx context.Context, c *http.Client, _, _ int) error {
			return getOK(ctx, c, run.url, run.host)
		})
		cpu[run.name] = b.sampleCPU().cpuSince(before, r.ok, "request")
		profiled()
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if r.ok == 0 {
			return fmt.Errorf("%s: no request succeeded: %s", run.name, r.errSummary())
		}
		if s := r.errSummary(); s != "" {
			b.rep.note("figure 3, %s: %s", run.name, s)
		}
		res[run.name] = r
	}
	d, p := res["direct"], res["proxy"]
	share := p.rate() / d.rate()
	what := fmt.Sprintf("(GET /, %d keep-alive connections, %s)", b.o.loadConns, b.o.loadDuration)
	b.rep.info(3, "direct to the container's published port, requests/s "+what, fmt.Sprintf("%.0f/s", d.rate()))
	b.rep.info(3, "  latency p50 / p99", p50p99(d.lat))
	b.rep.info(3, "  CPU: server / benchflow", cpu["direct"])
	if n, ok := res["network"]; ok {
		b.rep.info(3, "direct to the container's network address (the proxy's upstream, no docker-proxy), requests/s",
			fmt.Sprintf("%.0f/s (proxy: %.0f%% of it)", n.rate(), 100*p.rate()/n.rate()))
		b.rep.info(3, "  latency p50 / p99", p50p99(n.lat))
		b.rep.info(3, "  CPU: server / benchflow", cpu["network"])
	}
	b.rep.check(3, "through the proxy, requests/s "+what, fmt.Sprintf("%.0f/s (%.0f%%)", p.rate(), 100*share),
		fmt.Sprintf(">= %.0f%% of direct = %.0f/s", 100*targetProxyShare, targetProxyShare*d.rate()), share >= targetProxyShare)
	b.rep.info(3, "  latency p50 / p99", p50p99(p.lat))
	b.rep.info(3, "  CPU: server / benchflow", cpu["proxy"])
	b.rep.note("figure 3: the load loop runs in benchflow on the same %d CPUs as the server and the container", runtime.NumCPU())
	return nil
}

// networkAddr returns the address on its Docker network of the container
// port that the running container of workload namespace/name publishes at
// endpoint: where TinyForge's proxy reaches it by default.
func (b *bench) networkAddr(ctx context.Context, namespace, name, endpoint string) (string, error) {
	_, public, err := net.SplitHostPort(endpoint)
	if err != nil {
		return "", fmt.Errorf("endpoint %q: %w", endpoint, err)
	}
	list, err := b.docker.ContainerList(ctx, container.ListOptions{Filters: docker.WorkloadFilter(namespace, name)})
	if err != nil {
		return "", fmt.Errorf("listing the containers of %s/%s: %w", namespace, name, err)
	}
	for _, c := range list {
		if c.State != container.StateRunning || c.NetworkSettings == nil {
			continue
		}
		ip := docker.ContainerIP(c.NetworkSettings.Networks, nil)
		for _, p := range c.Ports {
			if ip != "" && fmt.Sprint(p.PublicPort) == public {
				return net.JoinHostPort(ip, fmt.Sprint(p.PrivatePort)), nil
			}
		}
	}
	return "", fmt.Errorf("no running container of %s/%s with a network address publishes %s", namespace, name, endpoint)
}

// deploysPerSecond is figure 4: many Workloads created at once; the time
// from the first create to the last one Ready.
func (b *bench) deploysPerSecond(ctx context.Context) error {
	r, err := b.deployMany(ctx, 0, b.o.manyAtOnce)
	if err != nil {
		return err
	}
	b.manyReady = true
	n := b.o.manyAtOnce
	b.rep.info(4, fmt.Sprintf("%d Workloads created at once → all Ready", n), fmtDur(r.total))
	b.rep.info(4, "  deploys per second", fmt.Sprintf("%.1f/s", float64(n)/r.total.Seconds()))
	b.rep.info(4, "  all created (API, 16 clients) / first Ready / median Ready", fmtDur(r.created)+" / "+fmtDur(slices.Min(r.ready))+" / "+fmtDur(median(r.ready)))
	b.rep.info(4, "  Rollout Deploying → Succeeded", r.deploys)
	return nil
}

// manyResult is how a batch of creates went: when all were created, and
// when each was Ready, all counted from the first create.
type manyResult struct {
	created, total time.Duration
	ready          []time.Duration
	// deploys sums up the Rollouts' time Deploying.
	deploys string
}

// fanName names the Workloads of figures 4 and 7.
func fanName(i int) string { return fmt.Sprintf("fan-%03d", i) }

// deployMany creates the Workloads fan-<from> to fan-<to-1> of the
// registry image fan:v1 at once and waits until all are Ready.
func (b *bench) deployMany(ctx context.Context, from, to int) (manyResult, error) {
	names := map[string]bool{}
	var objs []client.Object
	for i := from; i < to; i++ {
		names[fanName(i)] = true
		objs = append(objs, imageWorkload(b.run, fanName(i), b.reg.ref(fanRepo+":v1"), b.o.probe))
	}
	t := b.workloads.track(func(o client.Object) bool { return names[o.GetName()] && readyAt(1)(o) })
	defer b.workloads.untrack(t)
	deploys := b.trackDeploys(names, false)
	defer deploys.summary(b.rollouts) // a no-op once summed up
	start := time.Now()
	if err := createAll(ctx, b.kube, objs); err != nil {
		return manyResult{}, err
	}
	created := time.Since(start)
	times, err := b.workloads.wait(ctx, t, b.o.waitTimeout, func(times map[string]time.Time) error {
		if len(times) == len(names) {
			return nil
		}
		return errNotYet
	}, func() string { return b.notReady(names, t) })
	if err != nil {
		return manyResult{}, err
	}
	r := manyResult{created: created, deploys: deploys.summary(b.rollouts)}
	for _, at := range times {
		d := at.Sub(start)
		r.ready = append(r.ready, d)
		r.total = max(r.total, d)
	}
	return r, nil
}

// notReady says how many of names t has not recorded, with one example.
func (b *bench) notReady(names map[string]bool, t *tracker) string {
	times := b.workloads.recorded(t)
	var missing []string
	for n := range names {
		if _, ok := times[n]; !ok {
			missing = append(missing, n)
		}
	}
	slices.Sort(missing)
	if len(missing) == 0 {
		return "all Workloads Ready"
	}
	msg := fmt.Sprintf("%d of %d Workloads Ready; %s", len(names)-len(missing), len(names), missing[0])
	if obj, ok := b.workloads.get(missing[0]); ok {
		msg += ": " + explainObject(obj)
	}
	return msg
}

// deployTrackers record when Rollouts of some Workloads were first seen
// Deploying and Succeeded, to tell time spent deploying from time spent
// queued.
type deployTrackers struct{ deploying, succeeded *tracker }

// trackDeploys starts recording the Rollouts of the Workloads names; with
// fromEvent only those an Event caused.
func (b *bench) trackDeploys(names map[string]bool, fromEvent bool) deployTrackers {
	phase := func(p tinyforgev1alpha1.RolloutPhase) func(client.Object) bool {
		return func(o client.Object) bool {
			ro, ok := o.(*tinyforgev1alpha1.Rollout)
			return ok && names[ro.Spec.WorkloadRef.Name] && ro.Status.Phase == p && (!fromEvent || ro.Spec.EventRef != nil)
		}
	}
	return deployTrackers{
		deploying: b.rollouts.track(phase(tinyforgev1alpha1.RolloutPhaseDeploying)),
		succeeded: b.rollouts.track(phase(tinyforgev1alpha1.RolloutPhaseSucceeded)),
	}
}

// summary stops the trackers and sums up the time from Deploying to
// Succeeded, and how many Rollouts were Deploying at once at most.
func (d deployTrackers) summary(w *watcher) string {
	start, end := w.untrack(d.deploying), w.untrack(d.succeeded)
	durs, concurrent := deploySpans(start, end)
	if len(durs) == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%s median, %s max; at most %d at once", fmtDur(median(durs)), fmtDur(slices.Max(durs)), concurrent)
}

// deploySpans returns the durations of the Rollouts with both a start and
// an end, and the most of those spans that overlapped.
func deploySpans(start, end map[string]time.Time) ([]time.Duration, int) {
	type edge struct {
		at    time.Time
		delta int
	}
	var durs []time.Duration
	var edges []edge
	for name, s := range start {
		e, ok := end[name]
		if !ok || e.Before(s) {
			continue
		}
		durs = append(durs, e.Sub(s))
		edges = append(edges, edge{s, 1}, edge{e, -1})
	}
	// Ends before starts at the same instant: touching spans do not overlap.
	slices.SortFunc(edges, func(a, b edge) int {
		if c := a.at.Compare(b.at); c != 0 {
			return c
		}
		return a.delta - b.delta
	})
	most, now := 0, 0
	for _, e := range edges {
		now += e.delta
		most = max(most, now)
	}
	return durs, most
}
