// Command benchapi measures a TinyForge server on this machine and prints a
// table of figures next to their targets:
//
//  1. the time from process start to /readyz ok, on fresh data directories
//     and once more on a second start of the same data directory;
//  2. the server's idle RSS with no Events and with -rss-events Events;
//  3. Event creates per second through the API with -concurrency clients,
//     while the Event controller dispatches them, and how long it takes to
//     catch up;
//  4. raw puts per second into the server's own embedded etcd with the same
//     concurrency, and the ratio of the two;
//  5. the creates again on `tinyforge apiserver`, the API server alone on
//     the same data directory, with no controller competing for the CPUs.
//
// Beside each figure it prints what explains it: RSS split into anonymous
// and file-backed pages, the Go heap; for each load phase the CPU used by the
// server and by benchapi itself, how busy the whole machine was, etcd's WAL
// fsyncs per operation, and the server's own mean request and etcd latency.
// -cpuprofile saves a CPU profile of the server taken during the creates,
// -heapprofile a heap profile of the idle server with -rss-events Events.
//
// A missed target is reported, never turned into a failing exit status; the
// exit status is non-zero only when the benchmark itself cannot run. Every
// server it starts listens on loopback only, on free ports, with its data in
// a temporary directory that is removed afterwards.
//
// Run it through hack/bench-api.sh (make bench), which builds it.
package main

import (
	"bufio"
	"cmp"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"text/tabwriter"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/tinyforge/tinyforge/hack/internal/benchkit"
)

// Targets the figures are compared with.
const (
	targetReady      = 1500 * time.Millisecond
	targetIdleRSSMiB = 150
	targetCreatesPS  = 600
)

// Bounds on everything that waits.
const (
	readyPollInterval = 10 * time.Millisecond
	readyProbeTimeout = time.Second
	stopTimeout       = 30 * time.Second
	opTimeout         = 30 * time.Second
	etcdDialTimeout   = 10 * time.Second
	benchNamespace    = "default"
	etcdBenchPrefix   = "/bench/"
	eventsKeyPrefix   = "/registry/tinyforge.dev/events/"
)

var eventsGVR = schema.GroupVersionResource{Group: "tinyforge.dev", Version: "v1alpha1", Resource: "events"}

// options are the command-line flags.
type options struct {
	tinyforge    string
	creates      int
	concurrency  int
	idle         time.Duration
	rssEvents    int
	starts       int
	etcdPuts     int
	valueSize    int
	connMode     string
	readyTimeout time.Duration
	loadTimeout  time.Duration
	cpuProfile   string
	profileFor   time.Duration
	heapProfile  string
	keep         bool

	// proxyFlag is set when the binary's server runs the proxy, whose
	// default address is not loopback and so must be set.
	proxyFlag bool
	// ingressFlag is set when it runs the webhook ingress too.
	ingressFlag bool
	// metricsFlag is set when the controllers can serve their own
	// /metrics, which tell when the Event controller has caught up.
	metricsFlag bool
}

func parseFlags() (options, error) {
	var o options
	flag.StringVar(&o.tinyforge, "tinyforge", "bin/tinyforge", "Path to the tinyforge binary.")
	flag.IntVar(&o.creates, "creates", 5000, "Events to create for the API throughput figure.")
	flag.IntVar(&o.concurrency, "concurrency", 16, "Concurrent clients for API creates and etcd puts.")
	flag.DurationVar(&o.idle, "idle", 30*time.Second, "How long the server idles before each RSS reading.")
	flag.IntVar(&o.rssEvents, "rss-events", 1000, "Events present for the second RSS reading.")
	flag.IntVar(&o.starts, "starts", 3, "Starts on fresh data directories for the readiness figure.")
	flag.IntVar(&o.etcdPuts, "etcd-puts", 0, "Raw etcd puts (0: as many as -creates).")
	flag.IntVar(&o.valueSize, "value-size", 1024, "Bytes per raw etcd value.")
	flag.StringVar(&o.connMode, "conns", "shared", "API client connections: shared (one HTTP/2 connection, client-go's default) or per-client.")
	flag.DurationVar(&o.readyTimeout, "ready-timeout", 60*time.Second, "Longest wait for /readyz after a start.")
	flag.DurationVar(&o.loadTimeout, "load-timeout", 5*time.Minute, "Longest run of one load phase.")
	flag.StringVar(&o.cpuProfile, "cpuprofile", "", "Write a CPU profile of the server, taken during the API creates, to this file (go tool pprof bin/tinyforge FILE).")
	flag.StringVar(&o.heapProfile, "heapprofile", "", "Write a heap profile of the idle server with -rss-events Events to this file (go tool pprof -sample_index=inuse_space bin/tinyforge FILE).")
	flag.DurationVar(&o.profileFor, "cpuprofile-for", 10*time.Second, "Length of the -cpuprofile profile; keep it shorter than the creates.")
	flag.BoolVar(&o.keep, "keep", false, "Keep the data dirs and server logs, and print where they are.")
	flag.Parse()
	if o.etcdPuts == 0 {
		o.etcdPuts = o.creates
	}
	switch {
	case flag.NArg() > 0:
		return o, fmt.Errorf("unexpected arguments %q", flag.Args())
	case o.creates <= 0 || o.concurrency <= 0 || o.starts <= 0 || o.etcdPuts <= 0 || o.valueSize <= 0 || o.rssEvents < 0:
		return o, errors.New("-creates, -concurrency, -starts, -etcd-puts and -value-size must be positive, -rss-events not negative")
	case o.connMode != "shared" && o.connMode != "per-client":
		return o, fmt.Errorf("-conns %q: want shared or per-client", o.connMode)
	case o.idle < 0 || o.readyTimeout <= 0 || o.loadTimeout <= 0 || o.profileFor < time.Second:
		return o, errors.New("-idle must not be negative, -ready-timeout and -load-timeout must be positive, -cpuprofile-for at least 1s")
	}
	bin, err := filepath.Abs(o.tinyforge)
	if err != nil {
		return o, fmt.Errorf("resolving -tinyforge: %w", err)
	}
	if _, err := os.Stat(bin); err != nil {
		return o, fmt.Errorf("tinyforge binary (run make build): %w", err)
	}
	o.tinyforge = bin
	help, err := exec.Command(bin, "server", "--help").CombinedOutput()
	if err != nil {
		return o, fmt.Errorf("running %s server --help: %w", bin, err)
	}
	o.proxyFlag = strings.Contains(string(help), "--proxy-http-address")
	o.ingressFlag = strings.Contains(string(help), "--ingress-address")
	o.metricsFlag = strings.Contains(string(help), "--metrics-bind-address")
	return o, nil
}

