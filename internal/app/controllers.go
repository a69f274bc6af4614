package app

import (
	"github.com/spf13/cobra"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/tinyforge/tinyforge/controllers"
	"github.com/tinyforge/tinyforge/internal/datadir"
)

func newControllersCommand() *cobra.Command {
	o := controllers.NewOptions()
	kubeconfig := ""
	cmd := &cobra.Command{
		Use:   "controllers",
		Short: "Run the controller manager alone, against the API server in --kubeconfig",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.Validate(); err != nil {
				return err
			}
			if kubeconfig == "" {
				kubeconfig = datadir.Kubeconfig(datadir.Default())
			}
			cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
			if err != nil {
				return err
			}
			mgr, err := controllers.NewManager(cfg, o)
			if err != nil {
				return err
			}
			if err := controllers.WaitForAPI(cmd.Context(), cfg); err != nil {
				return err
			}
			return mgr.Start(cmd.Context())
		},
	}
	cmd.Flags().StringVar(&kubeconfig, "kubeconfig", "", "Kubeconfig of the API server (default: the admin kubeconfig in the data dir).")
	o.AddFlags(cmd.Flags())
	return cmd
}
