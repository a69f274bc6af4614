package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/go-connections/nat"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	tinyforgev1alpha1 "github.com/tinyforge/tinyforge/api/v1alpha1"
	"github.com/tinyforge/tinyforge/controllers"
)

// Settings of figures 8 and 9.
const (
	// workerPort is where the stack's worker service listens.
	workerPort = 9090
	// siteWorkload is figure 9's static Workload.
	siteWorkload = "site"
	// staticDir is where the serving image serves files from, and the
	// static source copies the site to.
	staticDir = "/www"
	// gitTimeout bounds one git command.
	gitTimeout = time.Minute
	// noComposeV2 is figure 8's baseline value without a compose v2 client.
	noComposeV2 = "n/a: no compose v2 client on this machine"
	// revisionCommitLength is how much of the commit the static source's
	// revisions keep.
	revisionCommitLength = 12
)

// The db service's healthcheck, as test/e2e's compose stack has it.
var dbHealthcheck = &container.HealthConfig{
	Test:        []string{"CMD", "/testapp", "-healthcheck"},
	Interval:    200 * time.Millisecond,
	Timeout:     5 * time.Second,
	Retries:     3,
	StartPeriod: time.Minute,
}

// composeFile is figure 8's stack, all of image: db with a healthcheck,
// web starting once db is healthy, and worker on another port.
func composeFile(image string) string {
	return fmt.Sprintf(`services:
  db:
    image: %[1]q
    healthcheck: {test: ["CMD", "/testapp", "-healthcheck"], interval: 200ms, timeout: 5s, retries: 3, start_period: 1m}
  web:
    image: %[1]q
    depends_on:
      db: {condition: service_healthy}
  worker:
    image: %[1]q
    command: ["-port", "%[2]d"]
`, image, workerPort)
}

// composeWorkload is a compose Workload of file, routed to web's port
// 8080, with the health check and strategy of every benchmark Workload.
func composeWorkload(ns, name, file string, probe time.Duration) *tinyforgev1alpha1.Workload {
	w := imageWorkload(ns, name, "unused", probe)
	cfg, _ := json.Marshal(map[string]any{"compose": file})
	w.Spec.Source = tinyforgev1alpha1.WorkloadSource{Kind: "compose", Config: &runtime.RawExtension{Raw: cfg}}
	w.Spec.Routes = []tinyforgev1alpha1.Route{{Service: "web", Port: testAppPort}}
	return w
}

// staticWorkload serves the folder site of the repository at url, branch
// main, from baseImage's staticDir.
func staticWorkload(ns, name, url, baseImage string, probe time.Duration) *tinyforgev1alpha1.Workload {
	w := imageWorkload(ns, name, "unused", probe)
	cfg, _ := json.Marshal(map[string]any{
		"git":       map[string]string{"url": url, "ref": "main", "path": "site"},
		"baseImage": baseImage,
		"root":      staticDir,
		"port":      testAppPort,
	})
	w.Spec.Source = tinyforgev1alpha1.WorkloadSource{Kind: "static", Config: &runtime.RawExtension{Raw: cfg}}
	return w
}

