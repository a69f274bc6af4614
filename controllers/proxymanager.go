package controllers

import (
	"fmt"

	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/tinyforge/tinyforge/controllers/routefeed"
	"github.com/tinyforge/tinyforge/controllers/routetls"
	"github.com/tinyforge/tinyforge/plugins"
)

// NewProxyManager builds the manager of a proxy that runs apart from the
// controllers (`tinyforge proxy`): it feeds routes with every Workload's
// status.routes and certs with the Secrets their routes name. It elects no
// leader: every proxy serves every route. The returned feed can load every
// route once the manager's cache has synced, before the proxy serves.
func NewProxyManager(cfg *rest.Config, routes plugins.RouteTable, certs routetls.Certificates) (manager.Manager, *routefeed.Reconciler, error) {
	return newProxyManager(cfg, routes, certs, nil, "tinyforge-proxy")
}

// NewStandbyProxyManager builds the manager that feeds the proxy of a
// server whose controllers do not lead (see NewProxyManager) from
// status.routes, into o's Routes and Certificates. The certificates it
// loads go into the record the leading controllers keep, so that they
// remove a deleted Workload's certificate once this process leads.
func (o *Options) NewStandbyProxyManager(cfg *rest.Config) (manager.Manager, error) {
	mgr, _, err := newProxyManager(cfg, o.Routes, o.Certificates, o.certsLoaded(), "tinyforge-standby-proxy")
	return mgr, err
}

func newProxyManager(cfg *rest.Config, routes plugins.RouteTable, certs routetls.Certificates, loaded *routetls.Loaded, name string) (manager.Manager, *routefeed.Reconciler, error) {
	cfg = rest.CopyConfig(cfg)
	cfg.ContentType = "application/json"
	cfg.AcceptContentTypes = "application/json"
	if cfg.UserAgent == "" {
		cfg.UserAgent = name
	}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                 Scheme(),
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Controller:             config.Controller{SkipNameValidation: ptr.To(true)},
	})
	if err != nil {
		return nil, nil, fmt.Errorf("creating the proxy's controller manager: %w", err)
	}
	if err := mgr.AddHealthzCheck("ping", healthz.Ping); err != nil {
		return nil, nil, err
	}
	feed := &routefeed.Reconciler{Client: mgr.GetClient(), Routes: routes}
	if err := feed.SetupWithManager(mgr); err != nil {
		return nil, nil, fmt.Errorf("setting up the route feed: %w", err)
	}
	if certs != nil {
		tr := &routetls.Reconciler{
			Client:       mgr.GetClient(),
			APIReader:    mgr.GetAPIReader(),
			Certificates: certs,
			Loaded:       loaded,
			Recorder:     mgr.GetEventRecorderFor(name), //nolint:staticcheck // our server serves core/v1 Events, not events.k8s.io
		}
		if err := tr.SetupWithManager(mgr); err != nil {
			return nil, nil, fmt.Errorf("setting up the route TLS controller: %w", err)
		}
	}
	return mgr, feed, nil
}
