// Command benchapi measures a TinyForge server on this machine and prints a
// table of figures next to their targets:
//
//  1. the time from process start to /readyz ok, on fresh data directories
//     and once more on a second start of the same data directory;
//  2. the server's idle RSS with no Events and with -rss-events Events;
//  3. Event creates per second through the API with -concurrency clients;
//  4. raw puts per second into the server's own embedded etcd with the same
//     concurrency, and the ratio of the two.
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
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
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
	flag.DurationVar(&o.profileFor, "cpuprofile-for", 10*time.Second, "Length of the -cpuprofile profile; keep it shorter than the creates.")
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
	defer os.RemoveAll(root)

	rep := &report{}
	rep.note("machine: %d CPUs, %s/%s; client: %s, %d workers, QPS/Burst unthrottled, JSON",
		runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, o.connMode, o.concurrency)

	srv, err := benchStartup(ctx, o, root, rep)
	if err != nil {
		rep.print(out)
		return err
	}
	defer srv.stop()

	if err := benchLoad(ctx, o, srv, rep); err != nil {
		rep.print(out)
		return err
	}
	if d, err := srv.stop(); err != nil {
		rep.note("stopping the server: %v", err)
	} else {
		rep.info("shutdown after SIGTERM", fmtDur(d))
	}
	rep.print(out)
	return nil
}

// benchStartup measures readiness on o.starts fresh data directories, then
// restarts the first one and leaves that server running for the load phases.
func benchStartup(ctx context.Context, o options, root string, rep *report) (*server, error) {
	var fresh []time.Duration
	var first struct {
		dir   string
		ports ports
	}
	for i := range o.starts {
		dir := filepath.Join(root, fmt.Sprintf("fresh-%d", i+1))
		p, err := freePorts()
		if err != nil {
			return nil, err
		}
		d, err := startStop(ctx, o, dir, p)
		if err != nil {
			return nil, fmt.Errorf("fresh start %d: %w", i+1, err)
		}
		fresh = append(fresh, d)
		rep.check(fmt.Sprintf("ready, fresh data dir #%d", i+1), fmtDur(d), "<= "+fmtDur(targetReady), d <= targetReady)
		if i == 0 {
			first.dir, first.ports = dir, p
		} else if err := os.RemoveAll(dir); err != nil {
			return nil, fmt.Errorf("removing %s: %w", dir, err)
		}
	}
	med := median(fresh)
	rep.check(fmt.Sprintf("ready, fresh, median of %d", len(fresh)), fmtDur(med), "<= "+fmtDur(targetReady), med <= targetReady)

	progress("restarting on the data dir of fresh start #1")
	srv, err := startServer(o.tinyforge, first.dir, first.ports)
	if err != nil {
		return nil, err
	}
	d, err := srv.waitReady(ctx, o.readyTimeout)
	if err != nil {
		srv.stop()
		return nil, fmt.Errorf("second start of the same data dir: %w", err)
	}
	rep.check("ready, second start of same data dir", fmtDur(d), "<= "+fmtDur(targetReady), d <= targetReady)
	return srv, nil
}

// startStop starts a server on dir, waits for /readyz and stops it again.
func startStop(ctx context.Context, o options, dir string, p ports) (time.Duration, error) {
	srv, err := startServer(o.tinyforge, dir, p)
	if err != nil {
		return 0, err
	}
	d, err := srv.waitReady(ctx, o.readyTimeout)
	if _, stopErr := srv.stop(); err == nil && stopErr != nil {
		err = fmt.Errorf("stopping: %w", stopErr)
	}
	if err != nil {
		return 0, err
	}
	progress("fresh start on %s ready after %s", dir, fmtDur(d))
	return d, nil
}

// benchLoad takes the idle RSS readings, then the API and etcd throughput.
func benchLoad(ctx context.Context, o options, srv *server, rep *report) error {
	restCfg, err := clientcmd.BuildConfigFromFlags("", filepath.Join(srv.dataDir, "kubeconfig"))
	if err != nil {
		return fmt.Errorf("loading the admin kubeconfig: %w", err)
	}
	unthrottle(restCfg)
	clients, err := eventClients(restCfg, o.concurrency, o.connMode)
	if err != nil {
		return err
	}

	if err := idleRSS(ctx, o, srv, restCfg, rep, "0 Events"); err != nil {
		return err
	}
	if o.rssEvents > 0 {
		progress("creating %d Events", o.rssEvents)
		res := runLoad(ctx, o.rssEvents, o.concurrency, o.loadTimeout, createEvent(clients, "rss"))
		if err := res.err(); err != nil {
			return fmt.Errorf("creating Events for the RSS reading: %w", err)
		}
	}
	if err := idleRSS(ctx, o, srv, restCfg, rep, fmt.Sprintf("%d Events", o.rssEvents)); err != nil {
		return err
	}

	apiRate, err := benchAPI(ctx, o, srv, restCfg, clients, rep)
	if err != nil {
		return err
	}
	if m, err := srv.mem(); err == nil {
		rep.info(fmt.Sprintf("RSS right after the %d creates", o.creates), fmtMiB(m.rss))
	}
	etcdRate, err := benchEtcd(ctx, o, srv, rep)
	if err != nil {
		return err
	}
	rep.info("ratio API creates / etcd puts", fmt.Sprintf("%.2f (%.0f%%)", apiRate/etcdRate, 100*apiRate/etcdRate))
	return nil
}

