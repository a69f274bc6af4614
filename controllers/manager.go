package controllers

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/pflag"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/discovery"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	tinyforgev1alpha1 "github.com/tinyforge/tinyforge/api/v1alpha1"
	"github.com/tinyforge/tinyforge/controllers/event"
	"github.com/tinyforge/tinyforge/controllers/index"
	"github.com/tinyforge/tinyforge/controllers/namespace"
	"github.com/tinyforge/tinyforge/controllers/routetls"
	"github.com/tinyforge/tinyforge/controllers/trigger"
	"github.com/tinyforge/tinyforge/controllers/triggerbinding"
	"github.com/tinyforge/tinyforge/controllers/workload"
	"github.com/tinyforge/tinyforge/internal/docker"
	"github.com/tinyforge/tinyforge/plugins"
)

// LeaderElectionID names the Lease the managers compete for.
const LeaderElectionID = "tinyforge-controllers"

// Options configure the controller manager.
type Options struct {
	// LeaderElect turns on leader election; on by default so a hot standby
	// never acts at the same time as the leader.
	LeaderElect bool
	// LeaderElectionNamespace holds the Lease.
	LeaderElectionNamespace string
	// LeaseDuration, RenewDeadline and RetryPeriod tune failover speed.
	LeaseDuration, RenewDeadline, RetryPeriod time.Duration
	// MetricsBindAddress and HealthProbeBindAddress serve the manager's own
	// endpoints; "0" turns them off.
	MetricsBindAddress, HealthProbeBindAddress string
	// ResyncPeriod is how often every workload is checked against Docker
	// even when nothing happened.
	ResyncPeriod time.Duration

	// Docker is the daemon the controllers act on; nil connects to the one
	// in the environment (DOCKER_HOST or the local socket).
	Docker docker.API
	// Routes is the proxy's route table; nil when no proxy runs here.
	Routes plugins.RouteTable
	// Certificates is the proxy's certificate store, fed from the Secrets
	// routes name in tls.secretName; nil when no proxy runs here.
	Certificates routetls.Certificates
	// URLFor builds a workload's status.url from a route's host and path.
	URLFor func(host, pathPrefix string) string
	// EventTTL is how long Events are kept.
	EventTTL time.Duration
	// ConcurrentEventSyncs is how many Events are dispatched at once.
	ConcurrentEventSyncs int
	// RouteGrace is the least time a blue-green switch keeps the old
	// backends, for proxies in other processes (`tinyforge proxy`) to see
	// the switch in status.routes and finish their requests. Negative means
	// DefaultRouteGrace when Routes is nil (no proxy here), else 0.
	RouteGrace time.Duration
	// ProxyUpstream is how the proxy reaches containers: "container" (their
	// address on their Docker network) or "published" (their published
	// loopback ports, for a daemon whose container networks this host
	// cannot route to, such as rootless Docker or a remote daemon).
	ProxyUpstream string

	// loaded is what the route TLS controllers of this process loaded into
	// Certificates, kept across managers built from these Options.
	loaded *routetls.Loaded
}

// certsLoaded returns the record of loaded certificates, shared by every
// manager built from o: runControllers builds a new one after a lost Lease,
// while the proxy keeps what the previous one loaded.
func (o *Options) certsLoaded() *routetls.Loaded {
	if o.loaded == nil {
		o.loaded = &routetls.Loaded{}
	}
	return o.loaded
}

// DefaultRouteGrace is the route-propagation grace of controllers that run
// without a proxy in their process: a watch event reaches a proxy in
// milliseconds; the rest is for its requests in flight.
const DefaultRouteGrace = 2 * time.Second

// NewOptions returns client-go's leader-election defaults.
func NewOptions() *Options {
	return &Options{
		LeaderElect:             true,
		LeaderElectionNamespace: "tinyforge-system",
		LeaseDuration:           15 * time.Second,
		RenewDeadline:           10 * time.Second,
		RetryPeriod:             2 * time.Second,
		MetricsBindAddress:      "0",
		HealthProbeBindAddress:  "0",
		ResyncPeriod:            5 * time.Minute,
		EventTTL:                event.DefaultTTL,
		ConcurrentEventSyncs:    event.DefaultMaxConcurrentReconciles,
		RouteGrace:              -1,
		ProxyUpstream:           "container",
	}
}

