package app

import (
	"fmt"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/klog/v2"

	"github.com/tinyforge/tinyforge/controllers"
	"github.com/tinyforge/tinyforge/internal/datadir"
	"github.com/tinyforge/tinyforge/internal/ingress"
	"github.com/tinyforge/tinyforge/internal/proxy"
)

func newControllersCommand() *cobra.Command {
	o := controllers.NewOptions()
	kubeconfig := newKubeconfigFlags()
	proxyAddr := proxy.DefaultHTTPAddr
	cmd := &cobra.Command{
		Use:   "controllers",
		Short: "Run the controller manager alone, against the API server in --kubeconfig",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.Validate(); err != nil {
				return err
			}
			cfg, err := kubeconfig.load()
			if err != nil {
				return err
			}
			if err := controllers.WaitForAPI(cmd.Context(), cfg); err != nil {
				return err
			}
			if proxyAddr != "" {
				o.URLFor = proxyURL(proxyAddr)
			}
			mgr, err := controllers.NewManager(cfg, o)
			if err != nil {
				return err
			}
			return mgr.Start(cmd.Context())
		},
	}
	kubeconfig.addFlags(cmd.Flags())
	cmd.Flags().StringVar(&proxyAddr, "proxy-http-address", proxyAddr, "Address the proxies (`tinyforge proxy`) serve HTTP on; its port goes into the workloads' status.url. Empty leaves status.url empty.")
	o.AddFlags(cmd.Flags())
	return cmd
}

func newIngressCommand() *cobra.Command {
	o := ingress.NewOptions()
	kubeconfig := newKubeconfigFlags()
	cmd := &cobra.Command{
		Use:   "ingress",
		Short: "Run the webhook ingress alone, against the API server in --kubeconfig",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.Address == "" {
				return fmt.Errorf("--ingress-address must not be empty")
			}
			cfg, err := kubeconfig.load()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			return ingress.Serve(ctx, cfg, controllers.Scheme(), *o, klog.FromContext(ctx).WithName("ingress"), nil)
		},
	}
	kubeconfig.addFlags(cmd.Flags())
	o.AddFlags(cmd.Flags())
	return cmd
}

// Client-side rate limits of the commands that run against a remote API
// server. client-go's own defaults (5 requests/s, bursts of 10) would hold
// the Event controller to 5 dispatches/s and the ingress to 5 deliveries/s.
// These still bound a runaway loop, but not a burst of deliveries: a 2-CPU
// server dispatches 300-500 Events/s. In `tinyforge server` the parts use
// the API server's loopback client, which is not limited at all.
const (
	DefaultKubeAPIQPS   = 200
	DefaultKubeAPIBurst = 400
)

// kubeconfigFlags say how a part run alone reaches the API server.
type kubeconfigFlags struct {
	path  string
	qps   float32
	burst int
}

func newKubeconfigFlags() *kubeconfigFlags {
	return &kubeconfigFlags{qps: DefaultKubeAPIQPS, burst: DefaultKubeAPIBurst}
}

func (k *kubeconfigFlags) addFlags(fs *pflag.FlagSet) {
	fs.StringVar(&k.path, "kubeconfig", k.path, "Kubeconfig of the API server (default: the admin kubeconfig in the data dir).")
	fs.Float32Var(&k.qps, "kube-api-qps", k.qps, "Requests per second to the API server, sustained; negative for no limit.")
	fs.IntVar(&k.burst, "kube-api-burst", k.burst, "Requests to the API server allowed in a burst above --kube-api-qps.")
}

// load reads the kubeconfig, or the admin one in the default data dir when
// --kubeconfig is empty, and applies the rate limits.
func (k *kubeconfigFlags) load() (*rest.Config, error) {
	if k.qps > 0 && k.burst < 1 {
		return nil, fmt.Errorf("--kube-api-burst must be at least 1 when --kube-api-qps is positive, not %d", k.burst)
	}
	path := k.path
	if path == "" {
		path = datadir.Kubeconfig(datadir.Default())
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", path)
	if err != nil {
		return nil, fmt.Errorf("reading kubeconfig %s: %w", path, err)
	}
	cfg.QPS, cfg.Burst = k.qps, k.burst
	return cfg, nil
}