// composeToReady is figure 8: apply → Ready of a three-service compose
// Workload, next to `docker compose up -d --wait` of the same file when
// this machine has a compose v2 client, and next to the Engine API doing
// by hand what compose does. The runs alternate, so all see the same
// load; each stack is removed before the next starts.
func (b *bench) composeToReady(ctx context.Context) error {
	file := composeFile(b.local["v1"])
	compose, why := b.composeClient(ctx)
	var path string
	if compose != nil {
		path = filepath.Join(b.root, "compose.yaml")
		if err := os.WriteFile(path, []byte(file), 0o600); err != nil {
			return fmt.Errorf("writing the compose file: %w", err)
		}
	}
	var tf, api, cli []time.Duration
	for i := range b.o.sourceRuns {
		if compose != nil {
			d, err := b.composeUp(ctx, compose, path, fmt.Sprintf("%s-cli-%d", b.run, i))
			if err != nil {
				return fmt.Errorf("%s up: %w", strings.Join(compose, " "), err)
			}
			cli = append(cli, d)
		}
		d, err := b.stackAPI(ctx)
		if err != nil {
			return fmt.Errorf("Engine API stack: %w", err)
		}
		api = append(api, d)
		name := fmt.Sprintf("stack-%d", i)
		d, err = b.deployAndRemove(ctx, composeWorkload(b.run, name, file, b.o.probe), func() error {
			// Ready means served: web answers through the route.
			_, err := pollUntil(ctx, b.proxyClient, "http://"+b.srv.ports.proxyAddr()+"/", routeHost(b.run, name), "version=v1", b.o.pollEvery, b.o.waitTimeout)
			return err
		})
		if err != nil {
			return err
		}
		tf = append(tf, d)
	}
	n, mine := b.o.sourceRuns, median(tf)
	b.rep.info(8, fmt.Sprintf("Engine API: db+worker create+start → db healthy → web create+start → /healthz 200, median of %d", n), spread(api))
	name := fmt.Sprintf("apply → Ready, compose Workload db+web+worker (client-go create, watch), median of %d", n)
	if compose == nil {
		b.rep.info(8, fmt.Sprintf("docker compose -p <run> -f <file> up -d --wait, median of %d", n), noComposeV2)
		b.rep.add(8, [4]string{name, spread(tf), "<= docker compose up -d --wait", "n/a"})
		b.rep.note("figure 8: %s", why)
	} else {
		base := median(cli)
		b.rep.info(8, fmt.Sprintf("%s -p <run> -f <file> up -d --wait, median of %d", strings.Join(compose, " "), n), spread(cli))
		b.rep.check(8, name, spread(tf), "<= docker compose up -d --wait = "+fmtDur(base), mine <= base)
		b.rep.info(8, "  ratio apply → Ready / docker compose up --wait", fmt.Sprintf("%.2fx", float64(mine)/float64(base)))
	}
	b.rep.info(8, "  ratio apply → Ready / Engine API", fmt.Sprintf("%.2fx", float64(mine)/float64(median(api))))
	b.rep.note("figure 8: db's healthcheck runs every %s; the Engine API baseline polls db's health and web's /healthz every %s, the Workload probes web every %s; compose's --wait does not see web's /healthz",
		dbHealthcheck.Interval, b.o.probe, b.o.probe)
	return nil
}

// composeClient returns the command of a compose v2 client (docker
// compose, else docker-compose), or nil and why there is none.
func (b *bench) composeClient(ctx context.Context) ([]string, string) {
	candidates := [][]string{{b.o.docker, "compose"}}
	if p, err := exec.LookPath("docker-compose"); err == nil {
		candidates = append(candidates, []string{p})
	}
	var why []string
	for _, c := range candidates {
		vctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		out, err := exec.CommandContext(vctx, c[0], append(c[1:], "version")...).CombinedOutput()
		cancel()
		what := strings.Join(c, " ") + " version"
		if err != nil {
			why = append(why, fmt.Sprintf("%s: %v", what, err))
			continue
		}
		if major, ok := parseComposeVersion(string(out)); ok && major >= 2 {
			return c, ""
		}
		why = append(why, fmt.Sprintf("%s: %q is not v2 (no --wait)", what, truncate(firstLine(strings.TrimSpace(string(out))), 80)))
	}
	if len(why) == 1 {
		why = append(why, "no docker-compose on PATH")
	}
	return nil, strings.Join(why, "; ")
}

// parseComposeVersion reads the major version from `docker compose
// version` or `docker-compose version` output, such as "Docker Compose
// version v2.27.0" or "docker-compose version 1.29.2, build unknown".
func parseComposeVersion(out string) (int, bool) {
	fields := strings.Fields(firstLine(strings.TrimSpace(out)))
	for i, f := range fields {
		if !strings.EqualFold(f, "version") || i+1 >= len(fields) {
			continue
		}
		v := strings.TrimPrefix(strings.TrimSuffix(fields[i+1], ","), "v")
		major, _, _ := strings.Cut(v, ".")
		n, err := strconv.Atoi(major)
		if err != nil || n < 0 || len(major) > 4 || major[0] == '+' {
			return 0, false
		}
		return n, true
	}
	return 0, false
}

