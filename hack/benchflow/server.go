package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/tinyforge/tinyforge/hack/internal/benchkit"
)

// Bounds on the server's start and stop.
const (
	serverStartAttempts = 3
	serverReadyTimeout  = 2 * time.Minute
	serverStopTimeout   = 30 * time.Second
	readyPollInterval   = 20 * time.Millisecond
	// ingressRateLimit lifts the per-trigger limiter far above what one
	// machine can deliver, so figure 5 measures the ingress itself.
	ingressRateLimit = "1000000"
)

// ports are the loopback ports one server listens on.
type ports struct{ secure, etcdClient, etcdPeer, proxy, ingress int }

func (p ports) proxyAddr() string   { return net.JoinHostPort("127.0.0.1", strconv.Itoa(p.proxy)) }
func (p ports) ingressAddr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(p.ingress)) }

// freePorts picks distinct free loopback ports, holding each until all are
// chosen.
func freePorts() (ports, error) {
	var nums [5]int
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for i := range nums {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return ports{}, fmt.Errorf("finding a free port: %w", err)
		}
		ls = append(ls, l)
		nums[i] = l.Addr().(*net.TCPAddr).Port
	}
	return ports{secure: nums[0], etcdClient: nums[1], etcdPeer: nums[2], proxy: nums[3], ingress: nums[4]}, nil
}

// server is a running `tinyforge server` process.
type server struct {
	cmd     *exec.Cmd
	dataDir string
	ports   ports
	logPath string
	exited  chan struct{}
	waitErr error
	once    sync.Once
}

// startServer starts tinyforge on new free ports with its data under dir
// and waits for /readyz, the proxy and the ingress; a start that fails is
// tried again on other ports, since another process may take a port
// between freePorts and the server's bind.
func startServer(ctx context.Context, bin, dir string) (*server, time.Duration, error) {
	var err error
	for attempt := 1; attempt <= serverStartAttempts; attempt++ {
		var s *server
		var p ports
		if p, err = freePorts(); err != nil {
			return nil, 0, err
		}
		start := time.Now()
		if s, err = spawnServer(bin, filepath.Join(dir, fmt.Sprintf("server-%d", attempt)), p); err != nil {
			return nil, 0, err
		}
		if err = s.waitReady(ctx); err == nil {
			return s, time.Since(start), nil
		}
		s.stop()
		if ctx.Err() != nil {
			return nil, 0, ctx.Err()
		}
		progress("server start %d failed, trying other ports: %v", attempt, firstLine(err.Error()))
	}
	return nil, 0, fmt.Errorf("%d starts failed, the last: %w", serverStartAttempts, err)
}

func spawnServer(bin, dataDir string, p ports) (*server, error) {
	logPath := dataDir + ".log"
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening the server log: %w", err)
	}
	defer logFile.Close() // the child has its own descriptor
	args := []string{"server",
		"--data-dir", dataDir,
		"--bind-address", "127.0.0.1",
		"--secure-port", strconv.Itoa(p.secure),
		"--etcd-client-port", strconv.Itoa(p.etcdClient),
		"--etcd-peer-port", strconv.Itoa(p.etcdPeer),
		"--proxy-http-address", p.proxyAddr(),
		"--ingress-address", p.ingressAddr(),
		"--ingress-rate-limit", ingressRateLimit,
		"--ingress-rate-burst", ingressRateLimit,
		"--leader-elect-lease-duration=3s", "--leader-elect-renew-deadline=2s", "--leader-elect-retry-period=250ms",
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// The kernel kills the server should benchflow die without cleaning up.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	s := &server{cmd: cmd, dataDir: dataDir, ports: p, logPath: logPath, exited: make(chan struct{})}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", bin, err)
	}
	go func() {
		s.waitErr = cmd.Wait()
		close(s.exited)
	}()
	return s, nil
}

// waitReady polls /readyz, the ingress's /healthz and the proxy until all
// three answer.
func (s *server) waitReady(ctx context.Context) error {
	client := &http.Client{
		Timeout: time.Second,
		Transport: &http.Transport{
			// The serving certificate is self-signed by this very start; the
			// probe goes to loopback and carries no secret.
			TLSClientConfig: &tls.Config{InsecureSkipVerify: true},
			Proxy:           nil,
		},
	}
	defer client.CloseIdleConnections()
	probes := []struct {
		url  string
		want func(code int) bool
	}{
		{fmt.Sprintf("https://127.0.0.1:%d/readyz", s.ports.secure), func(c int) bool { return c == http.StatusOK }},
		{"http://" + s.ports.ingressAddr() + "/healthz", func(c int) bool { return c == http.StatusOK }},
		// The proxy answers 404 for a host it has no route for.
		{"http://" + s.ports.proxyAddr() + "/", func(c int) bool { return c > 0 }},
	}
	deadline := time.NewTimer(serverReadyTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(readyPollInterval)
	defer tick.Stop()
	for _, p := range probes {
		for !p.want(statusOf(ctx, client, p.url)) {
			select {
			case <-tick.C:
			case <-s.exited:
				return fmt.Errorf("server exited before it was ready (%v); log %s:\n%s", s.waitErr, s.logPath, s.logExcerpt())
			case <-deadline.C:
				return fmt.Errorf("%s not ok after %s; log %s:\n%s", p.url, serverReadyTimeout, s.logPath, s.logExcerpt())
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
	return nil
}

// statusOf is the status code of a GET of u, 0 when there is no answer.
func statusOf(ctx context.Context, client *http.Client, u string) int {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

// alive reports an error, with the log's gist, once the server has exited.
func (s *server) alive() error {
	if s == nil {
		return nil
	}
	select {
	case <-s.exited:
		return fmt.Errorf("the server exited unexpectedly (%v); log %s:\n%s", s.waitErr, s.logPath, s.logExcerpt())
	default:
		return nil
	}
}

// stop sends SIGTERM, waits for the exit and kills the process if it takes
// longer than serverStopTimeout; only the first call does anything.
func (s *server) stop() error {
	var err error
	s.once.Do(func() {
		if sigErr := s.cmd.Process.Signal(syscall.SIGTERM); sigErr != nil && !errors.Is(sigErr, os.ErrProcessDone) {
			_ = s.cmd.Process.Kill()
			<-s.exited
			err = fmt.Errorf("sending SIGTERM: %w", sigErr)
			return
		}
		t := time.NewTimer(serverStopTimeout)
		defer t.Stop()
		select {
		case <-s.exited:
		case <-t.C:
			_ = s.cmd.Process.Kill()
			<-s.exited
			err = fmt.Errorf("no exit %s after SIGTERM, killed", serverStopTimeout)
		}
	})
	return err
}

// logExcerpt is what of the server's log explains a failure.
func (s *server) logExcerpt() string { return benchkit.LogExcerpt(s.logPath) }
