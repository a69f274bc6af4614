package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/util/wait"
	genericapiserver "k8s.io/apiserver/pkg/server"
	"k8s.io/client-go/rest"
	"k8s.io/klog/v2"

	"github.com/tinyforge/tinyforge/controllers"
	"github.com/tinyforge/tinyforge/internal/apiserver"
	"github.com/tinyforge/tinyforge/internal/ingress"
	"github.com/tinyforge/tinyforge/internal/memory"
	"github.com/tinyforge/tinyforge/internal/proxy"
	"github.com/tinyforge/tinyforge/plugins"
)

func newServerCommand(out, errOut io.Writer) *cobra.Command {
	apiOpts := apiserver.NewOptions(out, errOut)
	ctrlOpts := controllers.NewOptions()
	proxyOpts := &proxy.Options{}
	ingressOpts := ingress.NewOptions()
	runProxy := true
	cmd := &cobra.Command{
		Use:   "server",
		Short: "Run etcd, the API server, the controllers, the proxy and the webhook ingress in one process",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := ctrlOpts.Validate(); err != nil {
				return err
			}
			proxyOpts.Complete()
			if err := proxyOpts.Validate(); err != nil {
				return err
			}
			if err := ingressOpts.Validate(); err != nil {
				return err
			}
			ctx := cmd.Context()
			// A server idles most of its life: once a burst is over, what it
			// allocated for it goes back to the OS. Unless the user set GOGC,
			// it collects at Go's default target while busy and at a lower
			// one while idle.
			_, gogcSet := os.LookupEnv("GOGC")
			go memory.ReleaseWhenIdle(ctx, memory.Options{TuneGC: !gogcSet}, klog.FromContext(ctx).WithName("memory"))
			var px *proxy.Server
			if runProxy {
				var err error
				if px, err = proxy.New(*proxyOpts, klog.FromContext(ctx).WithName("proxy")); err != nil {
					return fmt.Errorf("starting the proxy: %w", err)
				}
				ctrlOpts.Routes = px
				ctrlOpts.Certificates = px
				ctrlOpts.URLFor = proxyURL(px.Addr())
			} else {
				// Proxies run apart (`tinyforge proxy`), fed from
				// status.routes, on the address this process would use.
				ctrlOpts.URLFor = proxyURL(proxyOpts.HTTPAddr)
			}
			return runAPIServer(ctx, out, apiOpts, func(s *apiserver.Server, cancel context.CancelCauseFunc) error {
				if px != nil {
					go func() {
						if err := px.Run(ctx); err != nil {
							cancel(fmt.Errorf("proxy: %w", err))
						}
					}()
				}
				// The controllers stop before the API server stops listening,
				// so the leader releases its Lease and a standby takes over at
				// once instead of after the lease duration.
				mgrCtx, stopMgr := context.WithCancel(ctx)
				mgrDone := make(chan struct{})
				if err := s.AddPreShutdownHook("stop-tinyforge-controllers", func() error {
					stopMgr()
					select {
					case <-mgrDone:
					case <-time.After(30 * time.Second):
					}
					return nil
				}); err != nil {
					return err
				}
				if ingressOpts.Address != "" {
					if err := s.AddPostStartHook("start-tinyforge-ingress", func(hc genericapiserver.PostStartHookContext) error {
						go runIngress(ctx, hc.LoopbackClientConfig, *ingressOpts, cancel)
						return nil
					}); err != nil {
						return err
					}
				}
				return s.AddPostStartHook("start-tinyforge-controllers", func(hc genericapiserver.PostStartHookContext) error {
					go func() {
						defer close(mgrDone)
						// The manager's field indexes need our kinds in
						// discovery, which follows the CRDs by a moment.
						if err := controllers.WaitForAPI(mgrCtx, hc.LoopbackClientConfig); err != nil && mgrCtx.Err() == nil {
							klog.FromContext(mgrCtx).Error(err, "Starting the controllers anyway")
						}
						runControllers(mgrCtx, hc.LoopbackClientConfig, ctrlOpts, cancel)
					}()
					return nil
				})
			})
		},
	}
	apiOpts.AddFlags(cmd.Flags())
	ctrlOpts.AddFlags(cmd.Flags())
	proxyOpts.AddFlags(cmd.Flags())
	cmd.Flags().BoolVar(&runProxy, "proxy", runProxy, "Run the proxy in this process. Turn it off when proxies run apart with `tinyforge proxy`; --proxy-http-address then names the address they serve on, for status.url.")
	ingressOpts.AddFlags(cmd.Flags())
	return cmd
}

// runControllers runs the controller manager until ctx ends. A manager
// that loses its Lease (a renewal that timed out on a loaded machine)
// stops; in this process the API server and etcd live on, so a new manager
// campaigns again instead of the whole server exiting.
func runControllers(ctx context.Context, cfg *rest.Config, o *controllers.Options, cancel context.CancelCauseFunc) {
	log := klog.FromContext(ctx)
	for {
		mgr, err := controllers.NewManager(cfg, o)
		if err != nil {
			cancel(fmt.Errorf("controller manager: %w", err))
			return
		}
		stopFeed := func() {}
		if o.LeaderElect && o.Routes != nil {
			stopFeed = feedWhileStandby(ctx, cfg, o, mgr.Elected())
		}
		err = mgr.Start(ctx)
		stopFeed()
		switch {
		case ctx.Err() != nil:
			return
		case err != nil && strings.Contains(err.Error(), "leader election lost"):
			log.Info("The controllers lost their Lease; campaigning again")
		default:
			cancel(fmt.Errorf("controller manager: %w", err))
			return
		}
	}
}

