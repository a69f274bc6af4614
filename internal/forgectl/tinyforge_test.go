package forgectl

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestTinyForgeCommandsReplaceKubectls checks rollout and logs are
// TinyForge's: their help, their subcommands, and the error for the
// resource types kubectl's would have taken.
func TestTinyForgeCommandsReplaceKubectls(t *testing.T) {
	isolate(t)
	// Arguments are checked before anything is loaded or dialled, so a
	// server that does not exist is enough.
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	writeKubeconfig(t, kubeconfig, "https://"+closedAddr(t))

	help := []struct {
		name    string
		args    []string
		want    []string
		notWant []string
	}{
		{
			name:    "root lists them under TinyForge",
			args:    []string{"--help"},
			want:    []string{"TinyForge Commands:\n  deploy ", "\n  rollout ", "\n  logs ", "\n  webhook-url "},
			notWant: []string{"Deploy Commands:\n  rollout"},
		},
		{
			name:    "rollout",
			args:    []string{"rollout", "--help"},
			want:    []string{"replace kubectl's rollout command", "approve ", "history ", "status ", "undo ", "forgectl rollout undo workload/web"},
			notWant: []string{"restart ", "pause ", "resume ", "deployment/abc"},
		},
		{name: "rollout history", args: []string{"rollout", "history", "--help"}, want: []string{"--revision=", "-o, --output="}},
		{name: "rollout status", args: []string{"rollout", "status", "--help"}, want: []string{"-w, --watch=true", "--timeout=0s"}},
		{name: "rollout undo", args: []string{"rollout", "undo", "--help"}, want: []string{"--to-revision=", "--dry-run="}},
		{name: "rollout approve", args: []string{"rollout", "approve", "--help"}, want: []string{"--rollout="}},
		{name: "deploy", args: []string{"deploy", "--help"}, want: []string{"manual Event", "--revision=", "--reason=", "--trigger="}},
		{name: "webhook-url", args: []string{"webhook-url", "--help"}, want: []string{"paste into a provider", "--base-url="}},
		{
			name:    "logs",
			args:    []string{"logs", "--help"},
			want:    []string{"replaces kubectl's logs", "-f, --follow=false", "--tail=-1", "--since=0s", "--service=", "--timestamps=false", "--prefix=false"},
			notWant: []string{"--container", "--previous"},
		},
	}
	for _, tt := range help {
		t.Run(tt.name, func(t *testing.T) {
			out, errOut, err := runForgectl(t, tt.args...)
			if err != nil {
				t.Fatalf("forgectl %v: %v\n%s", tt.args, err, errOut)
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

	refused := []struct {
		args []string
		want string
	}{
		{args: []string{"logs", "pod/web"}, want: `error: logs works on workloads only: "pod/web" is not a workload (use workload/NAME)`},
		{args: []string{"logs"}, want: "error: logs needs a workload: workload/NAME"},
		{args: []string{"rollout", "status", "deployment/web"}, want: `error: rollout status works on workloads only: "deployment/web" is not a workload`},
		{args: []string{"rollout", "history", "daemonset", "web"}, want: `error: rollout history works on workloads only: "daemonset web" is not a workload`},
		{args: []string{"rollout", "undo", "statefulset/web"}, want: "error: rollout undo works on workloads only"},
		{args: []string{"rollout", "approve"}, want: "error: rollout approve needs a workload"},
		{args: []string{"rollout", "restart", "workload/web"}, want: `error: unknown command "restart workload/web"`},
	}
	for _, tt := range refused {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			args := append([]string{"--kubeconfig", kubeconfig}, tt.args...)
			_, errOut, err := runForgectl(t, args...)
			if code := exitCode(t, err); code != 1 {
				t.Fatalf("forgectl %v: exit code %d, want 1", tt.args, code)
			}
			if !contains(errOut, tt.want) {
				t.Errorf("forgectl %v: stderr %q does not contain %q", tt.args, errOut, tt.want)
			}
		})
	}
}
