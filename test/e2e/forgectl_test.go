package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func rollout(name, revisionDigit string, labels string) string {
	return fmt.Sprintf(`apiVersion: tinyforge.dev/v1alpha1
kind: Rollout
metadata:
  name: %s
  labels: {%s}
spec:
  workloadRef: {name: web}
  revision: sha256:%s
  reason: ConfigChange
`, name, labels, strings.Repeat(revisionDigit, 64))
}

// apply pipes manifest into forgectl apply with extra flags.
func (s *server) apply(manifest string, flags ...string) (string, string, error) {
	return s.tryForgectl(strings.NewReader(manifest), append([]string{"apply", "-f", "-"}, flags...)...)
}

func mustContain(t *testing.T, what, got string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(got, w) {
			t.Errorf("%s: output lacks %q:\n%s", what, w, got)
		}
	}
}

// pollOutput waits until f's output contains want, or fails after a deadline.
func pollOutput(t *testing.T, what string, f func() string, want string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	var got string
	for time.Now().Before(deadline) {
		if got = f(); strings.Contains(got, want) {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s: never contained %q; last:\n%s", what, want, got)
}

func TestForgectl(t *testing.T) {
	s := startServer(t, "")

	t.Run("version shows client and server", func(t *testing.T) {
		out := s.forgectl(t, "version")
		mustContain(t, "version", out, "Client Version: v1.37.2+tinyforge", "Server Version: v1.37.2+tinyforge")
	})

	t.Run("api-resources lists short names and the category", func(t *testing.T) {
		out := s.forgectl(t, "api-resources", "--api-group=tinyforge.dev", "-o", "wide")
		for _, want := range []string{"workloads", "wl", "triggers", "trg", "triggerbindings", "tb", "tfev", "rollouts", "ro", "sourcekinds", "triggerkinds", "tinyforge"} {
			mustContain(t, "api-resources", out, want)
		}
	})

	t.Run("create namespace, secret and configmap", func(t *testing.T) {
		s.forgectl(t, "create", "namespace", "apps")
		s.forgectl(t, "create", "secret", "generic", "registry-creds", "-n", "apps", "--from-literal=password=hunter2")
		s.forgectl(t, "create", "configmap", "web-env", "-n", "apps", "--from-literal=MODE=prod")
		out := s.forgectl(t, "get", "secret,cm", "-n", "apps")
		mustContain(t, "get secret,cm", out, "registry-creds", "Opaque", "web-env")
		if got := s.forgectl(t, "get", "secret/registry-creds", "-n", "apps", "-o", "jsonpath={.data.password}"); got != "aHVudGVyMg==" {
			t.Errorf("secret data = %q", got)
		}
	})

	t.Run("client-side apply creates, configures and leaves alone", func(t *testing.T) {
		out, errOut, err := s.apply(rollout("web-1", "1", "tier: web"))
		if err != nil || !strings.Contains(out, "rollout.tinyforge.dev/web-1 created") {
			t.Fatalf("apply: %v %s %s", err, out, errOut)
		}
		out, _, _ = s.apply(rollout("web-1", "1", "tier: web, team: a"))
		mustContain(t, "re-apply", out, "configured")
		out, _, _ = s.apply(rollout("web-1", "1", "tier: web, team: a"))
		mustContain(t, "same apply", out, "unchanged")
	})

	t.Run("get by short name, category, label and output format", func(t *testing.T) {
		mustContain(t, "get ro", s.forgectl(t, "get", "ro"), "web-1", "web")
		mustContain(t, "get tinyforge", s.forgectl(t, "get", "tinyforge"), "rollout.tinyforge.dev/web-1")
		mustContain(t, "get -o wide", s.forgectl(t, "get", "ro", "-o", "wide"), "REASON", "ConfigChange", "PINNED", "sha256:111")
		mustContain(t, "get -o yaml", s.forgectl(t, "get", "ro/web-1", "-o", "yaml"), "kind: Rollout", "team: a")
		var obj map[string]any
		if err := json.Unmarshal([]byte(s.forgectl(t, "get", "rollout/web-1", "-o", "json")), &obj); err != nil {
			t.Errorf("-o json is not JSON: %v", err)
		}
		mustContain(t, "-l team=a", s.forgectl(t, "get", "ro", "-l", "team=a", "-o", "name"), "rollout.tinyforge.dev/web-1")
		if out := s.forgectl(t, "get", "ro", "-l", "team=b", "-o", "name"); strings.TrimSpace(out) != "" {
			t.Errorf("-l team=b listed %q", out)
		}
	})

	t.Run("server-side apply conflicts between field managers", func(t *testing.T) {
		m := rollout("web-2", "2", "owner: alice")
		if _, errOut, err := s.apply(m, "--server-side", "--field-manager=alice"); err != nil {
			t.Fatalf("alice: %v %s", err, errOut)
		}
		_, errOut, err := s.apply(rollout("web-2", "2", "owner: bob"), "--server-side", "--field-manager=bob")
		if err == nil {
			t.Fatal("bob's apply of a field alice owns succeeded without --force-conflicts")
		}
		mustContain(t, "conflict", errOut, "conflict", "alice", ".metadata.labels.owner")
		if _, errOut, err := s.apply(rollout("web-2", "2", "owner: bob"), "--server-side", "--field-manager=bob", "--force-conflicts"); err != nil {
			t.Fatalf("forced apply: %v %s", err, errOut)
		}
		if got := s.forgectl(t, "get", "ro/web-2", "-o", "jsonpath={.metadata.labels.owner}"); got != "bob" {
			t.Errorf("owner = %q after forced apply, want bob", got)
		}
	})

	t.Run("diff", func(t *testing.T) {
		_, _, err := s.tryForgectl(strings.NewReader(rollout("web-2", "2", "owner: bob")), "diff", "-f", "-")
		if err != nil {
			t.Errorf("diff of an unchanged object: %v, want exit 0", err)
		}
		out, _, err := s.tryForgectl(strings.NewReader(rollout("web-2", "2", "owner: carol")), "diff", "-f", "-")
		var exit *exec.ExitError
		if !errorsAs(err, &exit) || exit.ExitCode() != 1 {
			t.Errorf("diff of a changed object: %v, want exit 1", err)
		}
		mustContain(t, "diff", out, "-    owner: bob", "+    owner: carol")
	})

	t.Run("patch, and status only through its subresource", func(t *testing.T) {
		s.forgectl(t, "patch", "ro", "web-1", "--type=merge", "-p", `{"spec":{"approved":true}}`)
		if got := s.forgectl(t, "get", "ro/web-1", "-o", "jsonpath={.spec.approved}"); got != "true" {
			t.Errorf("spec.approved = %q after patch", got)
		}
		// A status written through the main resource is ignored.
		s.forgectl(t, "patch", "ro", "web-1", "--type=merge", "-p", `{"status":{"phase":"Failed"}}`)
		if got := s.forgectl(t, "get", "ro/web-1", "-o", "jsonpath={.status.phase}"); got != "" {
			t.Errorf("status.phase = %q after a main-resource patch, want it ignored", got)
		}
		s.forgectl(t, "patch", "ro", "web-1", "--subresource=status", "--type=merge", "-p", `{"status":{"phase":"Deploying"}}`)
		if got := s.forgectl(t, "get", "ro/web-1", "-o", "jsonpath={.status.phase}"); got != "Deploying" {
			t.Errorf("status.phase = %q after a status patch, want Deploying", got)
		}
		// Schema validation still applies to the status.
		if _, errOut, err := s.tryForgectl(nil, "patch", "ro", "web-1", "--subresource=status", "--type=merge", "-p", `{"status":{"phase":"Dancing"}}`); err == nil {
			t.Error("an out-of-enum phase was accepted")
		} else {
			mustContain(t, "invalid phase", errOut, "status.phase", "Unsupported value")
		}
	})

	t.Run("edit", func(t *testing.T) {
		editor := filepath.Join(t.TempDir(), "editor.sh")
		script := "#!/bin/sh\nsed -i 's/team: a/team: edited/' \"$1\"\n"
		if err := os.WriteFile(editor, []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(bin.forgectl, "edit", "ro/web-1")
		cmd.Env = append(os.Environ(), "KUBECONFIG="+s.Kubeconf, "EDITOR="+editor, "HOME="+t.TempDir())
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("edit: %v\n%s", err, out)
		}
		if got := s.forgectl(t, "get", "ro/web-1", "-o", "jsonpath={.metadata.labels.team}"); got != "edited" {
			t.Errorf("label after edit = %q", got)
		}
	})

	t.Run("describe shows the object's core Events", func(t *testing.T) {
		uid := s.forgectl(t, "get", "ro/web-1", "-o", "jsonpath={.metadata.uid}")
		ev := fmt.Sprintf(`apiVersion: v1
kind: Event
metadata: {name: web-1.deploying, namespace: default}
involvedObject: {apiVersion: tinyforge.dev/v1alpha1, kind: Rollout, name: web-1, namespace: default, uid: %s}
reason: DeployStarted
message: starting revision sha256:111
type: Normal
source: {component: tinyforge-controllers}
firstTimestamp: "2026-01-01T00:00:00Z"
lastTimestamp: "2026-01-01T00:00:00Z"
count: 1
`, uid)
		if _, errOut, err := s.apply(ev); err != nil {
			t.Fatalf("creating event: %v %s", err, errOut)
		}
		out := s.forgectl(t, "describe", "ro/web-1")
		mustContain(t, "describe", out, "Name:         web-1", "Revision:", "Events:", "DeployStarted", "starting revision sha256:111")
	})

	t.Run("get -w sees create, update and delete", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, bin.forgectl, "get", "ro", "-w", "--output-watch-events", "-o", "custom-columns=EVENT:.type,NAME:.object.metadata.name,TEAM:.object.metadata.labels.team", "--no-headers")
		cmd.Env = append(os.Environ(), "KUBECONFIG="+s.Kubeconf, "HOME="+t.TempDir())
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() { cancel(); cmd.Wait() }()
		lines := make(chan string, 100)
		go func() {
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				lines <- strings.Join(strings.Fields(sc.Text()), " ")
			}
			close(lines)
		}()
		expect := func(want string) {
			t.Helper()
			timeout := time.After(30 * time.Second)
			for {
				select {
				case l, ok := <-lines:
					if !ok {
						t.Fatalf("watch ended before %q", want)
					}
					if l == want {
						return
					}
				case <-timeout:
					t.Fatalf("watch never printed %q", want)
				}
			}
		}
		expect("ADDED web-1 edited") // the initial list
		if _, errOut, err := s.apply(rollout("web-3", "3", "team: w")); err != nil {
			t.Fatalf("%v %s", err, errOut)
		}
		expect("ADDED web-3 w")
		s.forgectl(t, "label", "ro/web-3", "team=w2", "--overwrite")
		expect("MODIFIED web-3 w2")
		s.forgectl(t, "delete", "ro/web-3")
		expect("DELETED web-3 w2")
	})

	t.Run("wait --for=condition=Ready returns when the condition is set", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, bin.forgectl, "wait", "--for=condition=Ready", "ro/web-2", "--timeout=90s")
		cmd.Env = append(os.Environ(), "KUBECONFIG="+s.Kubeconf, "HOME="+t.TempDir())
		done := make(chan error, 1)
		var out strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			t.Fatalf("wait returned before the condition was set: %v %s", err, out.String())
		default:
		}
		now := time.Now().UTC().Format(time.RFC3339)
		s.forgectl(t, "patch", "ro", "web-2", "--subresource=status", "--type=merge", "-p",
			`{"status":{"conditions":[{"type":"Ready","status":"True","reason":"Succeeded","message":"deployed","lastTransitionTime":"`+now+`"}]}}`)
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("wait: %v %s", err, out.String())
			}
			mustContain(t, "wait", out.String(), "condition met")
		case <-ctx.Done():
			t.Fatal("wait did not return after Ready was set")
		}
	})

	t.Run("explain every type", func(t *testing.T) {
		mustContain(t, "explain workloads", s.forgectl(t, "explain", "workloads.spec.source"), "kind", "config")
		mustContain(t, "explain triggers", s.forgectl(t, "explain", "trg.spec"), "secretRef")
		mustContain(t, "explain events.tinyforge.dev", s.forgectl(t, "explain", "tfev.spec"), "deliveryID")
		mustContain(t, "explain secrets", s.forgectl(t, "explain", "secrets.data"), "FIELD: data")
		mustContain(t, "explain leases", s.forgectl(t, "explain", "leases.spec"), "holderIdentity")
		mustContain(t, "explain namespaces", s.forgectl(t, "explain", "ns"), "Namespace provides a scope")
	})

	t.Run("viewer context reads but cannot write", func(t *testing.T) {
		mustContain(t, "viewer get", s.forgectl(t, "--context", "tinyforge-viewer", "get", "ro"), "web-1")
		_, errOut, err := s.tryForgectl(nil, "--context", "tinyforge-viewer", "delete", "ro/web-1")
		if err == nil {
			t.Fatal("viewer deleted a rollout")
		}
		mustContain(t, "viewer delete", errOut, "Forbidden")
	})

	t.Run("delete", func(t *testing.T) {
		s.forgectl(t, "delete", "ro/web-2")
		_, errOut, err := s.tryForgectl(nil, "get", "ro/web-2")
		if err == nil {
			t.Fatal("deleted rollout still found")
		}
		mustContain(t, "get deleted", errOut, "NotFound")
	})
}
