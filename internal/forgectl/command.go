package forgectl

import (
	"strconv"
	"strings"
	"sync"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	kubectlcmd "k8s.io/kubectl/pkg/cmd"
	cmdconfig "k8s.io/kubectl/pkg/cmd/config"
	"k8s.io/kubectl/pkg/cmd/plugin"
	cmdutil "k8s.io/kubectl/pkg/cmd/util"
	"k8s.io/kubectl/pkg/kuberc"
	"k8s.io/kubectl/pkg/util/templates"

	"github.com/tinyforge/tinyforge/internal/datadir"
)

// name is the program name shown in usage, help and examples.
const name = "forgectl"

var disablePluginsOnce sync.Once

// NewCommand returns the forgectl root command, ready to Execute with args
// (the command line without the program name; nil means none, not os.Args).
// Output goes to streams, including help and usage.
//
// The tree is kubectl's, so it shares kubectl's process-wide state: a failing
// subcommand calls cmdutil.CheckErr, which exits the process unless
// cmdutil.BehaviorOnFatal says otherwise. Use Run to execute in-process.
func NewCommand(streams genericiooptions.IOStreams, args []string) *cobra.Command {
	if args == nil {
		// cobra reads os.Args when args is nil.
		args = []string{}
	}
	disablePluginsOnce.Do(disableKubectlPlugins)

	selection := newKubeconfigSelection()
	configFlags := genericclioptions.NewConfigFlags(true).
		WithDeprecatedPasswordFlag().
		WithDiscoveryBurst(300).
		WithDiscoveryQPS(50.0).
		WithWarningPrinter(streams)
	configFlags.KubeConfig = selection.explicitPath()

	// A nil PluginHandler and NewKubectlCommand rather than
	// NewDefaultKubectlCommandWithArgs: nothing looks for kubectl-* on PATH.
	root := kubectlcmd.NewKubectlCommand(kubectlcmd.KubectlOptions{
		Arguments:   append([]string{name}, args...),
		ConfigFlags: configFlags,
		IOStreams:   streams,
	})
	// kubectl keeps its Factory to itself, so build one over the same
	// ConfigFlags (and so the same cached client config, discovery and REST
	// mapper) for the commands we add.
	matchVersion := cmdutil.NewMatchVersionFlags(configFlags)
	shareMatchServerVersion(root, matchVersion)
	f := cmdutil.NewFactory(matchVersion)

	replaceSubcommand(root, "plugin", nil)
	// kubectl's `config` uses clientcmd.NewDefaultPathOptions, which knows
	// nothing of the data directory.
	configCmd := cmdconfig.NewCmdConfig(f, selection.pathOptions, streams)
	replaceSubcommand(root, "config", configCmd)
	renameKubectl(root)

	root.PersistentFlags().Var(&dataDirValue{selection: selection}, dataDirFlag,
		"TinyForge data directory: use the admin kubeconfig its server wrote there (<dir>/"+datadir.KubeconfigFile+"). "+
			"Overrides $KUBECONFIG, not --kubeconfig.")
	cmdutil.CheckErr(root.RegisterFlagCompletionFunc(dataDirFlag,
		func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
			return nil, cobra.ShellCompDirectiveFilterDirs
		}))
	selection.kubeconfigFlags = []*pflag.Flag{
		root.PersistentFlags().Lookup("kubeconfig"),
		configCmd.PersistentFlags().Lookup("kubeconfig"),
	}

	addTinyForgeCommands(root, f, streams)
	groupCommands(root)

	root.SetIn(streams.In)
	root.SetOut(streams.Out)
	root.SetErr(streams.ErrOut)
	if !kubercAliasApplied(root) {
		root.SetArgs(args)
	}
	return root
}

// disableKubectlPlugins stops kubectl's plugin code from finding kubectl-*
// executables: they are not forgectl plugins. NewKubectlCommand lists them
// for help, and shell completion runs their kubectl_complete-* helpers; both
// match file names against this prefix list, so an empty list finds nothing.
func disableKubectlPlugins() {
	plugin.ValidPluginFilenamePrefixes = nil
}

// renameKubectl makes the tree present itself as forgectl. Texts are
// rewritten where "kubectl" starts a command line, so annotation keys
// (kubectl.kubernetes.io/...) and links to kubectl's documentation stay, and
// where `completion` suggests files to install, so forgectl's completion code
// does not overwrite kubectl's.
func renameKubectl(root *cobra.Command) {
	root.Use = name
	root.Short = "forgectl controls TinyForge, a Kubernetes-style control plane for Docker hosts"
	root.Long = templates.LongDesc(`
      forgectl controls TinyForge, a Kubernetes-style control plane for Docker hosts.

      It is kubectl, pre-wired to TinyForge, plus TinyForge's own commands. It
      uses the first of: --kubeconfig; --data-dir's kubeconfig; $KUBECONFIG; the
      kubeconfig a TinyForge server wrote to its default data directory
      ($TINYFORGE_DATA_DIR, else /var/lib/tinyforge for root and ~/.tinyforge
      for other users), if it exists; ~/.kube/config.`)

	r := strings.NewReplacer(
		"kubectl ", name+" ",
		"bash_completion.d/kubectl", "bash_completion.d/"+name,
		`/_kubectl"`, `/_`+name+`"`,
		"completions/kubectl.fish", "completions/"+name+".fish",
		"completion.bash.inc", name+"-completion.bash.inc",
		`\completion.ps1`, `\`+name+"-completion.ps1",
	)
	var walk func(*cobra.Command)
	walk = func(c *cobra.Command) {
		if c != root {
			c.Short = r.Replace(c.Short)
			c.Long = r.Replace(c.Long)
		}
		c.Example = r.Replace(c.Example)
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
}

// replaceSubcommand removes root's child called child and adds with in its
// place, if with is not nil.
func replaceSubcommand(root *cobra.Command, child string, with *cobra.Command) {
	for _, c := range root.Commands() {
		if c.Name() == child {
			root.RemoveCommand(c)
		}
	}
	if with != nil {
		root.AddCommand(with)
	}
}

// shareMatchServerVersion makes --match-server-version, which kubectl binds
// to the MatchVersionFlags inside its own Factory, set ours as well.
func shareMatchServerVersion(root *cobra.Command, ours *cmdutil.MatchVersionFlags) {
	if fl := root.PersistentFlags().Lookup("match-server-version"); fl != nil {
		fl.Value = &teeBoolValue{Value: fl.Value, also: &ours.RequireMatchedServerVersion}
	}
}

// teeBoolValue is a bool flag value that also stores what it is set to in also.
type teeBoolValue struct {
	pflag.Value
	also *bool
}

var _ pflag.Value = (*teeBoolValue)(nil)

func (v *teeBoolValue) Set(s string) error {
	if err := v.Value.Set(s); err != nil {
		return err
	}
	b, err := strconv.ParseBool(s)
	if err != nil {
		return err
	}
	*v.also = b
	return nil
}

// kubercAliasApplied reports whether kubectl expanded an alias from the
// user's kuberc. It then calls SetArgs with the expanded command line, which
// ours must not overwrite; the alias command it adds carries this annotation.
func kubercAliasApplied(root *cobra.Command) bool {
	for _, c := range root.Commands() {
		if _, ok := c.Annotations[kuberc.KubeRCOriginalCommandAnnotation]; ok {
			return true
		}
	}
	return false
}