func main() {
	o, err := parseFlags()
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchapi:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "benchapi:", err)
		stop()
		os.Exit(1)
	}
}

// run does every measurement, cleaning up as it goes, then prints the table.
func run(ctx context.Context, o options, out io.Writer) error {
	root, err := os.MkdirTemp("", "tinyforge-bench-")
	if err != nil {
		return fmt.Errorf("creating temp dir: %w", err)
	}
	if o.keep {
		defer progress("data dirs and server logs kept in %s", root)
	} else {
		defer os.RemoveAll(root)
	}

	b := &bench{o: o, rep: &report{}}
	b.rep.note("machine: %d CPUs, %s/%s; client: %s connections, %d workers, QPS/Burst unthrottled, JSON",
		runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, o.connMode, o.concurrency)
	defer b.rep.print(out)
	b.rep.note("load average (1 min) at the start: %s", loadAvg())
	defer func() {
		b.rep.note("load average (1 min) at the end: %s; above %d CPUs, other processes compete and the figures are pessimistic", loadAvg(), runtime.NumCPU())
	}()

	defer func() {
		if b.srv != nil {
			b.srv.stop() // a no-op once stopped below
		}
	}()
	if err := b.startup(ctx, root); err != nil {
		return err
	}
	if err := b.load(ctx); err != nil {
		return err
	}
	if d, err := b.srv.stop(); err != nil {
		b.rep.note("stopping the server: %v", err)
	} else {
		b.rep.info("shutdown after SIGTERM", fmtDur(d))
	}
	return b.apiAlone(ctx)
}

// bench is one benchmark run: its options, its report and, once started,
// the server under test and the clients that reach it.
type bench struct {
	o   options
	rep *report

	srv     *server
	restCfg *rest.Config
	etcd    etcdEndpoint
	clients []dynamic.ResourceInterface
	// etcdRate is the raw etcd puts/s measured on the whole server.
	etcdRate float64
}

// startup measures readiness on o.starts fresh data directories, then
// restarts the first one and keeps that server for the load phases.
func (b *bench) startup(ctx context.Context, root string) error {
	var fresh []time.Duration
	var first struct {
		dir   string
		ports ports
	}
	for i := range b.o.starts {
		name := fmt.Sprintf("ready, fresh data dir #%d", i+1)
		dir, p, d, err := b.freshStart(ctx, root, i+1)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil {
			// A start that fails is a finding, not the end of the run.
			b.rep.check(name, "failed, see notes", "<= "+fmtDur(targetReady), false)
			b.rep.note("fresh start #%d failed: %v", i+1, err)
			progress("fresh start #%d failed", i+1)
			continue
		}
		fresh = append(fresh, d)
		b.rep.check(name, fmtDur(d), "<= "+fmtDur(targetReady), d <= targetReady)
		if first.dir == "" {
			first.dir, first.ports = dir, p
		} else if err := os.RemoveAll(dir); err != nil {
			return fmt.Errorf("removing %s: %w", dir, err)
		}
	}
	if len(fresh) == 0 {
		return errors.New("no fresh start became ready")
	}
	med := median(fresh)
	b.rep.check(fmt.Sprintf("ready, fresh, median of %d", len(fresh)), fmtDur(med), "<= "+fmtDur(targetReady), med <= targetReady)

	progress("starting again on the data dir of the first fresh start")
	srv, err := startServer(b.o, partServer, first.dir, first.ports)
	if err != nil {
		return err
	}
	d, err := srv.waitReady(ctx, b.o.readyTimeout)
	if err != nil {
		srv.stop()
		return fmt.Errorf("second start of the same data dir: %w", err)
	}
	b.rep.check("ready, second start of same data dir", fmtDur(d), "<= "+fmtDur(targetReady), d <= targetReady)
	b.srv = srv
	return b.connect()
}

// freshStart starts a server on a new data directory, waits for /readyz and
// stops it again. A start that fails is noted and tried again on new ports,
// up to three times: other processes on this machine can take a port
// between freePorts and the server's bind.
func (b *bench) freshStart(ctx context.Context, root string, n int) (dir string, p ports, ready time.Duration, err error) {
	const attempts = 3
	for a := 1; a <= attempts; a++ {
		dir = filepath.Join(root, fmt.Sprintf("fresh-%d-%d", n, a))
		if p, err = freePorts(); err != nil {
			return "", ports{}, 0, err
		}
		if ready, err = b.startStop(ctx, dir, p); err == nil {
			progress("fresh start #%d ready after %s", n, fmtDur(ready))
			return dir, p, ready, nil
		}
		if ctx.Err() != nil {
			return "", ports{}, 0, ctx.Err()
		}
		b.rep.note("fresh start #%d, attempt %d failed and was retried: %v", n, a, err)
		progress("fresh start #%d, attempt %d failed; retrying on other ports", n, a)
		if err := os.RemoveAll(dir); err != nil {
			return "", ports{}, 0, fmt.Errorf("removing %s: %w", dir, err)
		}
	}
	return "", ports{}, 0, fmt.Errorf("%d attempts failed, the last: %w", attempts, err)
}

