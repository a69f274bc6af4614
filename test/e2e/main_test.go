package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/tinyforge/tinyforge/internal/apiserver/apiservertest"
)

// bin holds the binaries built once for the whole package.
var bin struct {
	tinyforge, forgectl, etcd string
}

// defaultLdflags match the Makefile's when `go test` runs without it.
const defaultLdflags = "-X k8s.io/component-base/version.gitVersion=v1.37.2+tinyforge.test " +
	"-X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=37"

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "tinyforge-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := func() int {
		defer os.RemoveAll(dir)
		ldflags := os.Getenv("TINYFORGE_LDFLAGS")
		if ldflags == "" {
			ldflags = defaultLdflags
		}
		builds := []struct {
			out  *string
			name string
			pkg  string
		}{
			{&bin.tinyforge, "tinyforge", "github.com/tinyforge/tinyforge/cmd/tinyforge"},
			{&bin.forgectl, "forgectl", "github.com/tinyforge/tinyforge/cmd/forgectl"},
			// etcd's own main package, for the external-etcd test.
			{&bin.etcd, "etcd", "go.etcd.io/etcd/server/v3"},
		}
		for _, b := range builds {
			*b.out = filepath.Join(dir, b.name)
			cmd := exec.Command("go", "build", "-ldflags", ldflags, "-o", *b.out, b.pkg)
			cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
			if err := cmd.Run(); err != nil {
				fmt.Fprintf(os.Stderr, "building %s: %v\n", b.pkg, err)
				return 1
			}
		}
		return m.Run()
	}()
	os.Exit(code)
}

// server is a `tinyforge server` process.
type server struct {
	t        *testing.T
	DataDir  string
	Args     []string
	cmd      *exec.Cmd
	logs     *syncBuffer
	exited   chan struct{}
	exitErr  error
	Admin    *rest.Config
	Kubeconf string
	// ProxyAddr is the proxy's HTTP address (host:port).
	ProxyAddr string
	// IngressAddr is the webhook ingress's address (host:port).
	IngressAddr string
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startServer runs `tinyforge server` on dataDir (a new temp dir when empty)
// with free ports, and waits until /readyz is green.
func startServer(t *testing.T, dataDir string, extraArgs ...string) *server {
	t.Helper()
	if dataDir == "" {
		dataDir = t.TempDir()
	}
	ports, err := apiservertest.FreePorts(5)
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"server", "--data-dir", dataDir,
		"--secure-port", strconv.Itoa(ports[0]),
		"--etcd-client-port", strconv.Itoa(ports[1]), "--etcd-peer-port", strconv.Itoa(ports[2]),
		"--proxy-http-address", "127.0.0.1:" + strconv.Itoa(ports[3]),
		"--ingress-address", "127.0.0.1:" + strconv.Itoa(ports[4]),
		"--leader-elect-lease-duration=8s", "--leader-elect-renew-deadline=6s", "--leader-elect-retry-period=500ms",
	}
	args = append(args, extraArgs...)
	return runServer(t, dataDir, args)
}

func runServer(t *testing.T, dataDir string, args []string) *server {
	t.Helper()
	s := &server{t: t, DataDir: dataDir, Args: args, logs: &syncBuffer{}, exited: make(chan struct{})}
	for i, a := range args {
		if a == "--proxy-http-address" && i+1 < len(args) {
			s.ProxyAddr = args[i+1]
		}
		if a == "--ingress-address" && i+1 < len(args) {
			s.IngressAddr = args[i+1]
		}
	}
	s.cmd = exec.Command(bin.tinyforge, args...)
	s.cmd.Stdout, s.cmd.Stderr = s.logs, s.logs
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		s.exitErr = s.cmd.Wait()
		close(s.exited)
	}()
	t.Cleanup(func() {
		s.stop()
		if t.Failed() {
			t.Logf("tinyforge %s output:\n%s", strings.Join(args, " "), tail(s.logs.String(), 80))
		}
	})
	s.Kubeconf = filepath.Join(dataDir, "kubeconfig")
	ready := make(chan error, 1)
	go func() {
		// The kubeconfig appears before the API serves; wait for both.
		deadline := time.Now().Add(2 * time.Minute)
		for time.Now().Before(deadline) {
			select {
			case <-s.exited:
				ready <- fmt.Errorf("tinyforge exited: %v", s.exitErr)
				return
			default:
			}
			if cfg, err := clientcmd.BuildConfigFromFlags("", s.Kubeconf); err == nil {
				s.Admin = cfg
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		if s.Admin == nil {
			ready <- fmt.Errorf("no kubeconfig at %s", s.Kubeconf)
			return
		}
		done := make(chan error)
		go func() {
			<-s.exited
			done <- s.exitErr
		}()
		ready <- apiservertest.WaitReady(context.Background(), s.Admin, done)
	}()
	if err := <-ready; err != nil {
		t.Fatalf("tinyforge server not ready: %v\n%s", err, tail(s.logs.String(), 60))
	}
	return s
}

// terminate sends SIGTERM and waits for a clean exit.
func (s *server) terminate() error {
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return err
	}
	select {
	case <-s.exited:
		return s.exitErr
	case <-time.After(time.Minute):
		s.cmd.Process.Kill()
		return fmt.Errorf("tinyforge did not exit within a minute of SIGTERM")
	}
}

func (s *server) stop() {
	select {
	case <-s.exited:
		return
	default:
	}
	_ = s.terminate()
}

// forgectl runs forgectl against the server and returns stdout, failing the
// test on a non-zero exit.
func (s *server) forgectl(t *testing.T, args ...string) string {
	t.Helper()
	out, errOut, err := s.tryForgectl(nil, args...)
	if err != nil {
		t.Fatalf("forgectl %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, out, errOut)
	}
	return out
}

// tryForgectl runs forgectl with stdin and returns its outputs and error.
func (s *server) tryForgectl(stdin io.Reader, args ...string) (string, string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin.forgectl, args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+s.Kubeconf, "HOME="+s.t.TempDir())
	cmd.Stdin = stdin
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	return out.String(), errOut.String(), err
}

func tail(s string, lines int) string {
	l := strings.Split(s, "\n")
	if len(l) > lines {
		l = l[len(l)-lines:]
	}
	return strings.Join(l, "\n")
}