// composeUp times `<compose> -p project -f path up -d --wait`, then takes
// the stack down outside the timing.
func (b *bench) composeUp(ctx context.Context, compose []string, path, project string) (time.Duration, error) {
	run := func(args ...string) error {
		cctx, cancel := context.WithTimeout(ctx, b.o.waitTimeout)
		defer cancel()
		args = append(append(compose[1:len(compose):len(compose)], "-p", project, "-f", path), args...)
		if out, err := exec.CommandContext(cctx, compose[0], args...).CombinedOutput(); err != nil {
			return fmt.Errorf("%w: %s", err, truncate(strings.TrimSpace(string(out)), 2000))
		}
		return nil
	}
	defer func() {
		if err := run("down", "-v", "--remove-orphans", "-t", "1"); err != nil {
			b.rep.note("figure 8: compose down of %s: %v", project, err)
		}
	}()
	start := time.Now()
	if err := run("up", "-d", "--wait"); err != nil {
		return 0, err
	}
	return time.Since(start), nil
}

// stackAPI is what compose does, by hand through the Engine API: a
// network, db and worker created and started, db's health polled until
// healthy, then web created and started, until its /healthz answers.
// Everything is removed afterwards, outside the timing.
func (b *bench) stackAPI(ctx context.Context) (time.Duration, error) {
	labels := b.baselineLabels()
	netName := b.run + "-api-" + randomHex(3)
	var ids []string
	start := time.Now()
	if _, err := b.docker.NetworkCreate(ctx, netName, network.CreateOptions{Labels: labels}); err != nil {
		return 0, fmt.Errorf("creating network: %w", err)
	}
	defer func() {
		for _, id := range ids {
			b.removeBaseline(id)
		}
		rctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := b.docker.NetworkRemove(rctx, netName); err != nil && !cerrdefs.IsNotFound(err) {
			b.rep.note("figure 8: removing network %s: %v", netName, err)
		}
	}()
	run := func(service string, cfg *container.Config, hc *container.HostConfig) (string, error) {
		cfg.Image, cfg.Labels = b.local["v1"], labels
		hc.NetworkMode = container.NetworkMode(netName)
		resp, err := b.docker.ContainerCreate(ctx, cfg, hc, nil, nil, "")
		if err != nil {
			return "", fmt.Errorf("creating %s: %w", service, err)
		}
		ids = append(ids, resp.ID)
		if err := b.docker.ContainerStart(ctx, resp.ID, container.StartOptions{}); err != nil {
			return "", fmt.Errorf("starting %s: %w", service, err)
		}
		return resp.ID, nil
	}
	db, err := run("db", &container.Config{Healthcheck: dbHealthcheck}, &container.HostConfig{})
	if err != nil {
		return 0, err
	}
	if _, err := run("worker", &container.Config{Cmd: []string{"-port", strconv.Itoa(workerPort)}}, &container.HostConfig{}); err != nil {
		return 0, err
	}
	if err := b.waitHealthy(ctx, db); err != nil {
		return 0, err
	}
	port := nat.Port(fmt.Sprintf("%d/tcp", testAppPort))
	web, err := run("web", &container.Config{ExposedPorts: nat.PortSet{port: {}}},
		&container.HostConfig{PortBindings: nat.PortMap{port: {{HostIP: "127.0.0.1"}}}})
	if err != nil {
		return 0, err
	}
	return b.waitHealthz(ctx, web, start)
}

// errUnhealthy: a container's healthcheck reported unhealthy.
var errUnhealthy = errors.New("container unhealthy")

