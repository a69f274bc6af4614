package e2e

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestRealKubectl checks that an unmodified kubectl works against TinyForge,
// not only forgectl. Debian machines here ship one; without it there is
// nothing to test.
func TestRealKubectl(t *testing.T) {
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		t.Skip("no kubectl on PATH")
	}
	s := startServer(t, "")
	run := func(stdin string, args ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, kubectl, args...)
		cmd.Env = append(os.Environ(), "KUBECONFIG="+s.Kubeconf, "HOME="+t.TempDir())
		cmd.Stdin = strings.NewReader(stdin)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	mustContain(t, "kubectl version", run("", "version"), "Server Version: v1.37.2+tinyforge")
	mustContain(t, "kubectl apply", run(rollout("k-1", "4", "via: kubectl"), "apply", "--server-side", "-f", "-"), "serverside-applied")
	mustContain(t, "kubectl get", run("", "get", "ro", "-l", "via=kubectl"), "k-1")
	mustContain(t, "kubectl explain", run("", "explain", "workloads.spec.routes"), "port")
	mustContain(t, "kubectl api-resources", run("", "api-resources", "--categories=tinyforge", "-o", "name"), "workloads.tinyforge.dev")
}
