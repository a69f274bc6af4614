package forgectl

import (
	"path/filepath"
	"testing"

	"github.com/tinyforge/tinyforge/internal/datadir"
)

// kubeconfigFixture is one fake kubeconfig per place forgectl may find one,
// each naming its source through its server URL.
type kubeconfigFixture struct {
	server  string // base URL of the naming server
	flag    string // a file given with --kubeconfig
	env     string // a file named by $KUBECONFIG
	dataDir string // a directory given with --data-dir, holding a kubeconfig
	// defaultDataDir is $TINYFORGE_DATA_DIR, holding a kubeconfig.
	defaultDataDir string
}

func newKubeconfigFixture(t *testing.T, serverURL string) kubeconfigFixture {
	t.Helper()
	dir := t.TempDir()
	fx := kubeconfigFixture{
		server:         serverURL,
		flag:           filepath.Join(dir, "flag.kubeconfig"),
		env:            filepath.Join(dir, "env.kubeconfig"),
		dataDir:        filepath.Join(dir, "data-dir-flag"),
		defaultDataDir: filepath.Join(dir, "default-data-dir"),
	}
	writeKubeconfig(t, fx.flag, serverURL+"/flag")
	writeKubeconfig(t, fx.env, serverURL+"/env")
	writeKubeconfig(t, datadir.Kubeconfig(fx.dataDir), serverURL+"/data-dir-flag")
	writeKubeconfig(t, datadir.Kubeconfig(fx.defaultDataDir), serverURL+"/default-data-dir")
	return fx
}

// kubeconfigCase is one row of the precedence table: which sources are
// present (env, default data dir) or given (flags) and which must win.
type kubeconfigCase struct {
	name           string
	env            bool
	defaultDataDir bool
	args           func(fx kubeconfigFixture) []string // global flags
	want           string                              // winning source, "home" for ~/.kube/config
}

var kubeconfigCases = []kubeconfigCase{
	{
		name: "nothing set falls back to ~/.kube/config",
		want: "home",
	},
	{
		name:           "default data dir kubeconfig beats ~/.kube/config",
		defaultDataDir: true,
		want:           "default-data-dir",
	},
	{
		name:           "KUBECONFIG beats the default data dir",
		env:            true,
		defaultDataDir: true,
		want:           "env",
	},
	{
		name:           "--data-dir beats KUBECONFIG",
		env:            true,
		defaultDataDir: true,
		args:           func(fx kubeconfigFixture) []string { return []string{"--data-dir", fx.dataDir} },
		want:           "data-dir-flag",
	},
	{
		name:           "--kubeconfig beats everything",
		env:            true,
		defaultDataDir: true,
		args:           func(fx kubeconfigFixture) []string { return []string{"--kubeconfig", fx.flag} },
		want:           "flag",
	},
	{
		name:           "--kubeconfig beats --data-dir given after it",
		env:            true,
		defaultDataDir: true,
		args: func(fx kubeconfigFixture) []string {
			return []string{"--kubeconfig", fx.flag, "--data-dir", fx.dataDir}
		},
		want: "flag",
	},
	{
		name:           "--kubeconfig beats --data-dir given before it",
		env:            true,
		defaultDataDir: true,
		args: func(fx kubeconfigFixture) []string {
			return []string{"--data-dir", fx.dataDir, "--kubeconfig", fx.flag}
		},
		want: "flag",
	},
}

// setup applies c's environment for fx and returns forgectl's global flags.
func (c kubeconfigCase) setup(t *testing.T, fx kubeconfigFixture) []string {
	t.Helper()
	if c.env {
		t.Setenv("KUBECONFIG", fx.env)
	}
	if c.defaultDataDir {
		t.Setenv(datadir.EnvVar, fx.defaultDataDir)
	}
	if c.args == nil {
		return nil
	}
	return c.args(fx)
}

// kubeconfigProbes are commands that reveal which kubeconfig was loaded, one
// through `config`'s own loading (PathOptions) and one through the
// ConfigFlags behind every command that talks to the server.
func kubeconfigProbes(fx kubeconfigFixture) map[string]struct {
	args []string
	want func(source string) string
} {
	return map[string]struct {
		args []string
		want func(source string) string
	}{
		"config view": {
			args: []string{"config", "view", "--minify", "-o", "jsonpath={.clusters[0].cluster.server}"},
			want: func(source string) string { return fx.server + "/" + source },
		},
		"get --raw": {
			args: []string{"get", "--raw", "/version", "--request-timeout", "10s"},
			want: func(source string) string { return source },
		},
	}
}

func TestKubeconfigPrecedence(t *testing.T) {
	srv := newNamingServer(t)
	for _, c := range kubeconfigCases {
		if c.want == "home" {
			// client-go resolves ~/.kube/config from $HOME once, when the
			// process starts; TestBinary covers this case.
			continue
		}
		t.Run(c.name, func(t *testing.T) {
			isolate(t)
			fx := newKubeconfigFixture(t, srv.URL)
			global := c.setup(t, fx)
			for name, probe := range kubeconfigProbes(fx) {
				t.Run(name, func(t *testing.T) {
					args := append(append([]string{}, global...), probe.args...)
					out, errOut, err := runForgectl(t, args...)
					if err != nil {
						t.Fatalf("forgectl %v: %v\nstderr: %s", args, err, errOut)
					}
					if want := probe.want(c.want); out != want {
						t.Errorf("forgectl %v printed %q, want %q", args, out, want)
					}
				})
			}
		})
	}
}

func TestDataDirWithoutKubeconfigFails(t *testing.T) {
	isolate(t)
	missing := filepath.Join(t.TempDir(), "empty")
	_, _, err := runForgectl(t, "--data-dir", missing, "get", "--raw", "/version")
	if code := exitCode(t, err); code == 0 {
		t.Fatal("forgectl --data-dir <dir without kubeconfig> succeeded, want an error naming the file")
	}
	if want := datadir.Kubeconfig(missing); !contains(err.Error(), want) {
		t.Errorf("error %q does not name %s", err, want)
	}
}