// waitHealthy polls the container's health every probe interval until
// Docker reports it healthy.
func (b *bench) waitHealthy(ctx context.Context, id string) error {
	deadline := time.NewTimer(b.o.waitTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(b.o.probe)
	defer tick.Stop()
	last := "no health yet"
	for {
		insp, err := b.docker.ContainerInspect(ctx, id)
		if err != nil {
			return fmt.Errorf("inspecting %.12s: %w", id, err)
		}
		if insp.State != nil && insp.State.Health != nil {
			last = insp.State.Health.Status
			switch last {
			case container.Healthy:
				return nil
			case container.Unhealthy:
				return fmt.Errorf("%w: %.12s", errUnhealthy, id)
			}
		}
		select {
		case <-tick.C:
		case <-deadline.C:
			return fmt.Errorf("container %.12s not healthy within %s: %s", id, b.o.waitTimeout, last)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// deployAndRemove deploys w, timing create → Ready, runs check, then
// deletes w and waits until it is gone (its containers, networks and
// images torn down), whatever happened.
func (b *bench) deployAndRemove(ctx context.Context, w *tinyforgev1alpha1.Workload, check func() error) (time.Duration, error) {
	defer b.removeWorkload(w.Name)
	d, err := b.deploy(ctx, w)
	if err != nil {
		return 0, err
	}
	if check != nil {
		if err := check(); err != nil {
			return 0, err
		}
	}
	return d, nil
}

// removeWorkload deletes Workload name and waits until the API no longer
// has it, so the server tore it down before cleanup stops the server.
func (b *bench) removeWorkload(name string) {
	ctx, cancel := context.WithTimeout(context.Background(), b.o.waitTimeout)
	defer cancel()
	w := &tinyforgev1alpha1.Workload{ObjectMeta: metav1.ObjectMeta{Namespace: b.run, Name: name}}
	if err := b.kube.Delete(ctx, w); err != nil && !apierrors.IsNotFound(err) {
		b.rep.note("deleting workload %s: %v", name, err)
		return
	}
	tick := time.NewTicker(readyPollInterval)
	defer tick.Stop()
	for {
		err := b.kube.Get(ctx, client.ObjectKeyFromObject(w), w)
		if apierrors.IsNotFound(err) {
			return
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			b.rep.note("workload %s still there %s after its deletion (last error %v)", name, b.o.waitTimeout, err)
			return
		}
	}
}

// staticCommitToServing is figure 9: a static site from a bare git
// repository: the first deploy, then commits pushed to main, each followed
// by a manual Rollout, until the proxy serves the new page.
func (b *bench) staticCommitToServing(ctx context.Context) error {
	repo, err := newSiteRepo(ctx, filepath.Join(b.root, "site-repo"))
	if err != nil {
		return err
	}
	page := func(i int) string { return fmt.Sprintf("benchflow site %s page %d", b.run, i) }
	if _, err := repo.commit(ctx, page(0)); err != nil {
		return err
	}
	serve, err := b.buildStaticServe(ctx)
	if err != nil {
		return err
	}
	url, host := "http://"+b.srv.ports.proxyAddr()+"/", routeHost(b.run, siteWorkload)
	defer b.removeWorkload(siteWorkload)
	start := time.Now()
	first, err := b.deploy(ctx, staticWorkload(b.run, siteWorkload, repo.url(), serve, b.o.probe))
	if err != nil {
		return err
	}
	at, err := pollUntil(ctx, b.proxyClient, url, host, page(0), b.o.pollEvery, b.o.waitTimeout)
	if err != nil {
		return err
	}
	firstServed := at.Sub(start)
	var pushes, served, ready []time.Duration
	for i := 1; i <= b.o.sourceRuns; i++ {
		start := time.Now()
		commit, err := repo.commit(ctx, page(i))
		if err != nil {
			return err
		}
		pushed := time.Now()
		prefix := commit[:min(len(commit), revisionCommitLength)]
		t := b.workloads.track(func(o client.Object) bool {
			w, ok := o.(*tinyforgev1alpha1.Workload)
			return ok && w.Name == siteWorkload && strings.HasPrefix(w.Status.CurrentRevision, prefix) && readyAt(1)(o)
		})
		if err := b.manualRollout(ctx, siteWorkload, i); err != nil {
			b.workloads.untrack(t)
			return err
		}
		at, err := pollUntil(ctx, b.proxyClient, url, host, page(i), b.o.pollEvery, b.o.waitTimeout)
		if err != nil {
			b.workloads.untrack(t)
			return err
		}
		// The next commit starts from one settled revision.
		readyTime, err := b.workloads.waitTracked(ctx, t, siteWorkload, b.o.waitTimeout, "to be Ready at commit "+prefix, explainObject)
		b.workloads.untrack(t)
		if err != nil {
			return err
		}
		pushes = append(pushes, pushed.Sub(start))
		served = append(served, at.Sub(start))
		ready = append(ready, readyTime.Sub(start))
	}
	n := b.o.sourceRuns
	b.rep.info(9, "first deploy of the static site: create → Ready", fmtDur(first))
	b.rep.info(9, "  create → the proxy serves the page", fmtDur(firstServed))
	b.rep.info(9, fmt.Sprintf("commit + push + manual Rollout → the proxy serves the new page, median of %d", n), spread(served))
	b.rep.info(9, "  commit + push + manual Rollout → Ready at the new commit", spread(ready))
	b.rep.info(9, "  the git commit + push itself", spread(pushes))
	b.rep.note("figure 9: bare repository over file://, branch main, folder site; each Rollout (reason Manual, no revision) makes the static source fetch main, build an image FROM the test app with STATIC_DIR=%s and switch blue-green; the proxy is polled every %s", staticDir, b.o.pollEvery)
	return nil
}

// buildStaticServe builds the serving image of figure 9: the test app
// serving staticDir, labelled with the run and removed with its images.
func (b *bench) buildStaticServe(ctx context.Context) (string, error) {
	if len(b.testApp) == 0 {
		return "", errors.New("the test app was not compiled")
	}
	tag := fmt.Sprintf("tinyforge-bench/%s:static", b.run)
	id, err := buildTestApp(ctx, b.docker, b.testApp, tag, "static", b.run, "STATIC_DIR="+staticDir)
	if err != nil {
		return "", err
	}
	b.images["static"] = id
	return tag, nil
}

// manualRollout creates a Rollout of workload with reason Manual and no
// revision, as `forgectl deploy` does without a manual trigger: the source
// resolves the workload's spec (branch main) anew.
func (b *bench) manualRollout(ctx context.Context, workload string, i int) error {
	var w tinyforgev1alpha1.Workload
	if err := b.kube.Get(ctx, client.ObjectKey{Namespace: b.run, Name: workload}, &w); err != nil {
		return fmt.Errorf("reading workload %s: %w", workload, err)
	}
	ro := &tinyforgev1alpha1.Rollout{
		ObjectMeta: metav1.ObjectMeta{
			Namespace:   b.run,
			Name:        fmt.Sprintf("%s-m%d-%s", workload, i, randomHex(2)),
			Annotations: map[string]string{"kubernetes.io/change-cause": "manual deploy: benchflow figure 9"},
		},
		Spec: tinyforgev1alpha1.RolloutSpec{
			WorkloadRef: tinyforgev1alpha1.LocalObjectReference{Name: workload},
			Reason:      tinyforgev1alpha1.CauseManual,
		},
	}
	if err := controllerutil.SetControllerReference(&w, ro, controllers.Scheme()); err != nil {
		return fmt.Errorf("owning rollout %s: %w", ro.Name, err)
	}
	if err := b.kube.Create(ctx, ro); err != nil {
		return fmt.Errorf("creating rollout %s: %w", ro.Name, err)
	}
	return nil
}

// siteRepo is a bare git repository served over file://, with a work tree
// to commit from.
type siteRepo struct{ bare, work string }

// newSiteRepo creates the bare repository (branch main) and its clone
// under dir.
func newSiteRepo(ctx context.Context, dir string) (*siteRepo, error) {
	r := &siteRepo{bare: filepath.Join(dir, "site.git"), work: filepath.Join(dir, "work")}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating %s: %w", dir, err)
	}
	if _, err := gitRun(ctx, dir, "init", "-q", "--bare", "-b", "main", r.bare); err != nil {
		return nil, err
	}
	if _, err := gitRun(ctx, dir, "clone", "-q", r.bare, r.work); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *siteRepo) url() string { return "file://" + r.bare }

// commit writes site/index.html, commits it and pushes to main; it
// returns the commit ID.
func (r *siteRepo) commit(ctx context.Context, content string) (string, error) {
	if err := os.MkdirAll(filepath.Join(r.work, "site"), 0o755); err != nil {
		return "", fmt.Errorf("creating the site folder: %w", err)
	}
	if err := os.WriteFile(filepath.Join(r.work, "site", "index.html"), []byte(content+"\n"), 0o644); err != nil {
		return "", fmt.Errorf("writing index.html: %w", err)
	}
	for _, args := range [][]string{{"add", "-A"}, {"commit", "-q", "-m", "site: " + content}, {"push", "-q", "origin", "HEAD:main"}} {
		if _, err := gitRun(ctx, r.work, args...); err != nil {
			return "", err
		}
	}
	return gitRun(ctx, r.work, "rev-parse", "HEAD")
}

// gitRun runs git in dir with a fixed identity and no prompts, and
// returns its trimmed output.
func gitRun(ctx context.Context, dir string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, gitTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=benchflow", "GIT_AUTHOR_EMAIL=benchflow@example.org",
		"GIT_COMMITTER_NAME=benchflow", "GIT_COMMITTER_EMAIL=benchflow@example.org", "GIT_TERMINAL_PROMPT=0",
		"GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, truncate(strings.TrimSpace(string(out)), 1000))
	}
	return strings.TrimSpace(string(out)), nil
}