// AddFlags registers the options on fs.
func (o *Options) AddFlags(fs *pflag.FlagSet) {
	fs.BoolVar(&o.LeaderElect, "leader-elect", o.LeaderElect, "Elect a leader among controller managers with a Lease, so only one acts at a time.")
	fs.StringVar(&o.LeaderElectionNamespace, "leader-election-namespace", o.LeaderElectionNamespace, "Namespace of the leader-election Lease.")
	fs.DurationVar(&o.LeaseDuration, "leader-elect-lease-duration", o.LeaseDuration, "How long a standby waits after the last renewal before taking over.")
	fs.DurationVar(&o.RenewDeadline, "leader-elect-renew-deadline", o.RenewDeadline, "How long the leader retries renewing before giving up leadership.")
	fs.DurationVar(&o.RetryPeriod, "leader-elect-retry-period", o.RetryPeriod, "How often candidates try to acquire or renew the Lease.")
	fs.StringVar(&o.MetricsBindAddress, "metrics-bind-address", o.MetricsBindAddress, "Address of the controllers' own /metrics; 0 turns it off.")
	fs.DurationVar(&o.ResyncPeriod, "resync-period", o.ResyncPeriod, "How often every workload's containers are checked against its spec even when nothing happened.")
	fs.IntVar(&o.ConcurrentEventSyncs, "concurrent-event-syncs", o.ConcurrentEventSyncs, "How many Events are dispatched at once. Each one waits on an API write, so more keep up with bursts of deliveries.")
	fs.DurationVar(&o.EventTTL, "event-ttl", o.EventTTL, "How long Events (webhook deliveries, cron ticks, manual deploys) are kept with their outcomes.")
	fs.StringVar(&o.ProxyUpstream, "proxy-upstream", o.ProxyUpstream, "How the proxy reaches containers: container (their address on their Docker network, which skips Docker's userland proxy) or published (their published 127.0.0.1 ports; for rootless Docker or a remote daemon).")
	fs.DurationVar(&o.RouteGrace, "route-propagation-grace", o.RouteGrace, "Least time a blue-green switch keeps the old backends running, for proxies run apart with `tinyforge proxy` to see the switch and finish their requests. Negative: 0 when this process runs the proxy, "+DefaultRouteGrace.String()+" when it does not.")
	fs.StringVar(&o.HealthProbeBindAddress, "health-probe-bind-address", o.HealthProbeBindAddress, "Address of the controllers' /healthz and /readyz; 0 turns it off.")
}

// Validate checks the leader-election timings relate as client-go requires.
func (o *Options) Validate() error {
	switch o.ProxyUpstream {
	case "", "container", "published":
	default:
		return fmt.Errorf("--proxy-upstream must be container or published, not %q", o.ProxyUpstream)
	}
	if o.ConcurrentEventSyncs < 1 {
		return fmt.Errorf("--concurrent-event-syncs must be at least 1, not %d", o.ConcurrentEventSyncs)
	}
	if !o.LeaderElect {
		return nil
	}
	if o.LeaseDuration <= o.RenewDeadline {
		return fmt.Errorf("--leader-elect-lease-duration (%s) must be greater than --leader-elect-renew-deadline (%s)", o.LeaseDuration, o.RenewDeadline)
	}
	if o.RenewDeadline <= o.RetryPeriod {
		return fmt.Errorf("--leader-elect-renew-deadline (%s) must be greater than --leader-elect-retry-period (%s)", o.RenewDeadline, o.RetryPeriod)
	}
	return nil
}

func (o *Options) routeGrace() time.Duration {
	switch {
	case o.RouteGrace >= 0:
		return o.RouteGrace
	case o.Routes == nil:
		return DefaultRouteGrace
	}
	return 0
}

