package forgectl

import (
	"os"

	"github.com/spf13/pflag"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/tinyforge/tinyforge/internal/datadir"
)

// dataDirFlag is the persistent flag that points forgectl at
// <dir>/kubeconfig, the admin kubeconfig a TinyForge server writes there.
const dataDirFlag = "data-dir"

// kubeconfigSelection decides which kubeconfig file forgectl loads:
//
//  1. --kubeconfig (on the root, or the copy `forgectl config` declares),
//  2. --data-dir, meaning <dir>/kubeconfig,
//  3. $KUBECONFIG, with kubectl's usual list merging,
//  4. datadir.Kubeconfig(datadir.Default()) when that file exists,
//  5. ~/.kube/config.
//
// clientcmd already implements 1, 3 and 5 for an empty explicit path, so the
// selection only has to choose the explicit path's default (4, decided when
// the command is built) and let --data-dir overwrite it (2). Both the
// ConfigFlags behind every API-talking subcommand and the PathOptions behind
// `forgectl config` read and write explicitPath itself, so they cannot
// disagree about the file.
type kubeconfigSelection struct {
	// pathOptions is what `forgectl config` uses; its
	// LoadingRules.ExplicitPath is the single string both kubeconfig flags
	// are bound to.
	pathOptions *clientcmd.PathOptions
	// kubeconfigFlags are the --kubeconfig flags, filled in once the tree
	// exists, so --data-dir can tell whether one was given.
	kubeconfigFlags []*pflag.Flag
}

func newKubeconfigSelection() *kubeconfigSelection {
	pathOptions := clientcmd.NewDefaultPathOptions()
	pathOptions.LoadingRules.ExplicitPath = defaultKubeconfig()
	return &kubeconfigSelection{pathOptions: pathOptions}
}

// explicitPath is the storage the --kubeconfig flags are bound to.
func (s *kubeconfigSelection) explicitPath() *string {
	return &s.pathOptions.LoadingRules.ExplicitPath
}

// defaultKubeconfig returns the data directory's admin kubeconfig when it
// exists and $KUBECONFIG is unset, and "" (clientcmd's own rules) otherwise.
// A set $KUBECONFIG must win, and an explicit path would shadow it.
func defaultKubeconfig() string {
	if os.Getenv(clientcmd.RecommendedConfigPathEnvVar) != "" {
		return ""
	}
	path := datadir.Kubeconfig(datadir.Default())
	if info, err := os.Stat(path); err != nil || info.IsDir() {
		return ""
	}
	return path
}

// kubeconfigGiven reports whether a --kubeconfig flag was set on the command line.
func (s *kubeconfigSelection) kubeconfigGiven() bool {
	for _, f := range s.kubeconfigFlags {
		if f.Changed {
			return true
		}
	}
	return false
}

// dataDirValue is the pflag.Value of --data-dir. Setting it points the
// kubeconfig at <dir>/kubeconfig unless --kubeconfig was given: pflag sets
// flags in command-line order, so --kubeconfig wins whether it comes before
// (checked here) or after (it overwrites the path) --data-dir. The file need
// not exist: loading then fails naming it, which beats a silent fallback.
type dataDirValue struct {
	dir       string
	selection *kubeconfigSelection
}

var _ pflag.Value = (*dataDirValue)(nil)

func (v *dataDirValue) String() string { return v.dir }

func (v *dataDirValue) Type() string { return "string" }

func (v *dataDirValue) Set(dir string) error {
	v.dir = dir
	if !v.selection.kubeconfigGiven() {
		*v.selection.explicitPath() = datadir.Kubeconfig(dir)
	}
	return nil
}