// startStop starts a server on dir, waits for /readyz and stops it again.
func (b *bench) startStop(ctx context.Context, dir string, p ports) (time.Duration, error) {
	srv, err := startServer(b.o, partServer, dir, p)
	if err != nil {
		return 0, err
	}
	ready, err := srv.waitReady(ctx, b.o.readyTimeout)
	if _, stopErr := srv.stop(); err == nil && stopErr != nil {
		err = fmt.Errorf("stopping: %w", stopErr)
	}
	return ready, err
}

// connect builds the API and etcd clients for the running server.
func (b *bench) connect() error {
	cfg, err := clientcmd.BuildConfigFromFlags("", filepath.Join(b.srv.dataDir, "kubeconfig"))
	if err != nil {
		return fmt.Errorf("loading the admin kubeconfig: %w", err)
	}
	unthrottle(cfg)
	b.restCfg = cfg
	if b.clients, err = eventClients(cfg, b.o.concurrency, b.o.connMode); err != nil {
		return err
	}
	b.etcd, err = loadEtcdEndpoint(b.srv.dataDir, b.srv.ports.etcdClient)
	return err
}

// load takes the idle RSS readings, then the API and etcd throughput.
func (b *bench) load(ctx context.Context) error {
	if err := b.idleRSS(ctx, 0); err != nil {
		return err
	}
	if b.o.rssEvents > 0 {
		progress("creating %d Events", b.o.rssEvents)
		res := runLoad(ctx, b.o.rssEvents, b.o.concurrency, b.o.loadTimeout, createEvent(b.clients, "rss"))
		if err := cmp.Or(b.srv.alive(), res.err()); err != nil {
			return fmt.Errorf("creating Events for the RSS reading: %w", err)
		}
		if err := b.idleRSS(ctx, b.o.rssEvents); err != nil {
			return err
		}
	}
	apiRate, created, err := b.apiCreates(ctx, "API Event creates/s, whole server", "bench", b.o.cpuProfile)
	if err != nil {
		return err
	}
	if b.o.metricsFlag {
		if err := b.awaitDispatch(ctx, b.o.rssEvents+b.o.creates, created); err != nil {
			return err
		}
	}
	if m, err := b.srv.mem(); err == nil {
		b.rep.info(fmt.Sprintf("RSS right after the %d creates", b.o.creates), fmtMiB(m.rss))
	}
	etcdRate, err := b.etcdPuts(ctx)
	if err != nil {
		return err
	}
	b.etcdRate = etcdRate
	b.rep.info("ratio API creates / etcd puts, whole server", fmtRatio(apiRate, etcdRate))
	return nil
}

// idleRSS idles o.idle, then reads the server's RSS and Go heap; events is
// how many Events exist.
func (b *bench) idleRSS(ctx context.Context, events int) error {
	what := fmt.Sprintf("%d Events", events)
	progress("idling %s with %s", b.o.idle, what)
	if err := sleep(ctx, b.o.idle); err != nil {
		return err
	}
	m, err := b.srv.mem()
	if err != nil {
		return err
	}
	label := fmt.Sprintf("idle RSS after %s, %s", b.o.idle, what)
	if events == 0 {
		b.rep.info(label, fmtMiB(m.rss))
	} else {
		b.rep.check(label, fmtMiB(m.rss), fmt.Sprintf("< %d MiB", targetIdleRSSMiB), m.rss < targetIdleRSSMiB<<20)
	}
	b.rep.info("  anonymous / file-backed", fmtMiB(m.anon)+" / "+fmtMiB(m.file))
	b.rep.info("  peak RSS so far", fmtMiB(m.hwm))
	g, err := scrapeMetrics(ctx, b.apiMetricsClient(), b.restCfg.Host)
	if err != nil {
		b.rep.note("no Go runtime figures with %s: %v", what, err)
		return nil
	}
	heap, _ := g.sum("go_memstats_heap_inuse_bytes", nil)
	sys, _ := g.sum("go_memstats_sys_bytes", nil)
	goroutines, _ := g.sum("go_goroutines", nil)
	b.rep.info("  Go heap in use / from the OS", fmtMiB(int64(heap))+" / "+fmtMiB(int64(sys)))
	b.rep.info("  goroutines", strconv.Itoa(int(goroutines)))
	if events > 0 && b.o.heapProfile != "" {
		if err := heapProfile(ctx, b.apiMetricsClient(), b.restCfg.Host, b.o.heapProfile); err != nil {
			b.rep.note("heap profile: %v", err)
		} else {
			b.rep.note("heap profile of the idle server with %s: %s (go tool pprof -sample_index=inuse_space %s %s)", what, b.o.heapProfile, b.o.tinyforge, b.o.heapProfile)
		}
	}
	return nil
}

// apiCreates creates o.creates Events named prefix-N through the API and
// reports the rate under label, with a CPU profile of the server written to
// cpuProfile unless it is empty; it returns the rate and how long the
// creates took.
func (b *bench) apiCreates(ctx context.Context, label, prefix, cpuProfile string) (float64, time.Duration, error) {
	if cpuProfile != "" {
		done := b.profileInBackground(ctx, cpuProfile)
		defer done()
	}
	before := b.snapshot(ctx)
	progress("creating %d Events with %d clients", b.o.creates, b.o.concurrency)
	res := runLoad(ctx, b.o.creates, b.o.concurrency, b.o.loadTimeout, createEvent(b.clients, prefix))
	if err := cmp.Or(b.srv.alive(), res.err()); err != nil {
		return 0, 0, fmt.Errorf("API creates: %w", err)
	}
	after := b.snapshot(ctx)
	rate := res.rate()
	b.rep.check(fmt.Sprintf("%s (%d, %d clients)", label, b.o.creates, b.o.concurrency),
		fmt.Sprintf("%.0f/s", rate), fmt.Sprintf(">= %d/s", targetCreatesPS), rate >= targetCreatesPS)
	b.rep.info("  client latency p50 / p99 / max", res.latencies())
	b.phaseDetails(before, after, res)
	if before.api != "" && after.api != "" {
		ev := map[string]string{"group": eventsGVR.Group, "resource": eventsGVR.Resource}
		handler := meanDelta(before.api, after.api, "apiserver_request_duration_seconds", with(ev, "verb", "POST"))
		store := meanDelta(before.api, after.api, "etcd_request_duration_seconds", with(ev, "operation", "create"))
		b.rep.info("  server-side mean: request / its etcd create", fmtDur(handler)+" / "+fmtDur(store))
	}
	b.rep.info("  server log written", fmt.Sprintf("%d bytes", after.log-before.log))
	return rate, res.elapsed, nil
}