// Scheme knows TinyForge's types and the built-in ones the controllers use.
func Scheme() *runtime.Scheme {
	s := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(s))
	utilruntime.Must(tinyforgev1alpha1.AddToScheme(s))
	return s
}

// NewManager builds a manager talking to the API at cfg, with every
// TinyForge controller registered. It talks JSON: the CRDs have no protobuf.
func NewManager(cfg *rest.Config, o *Options) (manager.Manager, error) {
	cfg = rest.CopyConfig(cfg)
	cfg.ContentType = "application/json"
	cfg.AcceptContentTypes = "application/json"
	if cfg.UserAgent == "" {
		cfg.UserAgent = "tinyforge-controllers"
	}
	mo := ctrl.Options{
		Scheme:                        Scheme(),
		LeaderElection:                o.LeaderElect,
		LeaderElectionID:              LeaderElectionID,
		LeaderElectionNamespace:       o.LeaderElectionNamespace,
		LeaderElectionResourceLock:    "leases",
		LeaderElectionReleaseOnCancel: true,
		LeaseDuration:                 &o.LeaseDuration,
		RenewDeadline:                 &o.RenewDeadline,
		RetryPeriod:                   &o.RetryPeriod,
		Metrics:                       metricsserver.Options{BindAddress: o.MetricsBindAddress},
		HealthProbeBindAddress:        o.HealthProbeBindAddress,
		Cache:                         cacheOptions(),
		// Names are unique within one manager anyway; tests run several
		// managers in one process.
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
	}
	if o.LeaderElect {
		lock, err := newLeaseLock(cfg, o)
		if err != nil {
			return nil, err
		}
		mo.LeaderElectionResourceLockInterface = lock
	}
	mgr, err := ctrl.NewManager(cfg, mo)
	if err != nil {
		return nil, fmt.Errorf("creating controller manager: %w", err)
	}
	if err := mgr.AddHealthzCheck("ping", healthz.Ping); err != nil {
		return nil, err
	}
	if err := mgr.AddReadyzCheck("ping", healthz.Ping); err != nil {
		return nil, err
	}
	if err := setupControllers(mgr, o); err != nil {
		return nil, err
	}
	return mgr, nil
}

// setupControllers registers every controller with mgr. Each resource's
// controller package adds itself here.
func setupControllers(mgr manager.Manager, o *Options) error {
	if err := (&namespace.Reconciler{}).SetupWithManager(mgr); err != nil {
		return fmt.Errorf("setting up the namespace controller: %w", err)
	}
	dockerAPI := o.Docker
	if dockerAPI == nil {
		c, err := docker.New()
		if err != nil {
			return fmt.Errorf("creating the Docker client: %w", err)
		}
		dockerAPI = c
	}
	cluster, err := clusterID(mgr.GetAPIReader(), o.LeaderElectionNamespace)
	if err != nil {
		return err
	}
	dockerAPI = docker.Scoped(dockerAPI, cluster)
	wr := &workload.Reconciler{
		Client:       mgr.GetClient(),
		APIReader:    mgr.GetAPIReader(),
		Docker:       dockerAPI,
		Routes:       o.Routes,
		Recorder:     mgr.GetEventRecorderFor("workload-controller"), //nolint:staticcheck // our server serves core/v1 Events, not events.k8s.io
		ResyncPeriod: o.ResyncPeriod,
		URLFor:       o.URLFor,
		RouteGrace:   o.routeGrace(),
		// Routes then name container addresses; status.endpoints stay the
		// published ports either way.
		PublishedUpstreams: o.ProxyUpstream == "published",
	}
	if err := wr.SetupWithManager(context.Background(), mgr); err != nil {
		return fmt.Errorf("setting up the workload controller: %w", err)
	}
	if o.Certificates != nil {
		tr := &routetls.Reconciler{
			Client:       mgr.GetClient(),
			APIReader:    mgr.GetAPIReader(),
			Certificates: o.Certificates,
			Loaded:       o.certsLoaded(),
			Recorder:     mgr.GetEventRecorderFor("routetls-controller"), //nolint:staticcheck // core/v1 Events, see above
		}
		if err := tr.SetupWithManager(mgr); err != nil {
			return fmt.Errorf("setting up the route TLS controller: %w", err)
		}
	}
	return setupTriggerControllers(mgr, o)
}

