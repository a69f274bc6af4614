package forgectl

import (
	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	cmdutil "k8s.io/kubectl/pkg/cmd/util"
)

// addTinyForgeCommands is where TinyForge's own verbs join the tree. It runs
// after kubectl's tree is built and renamed, so the commands added here keep
// their texts as written.
//
// Each verb follows the kubectl Options pattern (an XOptions struct with
// embedded IOStreams, NewCmdX(f, streams), Complete → Validate → Run) and
// talks to the server only through f, which shares its ConfigFlags with
// kubectl's commands: the kubeconfig selection, --namespace, --context and
// the kubectl command headers apply unchanged. kubectl's `rollout` (whose
// subcommands know Deployments, DaemonSets and StatefulSets) and `logs`
// (which reads pods) have nothing to act on in TinyForge, so TinyForge's
// commands of the same names replace them; a new top-level verb is listed
// in commandGroups.
func addTinyForgeCommands(root *cobra.Command, f cmdutil.Factory, streams genericiooptions.IOStreams) {
	replaceSubcommand(root, "rollout", NewCmdRollout(f, streams))
	replaceSubcommand(root, "logs", NewCmdLogs(f, streams))
	root.AddCommand(NewCmdDeploy(f, streams), NewCmdWebhookURL(f, streams))
}