// apiAlone restarts the stopped server's data dir as `tinyforge apiserver`
// and measures the same creates again: the API's own write path with no
// controller competing for the CPUs, as DESIGN.md's prototype API server
// was measured. The whole server's figure is lower by what the Event
// controller's dispatch takes meanwhile. (The same data dir, not a fresh
// one: the API server delays creates of a custom resource for 2s after its
// CRD is first established.)
func (b *bench) apiAlone(ctx context.Context) error {
	progress("starting the API server alone on the same data dir")
	srv, err := startServer(b.o, partAPIServer, b.srv.dataDir, b.srv.ports)
	if err != nil {
		return err
	}
	b.srv = srv
	if _, err := srv.waitReady(ctx, b.o.readyTimeout); err != nil {
		return fmt.Errorf("tinyforge apiserver: %w", err)
	}
	if err := b.connect(); err != nil {
		return err
	}
	rate, _, err := b.apiCreates(ctx, "API Event creates/s, API server alone", "alone", "")
	if err != nil {
		return err
	}
	b.rep.info("ratio API creates / etcd puts, API server alone", fmtRatio(rate, b.etcdRate))
	if _, err := srv.stop(); err != nil {
		b.rep.note("stopping the API server: %v", err)
	}
	return nil
}

// awaitDispatch waits until the Event controller has handled every Event
// created (events in all), reading the controllers' own /metrics, and
// reports how far it lagged behind the creates. The creates' rate counts
// the API's writes; each Event also gets its status written by the
// controller, which competes for the same CPUs and falls behind during the
// creates. Waiting here also keeps that catching-up out of the etcd figure.
func (b *bench) awaitDispatch(ctx context.Context, events int, created time.Duration) error {
	base := "http://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(b.srv.ports.metrics))
	client := &http.Client{}
	ended := time.Now()
	deadline := ended.Add(b.o.loadTimeout)
	backlog := -1.0
	progress("waiting for the Event controller to handle all %d Events", events)
	for {
		m, err := scrapeMetrics(ctx, client, base)
		if err != nil {
			b.rep.note("no dispatch figures: the controllers' metrics: %v", err)
			return nil
		}
		depth, ok1 := m.sum("workqueue_depth", map[string]string{"name": "event"})
		active, ok2 := m.sum("controller_runtime_active_workers", map[string]string{"controller": "event"})
		done, ok3 := m.sum("controller_runtime_reconcile_total", map[string]string{"controller": "event"})
		if !ok1 || !ok2 || !ok3 {
			b.rep.note("no dispatch figures: the controllers' metrics have no Event controller queue")
			return nil
		}
		if backlog < 0 {
			backlog = depth + active
		}
		if depth == 0 && active == 0 && done >= float64(events) {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the Event controller still had %.0f Events queued %s after the creates", depth+active, b.o.loadTimeout)
		}
		if err := sleep(ctx, 50*time.Millisecond); err != nil {
			return err
		}
		if err := b.srv.alive(); err != nil {
			return err
		}
	}
	lag := time.Since(ended)
	b.rep.info("  Event controller's queue when the creates ended", fmt.Sprintf("%.0f Events", backlog))
	b.rep.info("  all dispatched (status written) after the creates", fmtDur(lag))
	b.rep.info("  creates and dispatches, end to end", fmt.Sprintf("%.0f/s", float64(b.o.creates)/(created+lag).Seconds()))
	return nil
}

// etcdPuts puts o.etcdPuts values straight into the embedded etcd, then
// deletes them again.
func (b *bench) etcdPuts(ctx context.Context) (float64, error) {
	cli, err := newEtcdClient(b.etcd)
	if err != nil {
		return 0, err
	}
	defer cli.Close()
	if size, err := storedEventSize(ctx, cli); err == nil {
		b.rep.info("an Event as stored in etcd", fmt.Sprintf("%d bytes", size))
	}

	value := strings.Repeat("x", b.o.valueSize)
	before := b.snapshot(ctx)
	progress("putting %d values of %d bytes into etcd with %d goroutines", b.o.etcdPuts, b.o.valueSize, b.o.concurrency)
	res := runLoad(ctx, b.o.etcdPuts, b.o.concurrency, b.o.loadTimeout, func(ctx context.Context, _, i int) error {
		_, err := cli.Put(ctx, fmt.Sprintf("%s%08d", etcdBenchPrefix, i), value)
		return err
	})
	after := b.snapshot(ctx)
	cleanCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), opTimeout)
	defer cancel()
	if _, err := cli.Delete(cleanCtx, etcdBenchPrefix, clientv3.WithPrefix()); err != nil {
		b.rep.note("deleting %s from etcd: %v", etcdBenchPrefix, err)
	}
	if err := res.err(); err != nil {
		return 0, fmt.Errorf("etcd puts: %w", err)
	}
	rate := res.rate()
	b.rep.info(fmt.Sprintf("etcd puts/s (%d x %d B, %d goroutines)", b.o.etcdPuts, b.o.valueSize, b.o.concurrency), fmt.Sprintf("%.0f/s", rate))
	b.rep.info("  client latency p50 / p99 / max", res.latencies())
	b.phaseDetails(before, after, res)
	return rate, nil
}

// snapshot is what the server's counters read at one moment; a metrics
// text is empty when it could not be read.
type snapshot struct {
	serverCPU, ownCPU time.Duration
	machine           machineCPU
	log               int64
	api, etcd         metrics
}