// setupTriggerControllers registers the Trigger, TriggerBinding and Event
// controllers and the indexes they list by.
func setupTriggerControllers(mgr manager.Manager, o *Options) error {
	if err := index.AddBindingIndexes(context.Background(), mgr.GetFieldIndexer()); err != nil {
		return err
	}
	tr := &trigger.Reconciler{
		Client:    mgr.GetClient(),
		APIReader: mgr.GetAPIReader(),
		Recorder:  mgr.GetEventRecorderFor("trigger-controller"), //nolint:staticcheck // core/v1 Events, see above
	}
	if err := tr.SetupWithManager(mgr); err != nil {
		return fmt.Errorf("setting up the trigger controller: %w", err)
	}
	if err := (&triggerbinding.Reconciler{Client: mgr.GetClient()}).SetupWithManager(mgr); err != nil {
		return fmt.Errorf("setting up the triggerbinding controller: %w", err)
	}
	er := &event.Reconciler{
		Client:    mgr.GetClient(),
		APIReader: mgr.GetAPIReader(),
		Recorder:  mgr.GetEventRecorderFor("event-controller"), //nolint:staticcheck // core/v1 Events, see above
		TTL:       o.EventTTL,

		MaxConcurrentReconciles: o.ConcurrentEventSyncs,
	}
	if err := er.SetupWithManager(mgr); err != nil {
		return fmt.Errorf("setting up the event controller: %w", err)
	}
	return nil
}

// clusterID names this TinyForge cluster on Docker hosts: the UID of its
// system namespace, like Kubernetes tools use kube-system's. It waits a
// little for the namespace, which the API server creates at start.
func clusterID(r client.Reader, namespace string) (string, error) {
	var ns corev1.Namespace
	var last error
	err := wait.PollUntilContextTimeout(context.Background(), 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		last = r.Get(ctx, client.ObjectKey{Name: namespace}, &ns)
		return last == nil, nil
	})
	if err != nil {
		return "", fmt.Errorf("reading namespace %s for the cluster ID: %w", namespace, last)
	}
	return string(ns.UID), nil
}

// WaitForAPI waits until the resources the controllers watch can be listed.
// Right after an API server starts, a new CRD's watch cache answers 429 for
// a second or two; informers that start then back off for several seconds
// more, and the first reconcile waits for them. Polling briefly first
// avoids that backoff.
func WaitForAPI(ctx context.Context, cfg *rest.Config) error {
	c := rest.CopyConfig(cfg)
	c.GroupVersion = &tinyforgev1alpha1.GroupVersion
	c.APIPath = "/apis"
	c.NegotiatedSerializer = clientgoscheme.Codecs.WithoutConversion()
	rc, err := rest.RESTClientFor(c)
	if err != nil {
		return err
	}
	// The manager's REST mapper reads discovery, which follows the CRDs by
	// a moment; its field indexes fail on a kind it cannot map.
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return err
	}
	var lastDiscovery error
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		list, err := dc.ServerResourcesForGroupVersion(tinyforgev1alpha1.GroupVersion.String())
		if err != nil {
			lastDiscovery = err
			return false, nil
		}
		for _, r := range list.APIResources {
			if r.Name == "triggerbindings" {
				return true, nil
			}
		}
		lastDiscovery = fmt.Errorf("discovery does not list triggerbindings yet")
		return false, nil
	})
	if err != nil {
		return fmt.Errorf("waiting for discovery of %s: %w (last: %v)", tinyforgev1alpha1.GroupVersion, err, lastDiscovery)
	}
	for _, resource := range []string{"workloads", "rollouts", "triggers", "triggerbindings", "events"} {
		var last error
		err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
			last = rc.Get().Resource(resource).Param("limit", "1").MaxRetries(0).Do(ctx).Error()
			return last == nil, nil
		})
		if err != nil {
			return fmt.Errorf("waiting to list %s: %w (last: %v)", resource, err, last)
		}
	}
	return nil
}
