package forgectl

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

func TestHelpSaysForgectl(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		want    []string
		notWant []string
	}{
		{
			name: "root",
			args: []string{"--help"},
			want: []string{
				"forgectl controls TinyForge",
				`Use "forgectl <command> --help"`,
				"Basic Commands (Intermediate):",
			},
			notWant: []string{"kubectl controls", "plugins", "kubectl "},
		},
		{
			name:    "get",
			args:    []string{"get", "--help"},
			want:    []string{"forgectl get pods", `Use "forgectl api-resources"`, "forgectl get [(-o|--output=)"},
			notWant: []string{"kubectl "},
		},
		{
			name:    "attach keeps the annotation's name",
			args:    []string{"attach", "--help"},
			want:    []string{"forgectl attach mypod", "'kubectl.kubernetes.io/default-container' annotation"},
			notWant: []string{"kubectl "},
		},
		{
			name:    "config",
			args:    []string{"config", "view", "--help"},
			want:    []string{"forgectl config view --raw"},
			notWant: []string{"kubectl "},
		},
		{
			name: "completion installs forgectl's files",
			args: []string{"completion", "--help"},
			want: []string{
				"source <(forgectl completion bash)",
				"bash_completion.d/forgectl\n",
				`"${fpath[1]}/_forgectl"`,
				"completions/forgectl.fish",
				"~/.kube/forgectl-completion.bash.inc",
				`$HOME\.kube\forgectl-completion.ps1`,
			},
			notWant: []string{"kubectl "},
		},
		{
			name: "data-dir is a global option",
			args: []string{"options"},
			want: []string{"--data-dir=", "--kubeconfig="},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			isolate(t)
			out, errOut, err := runForgectl(t, tt.args...)
			if err != nil {
				t.Fatalf("forgectl %v: %v\nstderr: %s", tt.args, err, errOut)
			}
			for _, w := range tt.want {
				if !contains(out, w) {
					t.Errorf("forgectl %v does not print %q:\n%s", tt.args, w, out)
				}
			}
			for _, nw := range tt.notWant {
				if contains(out, nw) {
					t.Errorf("forgectl %v prints %q:\n%s", tt.args, nw, out)
				}
			}
		})
	}
}

// TestCommandGroupsExist catches a kubectl upgrade renaming or dropping a
// command that commandGroups lists.
func TestCommandGroupsExist(t *testing.T) {
	isolate(t)
	root := NewCommand(discardStreams(), nil)
	for _, g := range commandGroups {
		for _, name := range g.names {
			if c, _, err := root.Find([]string{name}); err != nil || c.Name() != name {
				t.Errorf("%s lists %q, which forgectl does not have", g.message, name)
			}
		}
	}
}

// TestNoKubectlPlugins puts a kubectl plugin on PATH that leaves a mark when
// run, and checks forgectl neither runs it nor offers it.
func TestNoKubectlPlugins(t *testing.T) {
	isolate(t)
	bin := t.TempDir()
	mark := filepath.Join(t.TempDir(), "plugin-ran")
	script := "#!/bin/sh\ntouch " + mark + "\n"
	for _, name := range []string{"kubectl-foo", "kubectl_complete-foo", "kubectl-create-foo"} {
		if err := os.WriteFile(filepath.Join(bin, name), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))

	tests := []struct {
		name     string
		args     []string
		wantFail bool
	}{
		{name: "plugin name", args: []string{"foo"}, wantFail: true},
		{name: "plugin file name", args: []string{"kubectl-foo"}, wantFail: true},
		{name: "create subcommand plugin", args: []string{"create", "foo"}, wantFail: true},
		{name: "plugin list is gone", args: []string{"plugin", "list"}, wantFail: true},
		{name: "completion of a plugin's arguments", args: []string{"__complete", "foo", ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, _, err := runForgectl(t, tt.args...)
			if code := exitCode(t, err); (code != 0) != tt.wantFail {
				t.Errorf("forgectl %v: exit code %d (%v), want failure %t", tt.args, code, err, tt.wantFail)
			}
			if _, err := os.Stat(mark); err == nil {
				t.Fatalf("forgectl %v ran a kubectl plugin", tt.args)
			}
			if contains(out, "foocomp") {
				t.Errorf("forgectl %v printed a plugin's completions: %q", tt.args, out)
			}
		})
	}

	t.Run("completion does not offer plugins", func(t *testing.T) {
		out, _, err := runForgectl(t, "__complete", "fo")
		if err != nil {
			t.Fatal(err)
		}
		if contains(out, "foo") {
			t.Errorf("completion offers a kubectl plugin:\n%s", out)
		}
	})
	t.Run("help does not list plugins", func(t *testing.T) {
		out, _, err := runForgectl(t, "--help")
		if err != nil {
			t.Fatal(err)
		}
		if contains(out, "foo") {
			t.Errorf("help lists a kubectl plugin:\n%s", out)
		}
	})
}