func (b *bench) snapshot(ctx context.Context) snapshot {
	s := snapshot{ownCPU: selfCPU(), machine: readMachineCPU(), log: b.srv.logSize()}
	s.serverCPU, _ = b.srv.cpu()
	var err error
	if s.api, err = scrapeMetrics(ctx, b.apiMetricsClient(), b.restCfg.Host); err != nil {
		progress("API server metrics: %v", err)
	}
	if s.etcd, err = scrapeMetrics(ctx, b.etcd.httpClient(), b.etcd.url); err != nil {
		progress("etcd metrics: %v", err)
	}
	return s
}

// phaseDetails reports where a load phase spent its time: CPU on both sides
// and the WAL fsyncs etcd did per operation.
func (b *bench) phaseDetails(before, after snapshot, res loadResult) {
	b.rep.info("  CPU: server / benchapi", cpuShare(after.serverCPU-before.serverCPU, res)+" / "+cpuShare(after.ownCPU-before.ownCPU, res))
	if busy, ok := after.machine.busySince(before.machine); ok {
		b.rep.info("  machine CPU busy, all processes", fmt.Sprintf("%.0f%% of %d CPUs", 100*busy, runtime.NumCPU()))
	}
	if before.etcd == "" || after.etcd == "" {
		return
	}
	const fsync = "etcd_disk_wal_fsync_duration_seconds"
	n0, _ := before.etcd.sum(fsync+"_count", nil)
	n1, _ := after.etcd.sum(fsync+"_count", nil)
	b.rep.info("  etcd WAL fsyncs per op, mean fsync", fmt.Sprintf("%.2f, %s",
		(n1-n0)/float64(max(1, res.ok)), fmtDur(meanDelta(before.etcd, after.etcd, fsync, nil))))
}

// profileInBackground starts fetching a CPU profile of the server into
// path; the returned func waits for it and notes the outcome.
func (b *bench) profileInBackground(ctx context.Context, path string) (wait func()) {
	profiled := make(chan error, 1)
	go func() {
		profiled <- cpuProfile(ctx, b.apiMetricsClient(), b.restCfg.Host, b.o.profileFor, path)
	}()
	return func() {
		if err := <-profiled; err != nil {
			b.rep.note("CPU profile: %v", err)
		} else {
			b.rep.note("CPU profile of the server during the creates: %s (go tool pprof %s %s)", path, b.o.tinyforge, path)
		}
	}
}

// apiMetricsClient is an HTTP client with the admin credentials.
func (b *bench) apiMetricsClient() *http.Client {
	c, err := rest.HTTPClientFor(b.restCfg)
	if err != nil {
		return &http.Client{Transport: errTransport{err}}
	}
	return c
}

// errTransport fails every request with err.
type errTransport struct{ err error }

func (t errTransport) RoundTrip(*http.Request) (*http.Response, error) { return nil, t.err }

// ---- the server process ----

// ports are the loopback ports a server listens on.
type ports struct{ secure, etcdClient, etcdPeer, proxy, metrics int }

// freePorts picks distinct free loopback ports, holding each until all are
// chosen.
func freePorts() (ports, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	var nums [5]int
	for i := range nums {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return ports{}, fmt.Errorf("finding a free port: %w", err)
		}
		ls = append(ls, l)
		nums[i] = l.Addr().(*net.TCPAddr).Port
	}
	return ports{secure: nums[0], etcdClient: nums[1], etcdPeer: nums[2], proxy: nums[3], metrics: nums[4]}, nil
}

// The parts of TinyForge the benchmark starts: the whole server, and the
// API server alone.
const (
	partServer    = "server"
	partAPIServer = "apiserver"
)

// server is a running `tinyforge server` or `tinyforge apiserver` process.
type server struct {
	cmd     *exec.Cmd
	dataDir string
	ports   ports
	logPath string
	started time.Time
	exited  chan struct{}
	waitErr error
	once    sync.Once
}

// startServer starts `o.tinyforge part` with its data in dataDir and its
// output appended to dataDir.log, with the flags o found the whole server
// takes; the start time is taken just before the exec.
func startServer(o options, part, dataDir string, p ports) (*server, error) {
	logPath := dataDir + ".log"
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening server log: %w", err)
	}
	defer logFile.Close() // the child has its own descriptor
	args := []string{part,
		"--data-dir", dataDir,
		"--bind-address", "127.0.0.1",
		"--secure-port", strconv.Itoa(p.secure),
		"--etcd-client-port", strconv.Itoa(p.etcdClient),
		"--etcd-peer-port", strconv.Itoa(p.etcdPeer)}
	if part == partServer && o.proxyFlag {
		args = append(args, "--proxy-http-address", net.JoinHostPort("127.0.0.1", strconv.Itoa(p.proxy)))
	}
	if part == partServer && o.ingressFlag {
		// Any free loopback port: the ingress's default, :8090 on every
		// interface, would clash between servers started at once.
		args = append(args, "--ingress-address", "127.0.0.1:0")
	}
	if part == partServer && o.metricsFlag {
		args = append(args, "--metrics-bind-address", net.JoinHostPort("127.0.0.1", strconv.Itoa(p.metrics)))
	}
	cmd := exec.Command(o.tinyforge, args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = sysProcAttr()
	s := &server{cmd: cmd, dataDir: dataDir, ports: p, logPath: logPath, exited: make(chan struct{})}
	s.started = time.Now()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", o.tinyforge, err)
	}
	go func() {
		s.waitErr = cmd.Wait()
		close(s.exited)
	}()
	return s, nil
}

