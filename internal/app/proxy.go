package app

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"
	"k8s.io/klog/v2"

	"github.com/tinyforge/tinyforge/controllers"
	"github.com/tinyforge/tinyforge/internal/proxy"
)

func newProxyCommand() *cobra.Command {
	o := &proxy.Options{}
	kubeconfig := newKubeconfigFlags()
	cmd := &cobra.Command{
		Use:   "proxy",
		Short: "Run the proxy alone, routing from the Workloads' status.routes in the API server in --kubeconfig",
		Long: `Run the proxy alone, on the Docker host, next to controllers that run
elsewhere or in a server started with --proxy=false. It watches every
Workload and serves the routes the workload controller publishes in
status.routes, and the certificates of the Secrets routes name in
tls.secretName. Several proxies may run at once; none needs a Lease.

The controllers switch a route by writing status.routes and keep the old
backends running for --route-propagation-grace (2s by default when they run
no proxy themselves), so this proxy switches and finishes the old backends'
requests before they stop.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.Complete()
			if err := o.Validate(); err != nil {
				return err
			}
			cfg, err := kubeconfig.load()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			log := klog.FromContext(ctx).WithName("proxy")
			if err := controllers.WaitForAPI(ctx, cfg); err != nil {
				return err
			}
			px, err := proxy.New(*o, log)
			if err != nil {
				return fmt.Errorf("starting the proxy: %w", err)
			}
			mgr, feed, err := controllers.NewProxyManager(cfg, px, px)
			if err != nil {
				return err
			}
			ctx, cancel := context.WithCancelCause(ctx)
			defer cancel(nil)
			go func() {
				// The manager returns when ctx ends, or early on a failure,
				// which then stops the proxy too.
				if err := mgr.Start(ctx); err != nil {
					cancel(fmt.Errorf("proxy's controller manager: %w", err))
				}
				cancel(errors.New("the proxy's controller manager stopped"))
			}()
			// Serve only once every published route is known, so a restarted
			// proxy does not answer 404 for routes it has not read yet.
			if !mgr.GetCache().WaitForCacheSync(ctx) {
				return fmt.Errorf("waiting for the workload cache: %w", context.Cause(ctx))
			}
			if err := feed.LoadAll(ctx); err != nil {
				log.Error(err, "Some routes could not be loaded; they are retried as their workloads change")
			}
			log.Info("Serving the published routes", "address", px.Addr())
			err = px.Run(ctx)
			if cmd.Context().Err() == nil && ctx.Err() != nil {
				// Stopped by the manager, not by a signal.
				return context.Cause(ctx)
			}
			return err
		},
	}
	kubeconfig.addFlags(cmd.Flags())
	o.AddFlags(cmd.Flags())
	return cmd
}
