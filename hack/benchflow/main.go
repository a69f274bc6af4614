package main

// benchflow starts one `tinyforge server` (embedded etcd, proxy and webhook
// ingress on free loopback ports, data in a temporary directory), a real
// docker-registry whose notifications reach the ingress, and builds two
// FROM scratch images of test/testapp (v1 and v2). It then measures, in
// one run on this machine:
//
//  1. apply → Ready of an image Workload, next to `docker run` of the same
//     image to a passing /healthz (target: within 1.5x);
//  2. the blue-green switch: image update → the proxy serves the new version;
//  3. requests per second through the proxy next to straight to the
//     container, with one keep-alive load loop (target: at least 80%);
//  4. deploys per second when 50 Workloads are created at once;
//  5. webhook delivery → Event visible in a watch, and signed deliveries
//     per second the ingress accepts;
//  6. docker push to a registry → the registry's notification → the new
//     revision served through the proxy;
//  7. one Event fanned out to 100 bound Workloads → every Rollout Succeeded;
//  8. apply → Ready of a three-service compose stack, next to
//     `docker compose up -d --wait` of the same file where the machine has
//     a compose v2 client (target: no slower);
//  9. a static site from a local git repository: first deploy, then
//     commit + push + a manual Rollout → the proxy serves the new page.
//
// -figures picks some of them, for example -figures 8,9.
//
// A missed target is reported, never failed. The exit status is 1 when a
// figure could not be measured (the table still prints, the failure is in
// its notes) and 2 on bad flags. Every container carries the label
// tinyforge.dev/namespace=benchflow-<pid>-<random>, every image the label
// benchflow.tinyforge.dev/run with that value; both are removed at the end,
// and a later run removes those of a run whose process is gone.

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// options are the command-line flags.
type options struct {
	tinyforge string
	docker    string
	registry  string

	applyRuns    int
	switchRuns   int
	pushRuns     int
	manyAtOnce   int
	fanOut       int
	hookLatency  int
	hookDuration time.Duration
	loadDuration time.Duration
	loadConns    int
	probe        time.Duration
	pollEvery    time.Duration
	waitTimeout  time.Duration
	keep         bool
	sourceRuns   int
	// figures are the figures to measure; empty means all.
	figures map[int]bool

	// proxyProfile and hooksProfile are files for CPU profiles of the
	// server during figure 3's proxy run and figure 5's throughput run.
	proxyProfile, hooksProfile string
}