// idleRSS idles o.idle, then reads the server's RSS and Go heap.
func idleRSS(ctx context.Context, o options, srv *server, restCfg *rest.Config, rep *report, what string) error {
	progress("idling %s with %s", o.idle, what)
	if err := sleep(ctx, o.idle); err != nil {
		return err
	}
	m, err := srv.mem()
	if err != nil {
		return err
	}
	label := fmt.Sprintf("idle RSS after %s, %s", o.idle, what)
	if what == "0 Events" {
		rep.info(label, fmtMiB(m.rss))
	} else {
		rep.check(label, fmtMiB(m.rss), fmt.Sprintf("< %d MiB", targetIdleRSSMiB), m.rss < targetIdleRSSMiB<<20)
	}
	rep.info("  anonymous / file-backed", fmt.Sprintf("%s / %s", fmtMiB(m.anon), fmtMiB(m.file)))
	rep.info("  peak RSS so far", fmtMiB(m.hwm))
	g, err := goMetrics(ctx, restCfg)
	if err != nil {
		rep.note("no Go runtime figures with %s: %v", what, err)
		return nil
	}
	rep.info("  Go heap in use / from the OS", fmt.Sprintf("%s / %s",
		fmtMiB(int64(g["go_memstats_heap_inuse_bytes"])), fmtMiB(int64(g["go_memstats_sys_bytes"]))))
	rep.info("  goroutines", strconv.Itoa(int(g["go_goroutines"])))
	return nil
}

// benchAPI creates o.creates Events through the API and reports the rate.
func benchAPI(ctx context.Context, o options, srv *server, restCfg *rest.Config, clients []dynamic.ResourceInterface, rep *report) (float64, error) {
	if o.cpuProfile != "" {
		profiled := make(chan error, 1)
		go func() { profiled <- cpuProfile(ctx, restCfg, o.profileFor, o.cpuProfile) }()
		defer func() {
			if err := <-profiled; err != nil {
				rep.note("CPU profile: %v", err)
			} else {
				rep.note("CPU profile of the server during the creates: %s", o.cpuProfile)
			}
		}()
	}
	logBefore := srv.logSize()
	srvCPU, _ := srv.cpu()
	ownCPU := selfCPU()
	progress("creating %d Events with %d clients", o.creates, o.concurrency)
	res := runLoad(ctx, o.creates, o.concurrency, o.loadTimeout, createEvent(clients, "bench"))
	if err := res.err(); err != nil {
		return 0, fmt.Errorf("API creates: %w", err)
	}
	srvCPUAfter, err := srv.cpu()
	if err != nil {
		return 0, err
	}
	ownCPU = selfCPU() - ownCPU
	rate := res.rate()
	rep.check(fmt.Sprintf("API Event creates/s (%d, %d clients)", o.creates, o.concurrency),
		fmt.Sprintf("%.0f/s", rate), fmt.Sprintf(">= %d/s", targetCreatesPS), rate >= targetCreatesPS)
	rep.info("  API create latency p50 / p99 / max", res.latencies())
	rep.info("  server log written during creates", fmt.Sprintf("%d bytes", srv.logSize()-logBefore))
	rep.info("  CPU used: server / benchapi", cpuShare(srvCPUAfter-srvCPU, res)+" / "+cpuShare(ownCPU, res))
	return rate, nil
}

// benchEtcd puts o.etcdPuts values straight into the embedded etcd, then
// deletes them again.
func benchEtcd(ctx context.Context, o options, srv *server, rep *report) (float64, error) {
	cli, err := newEtcdClient(srv.dataDir, srv.ports.etcdClient)
	if err != nil {
		return 0, err
	}
	defer cli.Close()
	if size, err := storedEventSize(ctx, cli); err == nil {
		rep.info("an Event as stored in etcd", fmt.Sprintf("%d bytes", size))
	}

	value := strings.Repeat("x", o.valueSize)
	progress("putting %d values of %d bytes into etcd with %d goroutines", o.etcdPuts, o.valueSize, o.concurrency)
	res := runLoad(ctx, o.etcdPuts, o.concurrency, o.loadTimeout, func(ctx context.Context, _, i int) error {
		_, err := cli.Put(ctx, fmt.Sprintf("%s%08d", etcdBenchPrefix, i), value)
		return err
	})
	cleanCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), opTimeout)
	defer cancel()
	if _, err := cli.Delete(cleanCtx, etcdBenchPrefix, clientv3.WithPrefix()); err != nil {
		rep.note("deleting %s from etcd: %v", etcdBenchPrefix, err)
	}
	if err := res.err(); err != nil {
		return 0, fmt.Errorf("etcd puts: %w", err)
	}
	rate := res.rate()
	rep.info(fmt.Sprintf("etcd puts/s (%d x %d B, %d goroutines)", o.etcdPuts, o.valueSize, o.concurrency), fmt.Sprintf("%.0f/s", rate))
	rep.info("  etcd put latency p50 / p99 / max", res.latencies())
	return rate, nil
}

