package app

import (
	"fmt"

	"github.com/spf13/cobra"
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
	kubeconfig := ""
	proxyAddr := proxy.DefaultHTTPAddr
	cmd := &cobra.Command{
		Use:   "controllers",
		Short: "Run the controller manager alone, against the API server in --kubeconfig",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.Validate(); err != nil {
				return err
			}
			cfg, err := loadKubeconfig(kubeconfig)
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
	cmd.Flags().StringVar(&kubeconfig, "kubeconfig", "", "Kubeconfig of the API server (default: the admin kubeconfig in the data dir).")
	cmd.Flags().StringVar(&proxyAddr, "proxy-http-address", proxyAddr, "Address the proxies (`tinyforge proxy`) serve HTTP on; its port goes into the workloads' status.url. Empty leaves status.url empty.")
	o.AddFlags(cmd.Flags())
	return cmd
}

func newIngressCommand() *cobra.Command {
	o := ingress.NewOptions()
	kubeconfig := ""
	cmd := &cobra.Command{
		Use:   "ingress",
		Short: "Run the webhook ingress alone, against the API server in --kubeconfig",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.Address == "" {
				return fmt.Errorf("--ingress-address must not be empty")
			}
			cfg, err := loadKubeconfig(kubeconfig)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			return ingress.Serve(ctx, cfg, controllers.Scheme(), *o, klog.FromContext(ctx).WithName("ingress"), nil)
		},
	}
	cmd.Flags().StringVar(&kubeconfig, "kubeconfig", "", "Kubeconfig of the API server (default: the admin kubeconfig in the data dir).")
	o.AddFlags(cmd.Flags())
	return cmd
}

// loadKubeconfig reads the kubeconfig at path, or the admin one in the
// default data dir when path is empty.
func loadKubeconfig(path string) (*rest.Config, error) {
	if path == "" {
		path = datadir.Kubeconfig(datadir.Default())
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", path)
	if err != nil {
		return nil, fmt.Errorf("reading kubeconfig %s: %w", path, err)
	}
	return cfg, nil
}