// waitReady polls /readyz until it answers 200 and returns the time since
// the start, on the monotonic clock.
func (s *server) waitReady(ctx context.Context, timeout time.Duration) (time.Duration, error) {
	client := &http.Client{
		Timeout: readyProbeTimeout,
		Transport: &http.Transport{
			// The serving certificate is self-signed and generated by this
			// very start; the probe goes to loopback and carries no secret.
			TLSClientConfig: &tls.Config{InsecureSkipVerify: true},
			Proxy:           nil,
		},
	}
	defer client.CloseIdleConnections()
	u := fmt.Sprintf("https://127.0.0.1:%d/readyz", s.ports.secure)
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(readyPollInterval)
	defer tick.Stop()
	for {
		if probe(ctx, client, u) {
			return time.Since(s.started), nil
		}
		select {
		case <-tick.C:
		case <-s.exited:
			return 0, fmt.Errorf("server exited before it was ready (%v); log %s:\n%s", s.waitErr, s.logPath, s.logExcerpt())
		case <-deadline.C:
			return 0, fmt.Errorf("/readyz not ok after %s; log %s:\n%s", timeout, s.logPath, s.logExcerpt())
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
}

func probe(ctx context.Context, client *http.Client, u string) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return false
	}
	resp, err := client.Do(req)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode == http.StatusOK
}

// stop sends SIGTERM, waits for the exit and kills the process if it takes
// longer than stopTimeout. It returns how long the shutdown took; only the
// first call does anything.
func (s *server) stop() (d time.Duration, err error) {
	s.once.Do(func() {
		t := time.Now()
		if sigErr := s.cmd.Process.Signal(syscall.SIGTERM); sigErr != nil && !errors.Is(sigErr, os.ErrProcessDone) {
			_ = s.cmd.Process.Kill()
			<-s.exited
			err = fmt.Errorf("sending SIGTERM: %w", sigErr)
			return
		}
		select {
		case <-s.exited:
			d = time.Since(t)
		case <-time.After(stopTimeout):
			_ = s.cmd.Process.Kill()
			<-s.exited
			err = fmt.Errorf("no exit %s after SIGTERM, killed", stopTimeout)
		}
	})
	return d, err
}

// memStatus is the server's memory as /proc/PID/status tells it, in bytes.
type memStatus struct {
	rss, hwm, anon, file int64
}

// alive reports an error, with the log's gist, once the server has exited.
func (s *server) alive() error {
	select {
	case <-s.exited:
		return fmt.Errorf("the server exited unexpectedly (%v); log %s:\n%s", s.waitErr, s.logPath, s.logExcerpt())
	default:
		return nil
	}
}

// mem reads VmRSS, VmHWM, RssAnon and RssFile from /proc/PID/status.
func (s *server) mem() (memStatus, error) {
	if err := s.alive(); err != nil {
		return memStatus{}, err
	}
	path := fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid)
	f, err := os.Open(path)
	if err != nil {
		return memStatus{}, fmt.Errorf("reading the server's RSS: %w", err)
	}
	defer f.Close()
	var m memStatus
	fields := map[string]*int64{"VmRSS": &m.rss, "VmHWM": &m.hwm, "RssAnon": &m.anon, "RssFile": &m.file}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		dst := fields[name]
		if !ok || dst == nil {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
		if err != nil {
			return memStatus{}, fmt.Errorf("parsing %s in %s: %w", name, path, err)
		}
		*dst = kb << 10
	}
	if err := sc.Err(); err != nil {
		return memStatus{}, fmt.Errorf("reading %s: %w", path, err)
	}
	if m.rss == 0 {
		return memStatus{}, fmt.Errorf("no VmRSS in %s", path)
	}
	return m, nil
}

// userHZ is the unit of the CPU times in /proc/PID/stat; Linux fixes it at
// 100 for user space whatever the kernel's own tick rate.
const userHZ = 100

// cpu returns the CPU time, user plus system, the server has used so far.
func (s *server) cpu() (time.Duration, error) {
	path := fmt.Sprintf("/proc/%d/stat", s.cmd.Process.Pid)
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("reading the server's CPU time: %w", err)
	}
	// The command name, in parentheses, may hold spaces: count from after it.
	_, rest, ok := strings.Cut(string(data), ") ")
	f := strings.Fields(rest)
	if !ok || len(f) < 13 {
		return 0, fmt.Errorf("unexpected %s", path)
	}
	var ticks int64
	for _, field := range f[11:13] { // utime and stime, fields 14 and 15
		n, err := strconv.ParseInt(field, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("parsing %s: %w", path, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / userHZ, nil
}

// machineCPU is the kernel's count of busy and total CPU ticks of all CPUs.
type machineCPU struct{ busy, total int64 }

// readMachineCPU reads the first line of /proc/stat; zero when unreadable.
func readMachineCPU() machineCPU {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return machineCPU{}
	}
	line, _, _ := strings.Cut(string(data), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return machineCPU{}
	}
	var m machineCPU
	for i, v := range f[1:9] { // user nice system idle iowait irq softirq steal
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return machineCPU{}
		}
		m.total += n
		if i != 3 && i != 4 {
			m.busy += n
		}
	}
	return m
}

// busySince is the busy fraction of all CPUs between then and m.
func (m machineCPU) busySince(then machineCPU) (float64, bool) {
	if then.total == 0 || m.total <= then.total {
		return 0, false
	}
	return float64(m.busy-then.busy) / float64(m.total-then.total), true
}

// loadAvg is the 1-minute load average, or "?".
func loadAvg() string {
	data, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(data)); err == nil && len(f) > 0 {
		return f[0]
	}
	return "?"
}