// standbyAfter is how long the controllers of a server may campaign for
// their Lease before its proxy is fed from status.routes meanwhile.
const standbyAfter = 2 * time.Second

// feedWhileStandby feeds this server's proxy from every Workload's
// status.routes (and the certificates they name) while its controllers do
// not lead, which they say by closing elected: the leader's controllers set
// the routes of their own proxy, and without this a standby replica's
// proxy would serve nothing. Once elected, the feed stops and the routes
// it set stay for the controllers, which find them as they are. stop ends
// the feed and waits for it.
func feedWhileStandby(ctx context.Context, cfg *rest.Config, o *controllers.Options, elected <-chan struct{}) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		select {
		case <-elected:
			return
		case <-ctx.Done():
			return
		case <-time.After(standbyAfter):
		}
		log := klog.FromContext(ctx).WithName("standby-proxy")
		mgr, err := o.NewStandbyProxyManager(cfg)
		if err != nil {
			log.Error(err, "The proxy serves no route until this server's controllers lead")
			return
		}
		feedCtx, stopFeed := context.WithCancel(ctx)
		defer stopFeed()
		go func() {
			select {
			case <-elected:
				log.Info("The controllers lead; they set the proxy's routes from now on")
			case <-feedCtx.Done():
			}
			stopFeed()
		}()
		log.Info("Another server's controllers lead; the proxy serves every Workload's status.routes meanwhile")
		if err := mgr.Start(feedCtx); err != nil && feedCtx.Err() == nil {
			log.Error(err, "The standby route feed stopped")
		}
	}()
	return func() {
		cancel()
		<-done
	}
}

// runIngress serves webhooks once the API lists triggers; every server
// replica does, leader or not.
func runIngress(ctx context.Context, cfg *rest.Config, o ingress.Options, cancel context.CancelCauseFunc) {
	log := klog.FromContext(ctx).WithName("ingress")
	if err := controllers.WaitForAPI(ctx, cfg); err != nil && ctx.Err() == nil {
		log.Error(err, "Starting the ingress anyway")
	}
	if err := ingress.Serve(ctx, cfg, controllers.Scheme(), o, log, nil); err != nil && ctx.Err() == nil {
		cancel(fmt.Errorf("webhook ingress: %w", err))
	}
}

// The proxy tells the sources when old backends are idle.
var _ plugins.Drainer = (*proxy.Router)(nil)

// proxyURL builds workload URLs on the proxy's HTTP port.
func proxyURL(addr string) func(host, pathPrefix string) string {
	_, port, err := net.SplitHostPort(addr)
	return func(host, pathPrefix string) string {
		u := "http://" + host
		if err == nil && port != "80" {
			u += ":" + port
		}
		return u + pathPrefix
	}
}

func newAPIServerCommand(out, errOut io.Writer) *cobra.Command {
	apiOpts := apiserver.NewOptions(out, errOut)
	cmd := &cobra.Command{
		Use:   "apiserver",
		Short: "Run the API server (and the embedded etcd unless --etcd-servers is set) alone",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runAPIServer(cmd.Context(), out, apiOpts, nil)
		},
	}
	apiOpts.AddFlags(cmd.Flags())
	return cmd
}

// runAPIServer starts the API server, lets extend add hooks, prints how to
// connect once the server is ready, and serves until ctx ends or a component
// fails.
func runAPIServer(ctx context.Context, out io.Writer, o *apiserver.Options, extend func(*apiserver.Server, context.CancelCauseFunc) error) error {
	if err := o.Complete(); err != nil {
		return err
	}
	if err := o.Validate(); err != nil {
		return err
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	cfg, err := o.Config(ctx)
	if err != nil {
		return err
	}
	s, err := cfg.Complete().New()
	if err != nil {
		if cfg.Etcd != nil {
			cfg.Etcd.Close()
		}
		return err
	}
	if extend != nil {
		if err := extend(s, cancel); err != nil {
			return err
		}
	}
	if err := s.AddPostStartHook("tinyforge-announce", func(hc genericapiserver.PostStartHookContext) error {
		go announce(hc.Context, out, hc.LoopbackClientConfig, s)
		return nil
	}); err != nil {
		return err
	}
	if err := s.Run(ctx); err != nil {
		return err
	}
	if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) {
		return cause
	}
	return nil
}

// announce tells the user how to connect, once /readyz is green.
func announce(ctx context.Context, out io.Writer, cfg *rest.Config, s *apiserver.Server) {
	client, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return
	}
	err = wait.PollUntilContextCancel(ctx, 100*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, cfg.Host+"/readyz", nil)
		resp, err := client.Do(req)
		if err != nil {
			return false, nil
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, nil
	})
	if err != nil {
		return
	}
	klog.FromContext(ctx).Info("TinyForge is ready", "url", s.ServerURL())
	fmt.Fprintf(out, `TinyForge is ready at %s

  export KUBECONFIG=%s
  forgectl get sourcekinds,triggerkinds
  forgectl apply -f config/samples/
  forgectl get tinyforge

`, s.ServerURL(), s.KubeconfigPath())
}