func parseFlags(args []string, output io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("benchflow", flag.ContinueOnError)
	fs.SetOutput(output)
	fs.StringVar(&o.tinyforge, "tinyforge", "bin/tinyforge", "Path to the tinyforge binary.")
	fs.StringVar(&o.docker, "docker", "", "Path to the docker CLI for the docker run baseline (default: docker on PATH, else /usr/bin/docker).")
	fs.StringVar(&o.registry, "registry", "docker-registry", "The CNCF distribution registry binary (Debian package docker-registry).")
	fs.IntVar(&o.applyRuns, "apply-runs", 5, "Figure 1: apply → Ready and docker run measurements, each.")
	fs.IntVar(&o.switchRuns, "switch-runs", 5, "Figure 2: blue-green switches.")
	fs.IntVar(&o.pushRuns, "push-runs", 3, "Figure 6: registry pushes.")
	fs.IntVar(&o.manyAtOnce, "many", 50, "Figure 4: Workloads created at once.")
	fs.IntVar(&o.fanOut, "fan-out", 100, "Figure 7: Workloads bound to the one trigger (at least -many).")
	fs.IntVar(&o.hookLatency, "hook-latency", 200, "Figure 5: sequential signed deliveries for the latency figure.")
	fs.DurationVar(&o.hookDuration, "hook-duration", 5*time.Second, "Figure 5: how long concurrent deliveries run for the throughput figure.")
	fs.DurationVar(&o.loadDuration, "load-duration", 5*time.Second, "Figure 3: how long each HTTP load run lasts.")
	fs.IntVar(&o.loadConns, "load-conns", 16, "Figure 3 and 5: concurrent keep-alive connections.")
	fs.DurationVar(&o.probe, "probe", 100*time.Millisecond, "Health probe interval of every Workload, and of the docker run baseline's /healthz polling.")
	fs.DurationVar(&o.pollEvery, "poll", 5*time.Millisecond, "How often the proxy is polled for a new version (the resolution of figures 2 and 6).")
	fs.DurationVar(&o.waitTimeout, "wait-timeout", 3*time.Minute, "Longest wait for any one state (Ready, serving, Succeeded).")
	fs.StringVar(&o.proxyProfile, "cpuprofile-proxy", "", "Write a CPU profile of the server during figure 3's run through the proxy to this file.")
	fs.StringVar(&o.hooksProfile, "cpuprofile-hooks", "", "Write a CPU profile of the server during figure 5's throughput run to this file.")
	fs.IntVar(&o.sourceRuns, "source-runs", 3, "Figures 8 and 9: compose stacks deployed, and site commits served, each.")
	figures := fs.String("figures", "", fmt.Sprintf("Comma-separated figures (or ranges, 1-%d) to measure, for example 8,9; all when empty.", numFigures))
	fs.BoolVar(&o.keep, "keep", false, "Keep the temporary directory (server data and logs, registry storage) and print where it is.")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if err := o.validate(fs.Args()); err != nil {
		return o, err
	}
	var err error
	if o.figures, err = parseFigures(*figures, numFigures); err != nil {
		return o, fmt.Errorf("-figures: %w", err)
	}
	return o, nil
}

// validate checks the flags' values; rest are the arguments left after them.
func (o *options) validate(rest []string) error {
	switch {
	case len(rest) > 0:
		return fmt.Errorf("unexpected arguments %q", rest)
	case o.applyRuns < 1 || o.switchRuns < 1 || o.pushRuns < 1 || o.hookLatency < 1 || o.loadConns < 1 || o.sourceRuns < 1:
		return errors.New("-apply-runs, -switch-runs, -push-runs, -hook-latency, -load-conns and -source-runs must be at least 1")
	case o.manyAtOnce < 1 || o.manyAtOnce > 500:
		return errors.New("-many must be from 1 to 500")
	case o.fanOut < o.manyAtOnce || o.fanOut > 500:
		return fmt.Errorf("-fan-out must be from -many (%d) to 500", o.manyAtOnce)
	case o.hookDuration < time.Second || o.loadDuration < time.Second:
		return errors.New("-hook-duration and -load-duration must be at least 1s")
	case o.probe < 10*time.Millisecond || o.probe > 10*time.Second:
		return errors.New("-probe must be from 10ms to 10s")
	case o.pollEvery < time.Millisecond || o.pollEvery > time.Second:
		return errors.New("-poll must be from 1ms to 1s")
	case o.waitTimeout < 10*time.Second:
		return errors.New("-wait-timeout must be at least 10s")
	}
	return nil
}

// resolveBinaries turns the binary flags into paths that exist.
func (o *options) resolveBinaries() error {
	bin, err := filepath.Abs(o.tinyforge)
	if err != nil {
		return fmt.Errorf("resolving -tinyforge: %w", err)
	}
	if _, err := os.Stat(bin); err != nil {
		return fmt.Errorf("tinyforge binary (run make build): %w", err)
	}
	o.tinyforge = bin
	if o.docker == "" {
		if o.docker, err = exec.LookPath("docker"); err != nil {
			o.docker = "/usr/bin/docker"
		}
	}
	if _, err := os.Stat(o.docker); err != nil {
		return fmt.Errorf("docker CLI: %w", err)
	}
	if o.registry, err = exec.LookPath(o.registry); err != nil {
		return fmt.Errorf("%w (Debian package docker-registry; run hack/test-env.sh)", err)
	}
	return nil
}