func TestUnreachableServerIsAnError(t *testing.T) {
	isolate(t)
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	writeKubeconfig(t, kubeconfig, "https://"+closedAddr(t))

	for _, args := range [][]string{
		{"api-resources"},
		{"get", "namespaces"},
		{"version"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			args := append([]string{"--kubeconfig", kubeconfig, "--request-timeout", "10s"}, args...)
			_, errOut, err := runForgectl(t, args...)
			if code := exitCode(t, err); code != 1 {
				t.Fatalf("forgectl %v: exit code %d, want 1 (err %v)", args, code, err)
			}
			if !contains(err.Error(), "was refused") {
				t.Errorf("error %q does not say the connection was refused", err)
			}
			if !contains(errOut, err.Error()) {
				t.Errorf("stderr %q does not carry the error %q", errOut, err)
			}
		})
	}
}

func TestRunReportsUsageErrors(t *testing.T) {
	isolate(t)
	_, errOut, err := runForgectl(t, "get", "--no-such-flag")
	if code := exitCode(t, err); code != 1 {
		t.Fatalf("exit code %d, want 1 (err %v)", code, err)
	}
	for _, want := range []string{"unknown flag: --no-such-flag", "See 'forgectl get --help' for usage."} {
		if !contains(errOut, want) {
			t.Errorf("stderr does not say %q:\n%s", want, errOut)
		}
	}
}

// closedAddr returns a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

// TestKubercAlias checks that an alias from the user's kuberc, which kubectl
// applies by replacing the command line, survives NewCommand setting args.
func TestKubercAlias(t *testing.T) {
	isolate(t)
	dir := t.TempDir()
	kuberc := filepath.Join(dir, "kuberc")
	if err := os.WriteFile(kuberc, []byte(`apiVersion: kubectl.config.k8s.io/v1beta1
kind: Preference
aliases:
- name: rawversion
  command: get
  appendArgs: ["--raw", "/version"]
`), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("KUBERC", kuberc)
	kubeconfig := filepath.Join(dir, "kubeconfig")
	writeKubeconfig(t, kubeconfig, newNamingServer(t).URL+"/aliased")

	out, errOut, err := runForgectl(t, "--kubeconfig="+kubeconfig, "rawversion")
	if err != nil {
		t.Fatalf("forgectl rawversion: %v\nstderr: %s", err, errOut)
	}
	if want := "aliased"; out != want {
		t.Errorf("forgectl rawversion printed %q, want %q", out, want)
	}
}

func TestTeeBoolValue(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want bool
	}{
		{name: "unset", args: nil, want: false},
		{name: "bare flag", args: []string{"--b"}, want: true},
		{name: "explicit false", args: []string{"--b=false"}, want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var theirs, ours bool
			fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
			fs.BoolVar(&theirs, "b", false, "")
			fl := fs.Lookup("b")
			fl.Value = &teeBoolValue{Value: fl.Value, also: &ours}
			if err := fs.Parse(tt.args); err != nil {
				t.Fatal(err)
			}
			if theirs != tt.want || ours != tt.want {
				t.Errorf("theirs %t, ours %t, want both %t", theirs, ours, tt.want)
			}
		})
	}
}

func TestDataDirCompletesDirectories(t *testing.T) {
	isolate(t)
	out, _, err := runForgectl(t, "__complete", "--data-dir", "")
	if err != nil {
		t.Fatal(err)
	}
	if want := ":" + strconv.Itoa(int(cobra.ShellCompDirectiveFilterDirs)); !contains(out, want) {
		t.Errorf("completion of --data-dir printed %q, want directive %s", out, want)
	}
}