func (s *server) logSize() int64 {
	fi, err := os.Stat(s.logPath)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// logExcerpt is what of the server's log explains a failure.
func (s *server) logExcerpt() string { return benchkit.LogExcerpt(s.logPath) }

// ---- API clients ----

// unthrottle lifts client-go's default 5 QPS / 10 burst limit, so the
// server, not the client, sets the pace.
func unthrottle(cfg *rest.Config) {
	cfg.QPS = 1e6
	cfg.Burst = 1e6
	cfg.UserAgent = "tinyforge-benchapi"
}

// eventClients returns one Event client per worker: all on client-go's one
// shared HTTP/2 connection (shared), or each on its own (per-client).
func eventClients(cfg *rest.Config, n int, mode string) ([]dynamic.ResourceInterface, error) {
	clients := make([]dynamic.ResourceInterface, n)
	for i := range clients {
		c := rest.CopyConfig(cfg)
		if mode == "per-client" {
			// A Proxy func makes client-go skip its transport cache, so
			// every client dials its own connection; nil means no proxy.
			c.Proxy = func(*http.Request) (*url.URL, error) { return nil, nil }
		}
		dc, err := dynamic.NewForConfig(c)
		if err != nil {
			return nil, fmt.Errorf("creating a dynamic client: %w", err)
		}
		clients[i] = dc.Resource(eventsGVR).Namespace(benchNamespace)
	}
	return clients, nil
}

// createEvent returns an operation that creates image-push Event i with
// worker w's client; names start with prefix.
func createEvent(clients []dynamic.ResourceInterface, prefix string) func(context.Context, int, int) error {
	now := metav1.Now().UTC().Format(time.RFC3339)
	return func(ctx context.Context, w, i int) error {
		_, err := clients[w].Create(ctx, newEvent(prefix, i, now), metav1.CreateOptions{})
		return err
	}
}

// newEvent is an Event as the webhook ingress records a registry push, like
// config/samples/tinyforge_v1alpha1_event.yaml.
func newEvent(prefix string, i int, received string) *unstructured.Unstructured {
	delivery := fmt.Sprintf("%08x-0000-4000-8000-%012x", i, time.Now().UnixNano()&0xffffffffffff)
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "tinyforge.dev/v1alpha1",
		"kind":       "Event",
		"metadata": map[string]any{
			"name": fmt.Sprintf("%s-%06d", prefix, i),
		},
		"spec": map[string]any{
			"triggerRef":   map[string]any{"name": "hello-registry"},
			"provider":     "distribution",
			"type":         "image-push",
			"deliveryID":   delivery,
			"receivedTime": received,
			"verification": "Unverified",
			"image": map[string]any{
				"repository": "localhost:5000/hello",
				"tag":        fmt.Sprintf("v%d", i),
				"digest":     "sha256:d4a577416d74fb7a140a8119d03716f231244268b9bc09da3362978e38fed46d",
			},
		},
	}}
}

// metrics is the server's /metrics text.
type metrics string

// scrapeMetrics fetches base/metrics with client.
func scrapeMetrics(ctx context.Context, client *http.Client, base string) (metrics, error) {
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(base, "/")+"/metrics", nil)
	if err != nil {
		return "", err
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("fetching /metrics: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("fetching /metrics: %s", resp.Status)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return "", fmt.Errorf("reading /metrics: %w", err)
	}
	return metrics(data), nil
}

var labelPair = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"`)

// sum adds up every sample of name whose labels include all of want; ok is
// false when there is none.
func (m metrics) sum(name string, want map[string]string) (total float64, ok bool) {
	for line := range strings.Lines(string(m)) {
		rest, found := strings.CutPrefix(line, name)
		if !found || rest == "" || (rest[0] != ' ' && rest[0] != '{') {
			continue
		}
		labels := map[string]string{}
		if rest[0] == '{' {
			end := strings.LastIndexByte(rest, '}')
			if end < 0 {
				continue
			}
			for _, kv := range labelPair.FindAllStringSubmatch(rest[1:end], -1) {
				labels[kv[1]] = kv[2]
			}
			rest = rest[end+1:]
		}
		if !matches(labels, want) {
			continue
		}
		v, err := strconv.ParseFloat(strings.Fields(rest)[0], 64)
		if err != nil {
			continue
		}
		total += v
		ok = true
	}
	return total, ok
}

// with returns a copy of labels with k set to v.
func with(labels map[string]string, k, v string) map[string]string {
	m := maps.Clone(labels)
	m[k] = v
	return m
}

func matches(labels, want map[string]string) bool {
	for k, v := range want {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// meanDelta is the mean of histogram name's observations between before and
// after, or -1 when there were none.
func meanDelta(before, after metrics, name string, labels map[string]string) time.Duration {
	s0, _ := before.sum(name+"_sum", labels)
	n0, _ := before.sum(name+"_count", labels)
	s1, _ := after.sum(name+"_sum", labels)
	n1, _ := after.sum(name+"_count", labels)
	if n1 <= n0 {
		return -1
	}
	return time.Duration((s1 - s0) / (n1 - n0) * float64(time.Second))
}

// cpuProfile fetches a CPU profile of length d from the server's
// /debug/pprof and writes it to path.
func cpuProfile(ctx context.Context, client *http.Client, base string, d time.Duration, path string) error {
	return fetchProfile(ctx, client, base, fmt.Sprintf("profile?seconds=%d", int(d.Seconds())), d+opTimeout, path)
}

// heapProfile fetches a heap profile, taken after a garbage collection,
// from the server's /debug/pprof and writes it to path.
func heapProfile(ctx context.Context, client *http.Client, base, path string) error {
	return fetchProfile(ctx, client, base, "heap?gc=1", opTimeout, path)
}

// fetchProfile fetches /debug/pprof/NAME from the server within timeout and
// writes it to path.
func fetchProfile(ctx context.Context, client *http.Client, base, name string, timeout time.Duration, path string) error {
	return benchkit.FetchProfile(ctx, client, strings.TrimSuffix(base, "/")+"/debug/pprof/"+name, timeout, path)
}

// ---- etcd ----

// etcdEndpoint is the embedded etcd's client URL and the TLS configuration
// with the client certificate the server itself uses.
type etcdEndpoint struct {
	url string
	tls *tls.Config
}

func loadEtcdEndpoint(dataDir string, port int) (etcdEndpoint, error) {
	dir := filepath.Join(dataDir, "tls", "etcd")
	cert, err := tls.LoadX509KeyPair(filepath.Join(dir, "client.crt"), filepath.Join(dir, "client.key"))
	if err != nil {
		return etcdEndpoint{}, fmt.Errorf("loading the etcd client certificate: %w", err)
	}
	caPEM, err := os.ReadFile(filepath.Join(dir, "ca.crt"))
	if err != nil {
		return etcdEndpoint{}, fmt.Errorf("reading the etcd CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return etcdEndpoint{}, errors.New("no certificate in the etcd CA file")
	}
	return etcdEndpoint{
		url: fmt.Sprintf("https://127.0.0.1:%d", port),
		tls: &tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: pool, MinVersion: tls.VersionTLS12},
	}, nil
}

// httpClient reaches etcd's /metrics.
func (e etcdEndpoint) httpClient() *http.Client {
	return &http.Client{Transport: &http.Transport{TLSClientConfig: e.tls.Clone(), Proxy: nil}}
}

func newEtcdClient(e etcdEndpoint) (*clientv3.Client, error) {
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{e.url}, DialTimeout: etcdDialTimeout, TLS: e.tls.Clone()})
	if err != nil {
		return nil, fmt.Errorf("connecting to the embedded etcd: %w", err)
	}
	return cli, nil
}

