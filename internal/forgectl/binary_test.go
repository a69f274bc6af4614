package forgectl

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	apiversion "k8s.io/apimachinery/pkg/version"

	"github.com/tinyforge/tinyforge/internal/datadir"
)

// testGitVersion is what the Makefile would stamp for a dirty build three
// commits after v0.1.0: kube's version, then TinyForge's as build metadata.
const testGitVersion = "v1.37.2+tinyforge.v0.1.0-3-gdeadbee-dirty"

// versionLdflags is the Makefile's -ldflags for gitVersion.
func versionLdflags(gitVersion string) string {
	const pkg = "k8s.io/component-base/version"
	return strings.Join([]string{
		"-X " + pkg + ".gitVersion=" + gitVersion,
		"-X " + pkg + ".gitMajor=1",
		"-X " + pkg + ".gitMinor=37",
	}, " ")
}

// buildForgectl builds cmd/forgectl with versionLdflags(gitVersion).
func buildForgectl(t *testing.T, gitVersion string) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the forgectl binary")
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("no go tool to build forgectl with: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "forgectl")
	build := exec.Command(goTool, "build", "-o", bin, "-ldflags", versionLdflags(gitVersion),
		"github.com/tinyforge/tinyforge/cmd/forgectl")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// binary runs a built forgectl with a clean environment plus env.
type binary struct {
	path string
	env  map[string]string
}

func (b binary) run(t *testing.T, env map[string]string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(b.path, args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	for _, m := range []map[string]string{b.env, env} {
		for k, v := range m {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
	}
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		code = exit.ExitCode()
	default:
		t.Fatalf("running forgectl %v: %v", args, err)
	}
	return out.String(), errOut.String(), code
}

// TestBinary builds forgectl once, as the Makefile would, and checks what
// only a separate process shows: the ldflags-injected version, exit codes
// and the ~/.kube/config fallback.
func TestBinary(t *testing.T) {
	home := t.TempDir()
	forgectl := binary{
		path: buildForgectl(t, testGitVersion),
		env: map[string]string{
			"HOME":         home,
			"KUBERC":       "off",
			datadir.EnvVar: filepath.Join(home, "no-data-dir"),
		},
	}

	t.Run("version --client reports the ldflags version", func(t *testing.T) {
		out, errOut, code := forgectl.run(t, nil, "version", "--client", "-o", "json")
		if code != 0 {
			t.Fatalf("exit code %d, stderr: %s", code, errOut)
		}
		var got struct{ ClientVersion apiversion.Info }
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatalf("decoding %q: %v", out, err)
		}
		want := apiversion.Info{GitVersion: testGitVersion, Major: "1", Minor: "37"}
		if c := got.ClientVersion; c.GitVersion != want.GitVersion || c.Major != want.Major || c.Minor != want.Minor {
			t.Errorf("client version %+v, want %+v", c, want)
		}
	})

	t.Run("version against a server", func(t *testing.T) {
		tests := []struct {
			name          string
			serverVersion string
			wantWarning   bool
		}{
			{name: "same version, no skew warning", serverVersion: testGitVersion},
			{name: "same kube version, other TinyForge version", serverVersion: "v1.37.2+tinyforge.v0.2.0"},
			{name: "kube 1.34 is too far", serverVersion: "v1.34.0", wantWarning: true},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
				writeKubeconfig(t, kubeconfig, newVersionServer(t, tt.serverVersion).URL)
				out, errOut, code := forgectl.run(t, nil, "--kubeconfig", kubeconfig, "version", "--warnings-as-errors")
				if wantOut := "Server Version: " + tt.serverVersion + "\n"; !contains(out, wantOut) {
					t.Errorf("stdout %q does not contain %q", out, wantOut)
				}
				if gotWarning := code != 0 || contains(errOut, "version difference"); gotWarning != tt.wantWarning {
					t.Errorf("exit code %d, stderr %q; want a skew warning: %t", code, errOut, tt.wantWarning)
				}
			})
		}
	})

	t.Run("kubeconfig precedence", func(t *testing.T) {
		srv := newNamingServer(t)
		for _, c := range kubeconfigCases {
			t.Run(c.name, func(t *testing.T) {
				fx := newKubeconfigFixture(t, srv.URL)
				caseHome := t.TempDir()
				writeKubeconfig(t, filepath.Join(caseHome, ".kube", "config"), srv.URL+"/home")
				env := map[string]string{"HOME": caseHome}
				if c.env {
					env["KUBECONFIG"] = fx.env
				}
				if c.defaultDataDir {
					env[datadir.EnvVar] = fx.defaultDataDir
				}
				var global []string
				if c.args != nil {
					global = c.args(fx)
				}
				for name, probe := range kubeconfigProbes(fx) {
					t.Run(name, func(t *testing.T) {
						args := append(append([]string{}, global...), probe.args...)
						out, errOut, code := forgectl.run(t, env, args...)
						if code != 0 {
							t.Fatalf("forgectl %v: exit code %d, stderr: %s", args, code, errOut)
						}
						if want := probe.want(c.want); out != want {
							t.Errorf("forgectl %v printed %q, want %q", args, out, want)
						}
					})
				}
			})
		}
	})

	t.Run("errors exit 1 with the message on stderr", func(t *testing.T) {
		_, errOut, code := forgectl.run(t, nil, "no-such-command")
		if code != 1 || !contains(errOut, `error: unknown command "no-such-command" for "forgectl"`) {
			t.Errorf("exit code %d, stderr %q", code, errOut)
		}
	})

	t.Run("kubectl plugins are not run", func(t *testing.T) {
		bin := t.TempDir()
		mark := filepath.Join(t.TempDir(), "plugin-ran")
		script := fmt.Sprintf("#!/bin/sh\ntouch %s\n", mark)
		if err := os.WriteFile(filepath.Join(bin, "kubectl-foo"), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
		env := map[string]string{"PATH": bin + string(os.PathListSeparator) + os.Getenv("PATH")}
		for _, args := range [][]string{{"foo"}, {"kubectl-foo"}} {
			if _, _, code := forgectl.run(t, env, args...); code != 1 {
				t.Errorf("forgectl %v: exit code %d, want 1", args, code)
			}
		}
		if _, err := os.Stat(mark); err == nil {
			t.Error("forgectl ran a kubectl plugin")
		}
	})
}

// newVersionServer is an API server that only knows its version.
func newVersionServer(t *testing.T, gitVersion string) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/version" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(apiversion.Info{Major: "1", Minor: "37", GitVersion: gitVersion})
	}))
	t.Cleanup(srv.Close)
	return srv
}
