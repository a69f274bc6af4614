package forgectl

import (
	"github.com/spf13/cobra"
	"k8s.io/kubectl/pkg/util/i18n"
	"k8s.io/kubectl/pkg/util/templates"
)

// commandGroups is how `forgectl --help` lists the top-level commands. The
// kubectl part copies NewKubectlCommand's grouping, which is not exported,
// minus its "Subcommands provided by plugins" (forgectl runs no plugins and
// would print the heading alone). A command a newer kubectl adds shows under
// "Other Commands" until it is listed here; names not in the tree are skipped.
var commandGroups = []struct {
	message string
	names   []string
}{
	// TinyForge's verbs, as addTinyForgeCommands adds them; rollout and logs
	// take the place of kubectl's.
	{"TinyForge Commands:", []string{"deploy", "rollout", "logs", "webhook-url"}},
	{"Basic Commands (Beginner):", []string{"create", "expose", "run", "set"}},
	{"Basic Commands (Intermediate):", []string{"explain", "get", "edit", "delete"}},
	{"Deploy Commands:", []string{"scale", "autoscale"}},
	{"Cluster Management Commands:", []string{"certificate", "cluster-info", "top", "cordon", "uncordon", "drain", "taint"}},
	{"Troubleshooting and Debugging Commands:", []string{"describe", "attach", "exec", "port-forward", "proxy", "cp", "auth", "debug", "events"}},
	{"Advanced Commands:", []string{"diff", "apply", "patch", "replace", "wait", "kustomize"}},
	{"Settings Commands:", []string{"label", "annotate", "completion"}},
}

// groupCommands installs the help and usage templates of the root command
// with commandGroups, replacing those kubectl installed.
func groupCommands(root *cobra.Command) {
	children := make(map[string]*cobra.Command)
	for _, c := range root.Commands() {
		children[c.Name()] = c
	}
	var groups templates.CommandGroups
	for _, g := range commandGroups {
		group := templates.CommandGroup{Message: i18n.T(g.message)}
		for _, name := range g.names {
			if c, ok := children[name]; ok {
				group.Commands = append(group.Commands, c)
			}
		}
		if len(group.Commands) > 0 {
			groups = append(groups, group)
		}
	}
	// As kubectl does: `options` is for --help to point at, and `alpha` is
	// empty unless alpha features are enabled.
	filters := []string{"options"}
	if alpha, ok := children["alpha"]; ok && !alpha.HasSubCommands() {
		filters = append(filters, alpha.Name())
	}
	templates.ActsAsRootCommand(root, filters, groups...)
}