func main() {
	o, err := parseFlags(os.Args[1:], os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err == nil {
		err = o.resolveBinaries()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchflow:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err = run(ctx, o, os.Stdout)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchflow:", err)
		os.Exit(1)
	}
}

// run sets everything up, measures each figure, prints the report and
// cleans up. A figure that cannot be measured is noted and the others go
// on; the error then says which failed.
func run(ctx context.Context, o options, out io.Writer) (err error) {
	b, err := newBench(o)
	if err != nil {
		return err
	}
	rep := b.rep
	rep.note("machine: %d CPUs, %s/%s, load average (1 min) at the start %s", runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, loadAvg())
	defer func() {
		rep.note("load average (1 min) at the end: %s; above %d CPUs other processes compete and the figures are pessimistic", loadAvg(), runtime.NumCPU())
		rep.print(out)
	}()
	// Cleanup gets its own deadline: it must run after an interrupt too.
	defer b.cleanup()

	if err := b.setup(ctx); err != nil {
		return fmt.Errorf("setting up: %w", err)
	}
	figures := []struct {
		num  int
		name string
		run  func(context.Context) error
	}{
		{1, "figure 1 (apply → Ready)", b.applyToReady},
		{2, "figure 2 (blue-green switch)", b.blueGreenSwitch},
		{3, "figure 3 (proxy throughput)", b.proxyThroughput},
		{4, "figure 4 (deploys per second)", b.deploysPerSecond},
		{5, "figure 5 (webhook ingress)", b.webhookIngress},
		{6, "figure 6 (registry push → serving)", b.pushToServing},
		{7, "figure 7 (fan-out)", b.fanOutRollouts},
		{8, "figure 8 (compose stack apply → Ready)", b.composeToReady},
		{9, "figure 9 (static site commit → serving)", b.staticCommitToServing},
	}
	var failed []string
	for _, f := range figures {
		if len(o.figures) > 0 && !o.figures[f.num] {
			continue
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		start := time.Now()
		progress("%s", f.name)
		if err := f.run(ctx); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			failed = append(failed, f.name)
			rep.note("%s could not be measured: %v", f.name, err)
			progress("%s failed: %v", f.name, firstLine(err.Error()))
			if srvErr := b.srv.alive(); srvErr != nil {
				return srvErr
			}
			continue
		}
		progress("%s done in %s", f.name, fmtDur(time.Since(start)))
	}
	if len(failed) > 0 {
		return fmt.Errorf("not measured: %s (see the notes)", strings.Join(failed, ", "))
	}
	return nil
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "benchflow: %s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
}

// loadAvg is the 1-minute load average, or "?".
func loadAvg() string {
	data, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(data)); err == nil && len(f) > 0 {
		return f[0]
	}
	return "?"
}

// numFigures is how many figures run measures.
const numFigures = 9

// parseFigures reads -figures: comma-separated figure numbers from 1 to
// max, or ranges of them such as 1-3; empty means every figure (nil).
func parseFigures(s string, max int) (map[int]bool, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	num := func(p string) (int, error) {
		p = strings.TrimSpace(p)
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > max || strings.TrimLeft(p, "0123456789") != "" {
			return 0, fmt.Errorf("%q is not a figure from 1 to %d", truncate(strings.TrimSpace(p), 20), max)
		}
		return n, nil
	}
	out := map[int]bool{}
	for part := range strings.SplitSeq(s, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		from, err := num(lo)
		if err != nil {
			return nil, err
		}
		to := from
		if isRange {
			if to, err = num(hi); err != nil {
				return nil, err
			}
			if to < from {
				return nil, fmt.Errorf("range %q runs backwards", truncate(strings.TrimSpace(part), 20))
			}
		}
		for n := from; n <= to; n++ {
			out[n] = true
		}
	}
	return out, nil
}
