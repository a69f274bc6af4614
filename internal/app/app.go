package app

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"
	"k8s.io/component-base/version"
	"k8s.io/klog/v2"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/tinyforge/tinyforge/controllers"
)

// NewCommand returns the tinyforge root command.
func NewCommand(out, errOut io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "tinyforge",
		Short: "TinyForge runs apps on Docker hosts declaratively, Kubernetes-style",
		Long: `TinyForge is a Kubernetes-style control plane for Docker hosts.

"tinyforge server" runs etcd, the API server and the controllers in one
process; "tinyforge apiserver" and "tinyforge controllers" run the parts alone.
Talk to it with forgectl, kubectl or any Kubernetes client.`,
		SilenceUsage: true,
	}
	root.SetOut(out)
	root.SetErr(errOut)
	// controller-runtime logs (reconcile errors among them) through klog,
	// like the rest of the process, instead of dropping them; a clean
	// stop's release of the Lease is not an error.
	ctrllog.SetLogger(controllers.QuietDeliberateRelease(klog.NewKlogr()))
	root.AddCommand(
		newServerCommand(out, errOut),
		newAPIServerCommand(out, errOut),
		newControllersCommand(),
		newIngressCommand(),
		newProxyCommand(),
		newVersionCommand(out),
	)
	return root
}

func newVersionCommand(out io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		Run: func(*cobra.Command, []string) {
			v := version.Get()
			fmt.Fprintf(out, "tinyforge %s (%s, %s)\n", v.GitVersion, v.GoVersion, v.Platform)
		},
	}
}
