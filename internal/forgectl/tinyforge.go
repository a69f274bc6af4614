package forgectl

import (
	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	cmdutil "k8s.io/kubectl/pkg/cmd/util"
)

// addTinyForgeCommands is where TinyForge's own verbs join the tree: deploy,
// rollout approve (and history/undo for Workloads), logs workload/NAME and
// webhook-url. It runs after kubectl's tree is built and renamed, so the
// commands added here keep their texts as written.
//
// Each verb follows the kubectl Options pattern (an XOptions struct with
// embedded IOStreams, NewCmdX(f, streams), Complete → Validate → Run) and
// talks to the server only through f, which shares its ConfigFlags with
// kubectl's commands: the kubeconfig selection, --namespace, --context and
// the kubectl command headers apply unchanged. A verb that extends a kubectl
// command (rollout, logs) looks it up with root.Find and adds a subcommand
// or wraps its Run; a new top-level verb is listed under "Other Commands".
func addTinyForgeCommands(root *cobra.Command, f cmdutil.Factory, streams genericiooptions.IOStreams) {
	// None yet.
}