// ---- the server process ----

// ports are the three loopback ports a server listens on.
type ports struct{ secure, etcdClient, etcdPeer int }

// freePorts picks three distinct free loopback ports, holding each until all
// are chosen.
func freePorts() (ports, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	var nums [3]int
	for i := range nums {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return ports{}, fmt.Errorf("finding a free port: %w", err)
		}
		ls = append(ls, l)
		nums[i] = l.Addr().(*net.TCPAddr).Port
	}
	return ports{secure: nums[0], etcdClient: nums[1], etcdPeer: nums[2]}, nil
}

// server is a running `tinyforge server` process.
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

// startServer starts tinyforge with its data in dataDir and its output
// appended to dataDir.log; the start time is taken just before the exec.
func startServer(bin, dataDir string, p ports) (*server, error) {
	logPath := dataDir + ".log"
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening server log: %w", err)
	}
	defer logFile.Close() // the child has its own descriptor
	cmd := exec.Command(bin, "server",
		"--data-dir", dataDir,
		"--bind-address", "127.0.0.1",
		"--secure-port", strconv.Itoa(p.secure),
		"--etcd-client-port", strconv.Itoa(p.etcdClient),
		"--etcd-peer-port", strconv.Itoa(p.etcdPeer))
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = sysProcAttr()
	s := &server{cmd: cmd, dataDir: dataDir, ports: p, logPath: logPath, exited: make(chan struct{})}
	s.started = time.Now()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", bin, err)
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
			return 0, fmt.Errorf("server exited before it was ready (%v); log:\n%s", s.waitErr, s.logTail(20))
		case <-deadline.C:
			return 0, fmt.Errorf("/readyz not ok after %s; log:\n%s", timeout, s.logTail(20))
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

// mem reads VmRSS, VmHWM, RssAnon and RssFile from /proc/PID/status.
func (s *server) mem() (memStatus, error) {
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

// selfCPU is the CPU time, user plus system, benchapi has used so far.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func (s *server) logSize() int64 {
	fi, err := os.Stat(s.logPath)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// logTail returns the last n lines of the server's log.
func (s *server) logTail(n int) string {
	data, err := os.ReadFile(s.logPath)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

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

// goMetrics reads a few Go runtime gauges from the server's /metrics.
func goMetrics(ctx context.Context, cfg *rest.Config) (map[string]float64, error) {
	client, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return nil, fmt.Errorf("building a metrics client: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(cfg.Host, "/")+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetching /metrics: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetching /metrics: %s", resp.Status)
	}
	want := map[string]bool{"go_memstats_heap_inuse_bytes": true, "go_memstats_sys_bytes": true, "go_goroutines": true}
	got := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		name, val, ok := strings.Cut(sc.Text(), " ")
		if !ok || !want[name] {
			continue
		}
		if v, err := strconv.ParseFloat(val, 64); err == nil {
			got[name] = v
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading /metrics: %w", err)
	}
	if len(got) != len(want) {
		return nil, errors.New("/metrics lacks the Go runtime gauges")
	}
	return got, nil
}

// cpuProfile fetches a CPU profile of length d from the server's
// /debug/pprof and writes it to path.
func cpuProfile(ctx context.Context, cfg *rest.Config, d time.Duration, path string) error {
	client, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return fmt.Errorf("building a profile client: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, d+opTimeout)
	defer cancel()
	u := fmt.Sprintf("%s/debug/pprof/profile?seconds=%d", strings.TrimSuffix(cfg.Host, "/"), int(d.Seconds()))
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("fetching the profile: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("fetching the profile: %s", resp.Status)
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("creating %s: %w", path, err)
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return f.Close()
}

// ---- etcd ----

// newEtcdClient connects to the server's embedded etcd with the client
// certificate the server itself uses.
func newEtcdClient(dataDir string, port int) (*clientv3.Client, error) {
	dir := filepath.Join(dataDir, "tls", "etcd")
	cert, err := tls.LoadX509KeyPair(filepath.Join(dir, "client.crt"), filepath.Join(dir, "client.key"))
	if err != nil {
		return nil, fmt.Errorf("loading the etcd client certificate: %w", err)
	}
	caPEM, err := os.ReadFile(filepath.Join(dir, "ca.crt"))
	if err != nil {
		return nil, fmt.Errorf("reading the etcd CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, errors.New("no certificate in the etcd CA file")
	}
	cli, err := clientv3.New(clientv3.Config{
		Endpoints:   []string{fmt.Sprintf("https://127.0.0.1:%d", port)},
		DialTimeout: etcdDialTimeout,
		TLS:         &tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: pool, MinVersion: tls.VersionTLS12},
	})
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