// storedEventSize is the size of one bench Event as the API server stored it.
func storedEventSize(ctx context.Context, cli *clientv3.Client) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	resp, err := cli.Get(ctx, eventsKeyPrefix+benchNamespace+"/", clientv3.WithPrefix(), clientv3.WithLimit(1))
	if err != nil {
		return 0, fmt.Errorf("reading an Event from etcd: %w", err)
	}
	if len(resp.Kvs) == 0 {
		return 0, errors.New("no Event in etcd")
	}
	return len(resp.Kvs[0].Value), nil
}

// ---- load generation ----

// loadResult is what a fixed-count load run achieved.
type loadResult struct {
	want     int
	ok       int
	elapsed  time.Duration
	lat      []time.Duration
	failed   int
	firstErr error
}

// runLoad runs op for i in [0, n) on workers goroutines, each op bounded by
// opTimeout and the whole run by timeout. op gets the worker's index too.
func runLoad(ctx context.Context, n, workers int, timeout time.Duration, op func(ctx context.Context, worker, i int) error) loadResult {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var (
		next     atomic.Int64
		mu       sync.Mutex
		res      = loadResult{want: n, lat: make([]time.Duration, 0, n)}
		wg       sync.WaitGroup
		start    = time.Now()
		failures atomic.Int64
	)
	for w := range workers {
		wg.Go(func() {
			lat := make([]time.Duration, 0, n/workers+1)
			var failed int
			var firstErr error
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= n {
					break
				}
				opCtx, opCancel := context.WithTimeout(ctx, opTimeout)
				t := time.Now()
				err := op(opCtx, w, i)
				d := time.Since(t)
				opCancel()
				if err != nil {
					failed++
					firstErr = cmp.Or(firstErr, fmt.Errorf("op %d: %w", i, err))
					// Stop everyone after a handful of errors: the figure is void.
					if failures.Add(1) >= 10 {
						cancel()
					}
					continue
				}
				lat = append(lat, d)
			}
			mu.Lock()
			defer mu.Unlock()
			res.lat = append(res.lat, lat...)
			res.failed += failed
			if res.firstErr == nil {
				res.firstErr = firstErr
			}
		})
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	res.ok = len(res.lat)
	if res.firstErr == nil && res.ok < n && ctx.Err() != nil {
		res.firstErr = fmt.Errorf("stopped after %s: %w", timeout, ctx.Err())
	}
	return res
}

// err reports a run that did not complete every operation.
func (r loadResult) err() error {
	if r.ok == r.want {
		return nil
	}
	return fmt.Errorf("%d of %d done, %d failed: %w", r.ok, r.want, r.failed, r.firstErr)
}

func (r loadResult) rate() float64 { return float64(r.ok) / r.elapsed.Seconds() }

func (r loadResult) latencies() string {
	if len(r.lat) == 0 {
		return "n/a"
	}
	s := slices.Clone(r.lat)
	slices.Sort(s)
	pct := func(p float64) time.Duration { return s[min(len(s)-1, int(p*float64(len(s))))] }
	return fmt.Sprintf("%s / %s / %s", fmtDur(pct(0.50)), fmtDur(pct(0.99)), fmtDur(s[len(s)-1]))
}

// ---- reporting ----

// report collects table rows and notes.
type report struct {
	rows  [][4]string
	notes []string
}

func (r *report) check(name, value, target string, pass bool) {
	result := "MISS"
	if pass {
		result = "PASS"
	}
	r.rows = append(r.rows, [4]string{name, value, target, result})
}

func (r *report) info(name, value string) {
	r.rows = append(r.rows, [4]string{name, value, "", ""})
}

func (r *report) note(format string, args ...any) {
	r.notes = append(r.notes, fmt.Sprintf(format, args...))
}

func (r *report) print(out io.Writer) {
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "METRIC\tVALUE\tTARGET\tRESULT")
	fmt.Fprintln(tw, "------\t-----\t------\t------")
	for _, row := range r.rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", row[0], row[1], row[2], row[3])
	}
	tw.Flush()
	for _, n := range r.notes {
		fmt.Fprintln(out, "note:", n)
	}
}

// ---- helpers ----

func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "benchapi: "+format+"\n", args...)
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func fmtDur(d time.Duration) string {
	if d < 0 {
		return "n/a"
	}
	if d < 10*time.Millisecond {
		return d.Round(10 * time.Microsecond).String()
	}
	return d.Round(time.Millisecond).String()
}

// cpuShare formats CPU time spent during a load run as cores busy and CPU
// time per operation.
func cpuShare(used time.Duration, r loadResult) string {
	return fmt.Sprintf("%.2f cores, %s per op", used.Seconds()/r.elapsed.Seconds(), fmtDur(used/time.Duration(max(1, r.ok))))
}

func fmtMiB(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

func fmtRatio(a, b float64) string { return fmt.Sprintf("%.2f (%.0f%%)", a/b, 100*a/b) }
