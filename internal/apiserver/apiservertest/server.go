package apiservertest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
	genericapiserver "k8s.io/apiserver/pkg/server"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/tinyforge/tinyforge/internal/apiserver"
)

// readyTimeout bounds the wait for /readyz.
const readyTimeout = 2 * time.Minute

// Server is a running test API server.
type Server struct {
	// Admin and Viewer are client configs for the generated tokens.
	Admin, Viewer *rest.Config
	// Kubeconfig is the admin kubeconfig the server wrote.
	Kubeconfig string
	// DataDir is the server's data directory.
	DataDir string
	// URL is the server's HTTPS address.
	URL string
	// Loopback is the server's privileged in-process client config.
	Loopback *rest.Config

	stop func()
}

// Option changes the server's options before it starts.
type Option func(*apiserver.Options)

// WithDataDir reuses a data directory, to test restarts.
func WithDataDir(dir string) Option { return func(o *apiserver.Options) { o.DataDir = dir } }

// Hook is run as a post-start hook of the server, like the controllers are.
type Hook func(genericapiserver.PostStartHookContext) error

// Start starts a server and stops it when the test ends.
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()
	return StartWithHooks(t, nil, opts...)
}

// StartWithHooks starts a server with extra post-start hooks.
func StartWithHooks(t testing.TB, hooks map[string]Hook, opts ...Option) *Server {
	t.Helper()
	s, err := start(t, hooks, opts...)
	if err != nil {
		t.Fatalf("starting test API server: %v", err)
	}
	t.Cleanup(s.Stop)
	return s
}

func start(t testing.TB, hooks map[string]Hook, opts ...Option) (*Server, error) {
	o := apiserver.NewOptions(io.Discard, io.Discard)
	o.DataDir = t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	o.CRD.RecommendedOptions.SecureServing.Listener = ln
	o.CRD.RecommendedOptions.SecureServing.BindPort = ln.Addr().(*net.TCPAddr).Port
	ports, err := FreePorts(2)
	if err != nil {
		return nil, err
	}
	o.EtcdClientPort, o.EtcdPeerPort = ports[0], ports[1]
	for _, opt := range opts {
		opt(o)
	}
	if err := o.Complete(); err != nil {
		return nil, err
	}
	if err := o.Validate(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	cfg, err := o.Config(ctx)
	if err != nil {
		cancel()
		return nil, err
	}
	srv, err := cfg.Complete().New()
	if err != nil {
		cancel()
		if cfg.Etcd != nil {
			cfg.Etcd.Close()
		}
		return nil, err
	}
	s := &Server{DataDir: o.DataDir, Kubeconfig: srv.KubeconfigPath(), URL: srv.ServerURL()}
	loopback := make(chan *rest.Config, 1)
	if err := srv.AddPostStartHook("apiservertest-loopback", func(hc genericapiserver.PostStartHookContext) error {
		loopback <- hc.LoopbackClientConfig
		return nil
	}); err != nil {
		cancel()
		return nil, err
	}
	for name, h := range hooks {
		if err := srv.AddPostStartHook(name, genericapiserver.PostStartHookFunc(h)); err != nil {
			cancel()
			return nil, err
		}
	}
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	s.stop = func() {
		cancel()
		select {
		case err := <-done:
			if err != nil && !errors.Is(err, context.Canceled) {
				t.Logf("test API server stopped: %v", err)
			}
		case <-time.After(time.Minute):
			t.Errorf("test API server did not stop within a minute")
		}
	}
	if s.Admin, err = clientcmd.BuildConfigFromFlags("", s.Kubeconfig); err != nil {
		s.Stop()
		return nil, err
	}
	if s.Viewer, err = ContextConfig(s.Kubeconfig, "tinyforge-viewer"); err != nil {
		s.Stop()
		return nil, err
	}
	if err := WaitReady(ctx, s.Admin, done); err != nil {
		s.Stop()
		return nil, err
	}
	s.Loopback = <-loopback
	return s, nil
}

// Stop shuts the server down and waits for it; it is safe to call twice.
func (s *Server) Stop() {
	if s.stop != nil {
		s.stop()
		s.stop = nil
	}
}

// ContextConfig loads one context of a kubeconfig.
func ContextConfig(path, context string) (*rest.Config, error) {
	return clientcmd.NewNonInteractiveDeferredLoadingClientConfig(
		&clientcmd.ClientConfigLoadingRules{ExplicitPath: path},
		&clientcmd.ConfigOverrides{CurrentContext: context},
	).ClientConfig()
}

// WaitReady polls /readyz until it answers 200, the server exits (done), or
// the deadline passes.
func WaitReady(ctx context.Context, cfg *rest.Config, done <-chan error) error {
	client, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	var last string
	err = wait.PollUntilContextCancel(ctx, 50*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		select {
		case err := <-done:
			return false, fmt.Errorf("server exited before ready: %v", err)
		default:
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, cfg.Host+"/readyz?verbose", nil)
		resp, err := client.Do(req)
		if err != nil {
			last = err.Error()
			return false, nil
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		last = string(body)
		return resp.StatusCode == http.StatusOK, nil
	})
	if err != nil {
		return fmt.Errorf("%w; last /readyz answer: %s", err, last)
	}
	return nil
}

// FreePorts returns n loopback ports that were free a moment ago.
func FreePorts(n int) ([]int, error) {
	var ports []int
	var lns []net.Listener
	defer func() {
		for _, l := range lns {
			l.Close()
		}
	}()
	for i := 0; i < n; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		lns = append(lns, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}
