package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tinyforge/tinyforge/internal/docker"
	"github.com/tinyforge/tinyforge/internal/docker/dockertest"
)

// tfDigest is a sha256 digest of one repeated hex digit.
func tfDigest(digit string) string {
	return "sha256:" + strings.Repeat(digit, 64)
}

// tfRollout is a Rollout of workload, with an image intent when image is
// set, as a registry Trigger (or, without, the workload controller) would
// create it.
func tfRollout(name, workload, reason, image string) string {
	m := fmt.Sprintf(`apiVersion: tinyforge.dev/v1alpha1
kind: Rollout
metadata: {name: %s}
spec:
  workloadRef: {name: %s}
  reason: %s
`, name, workload, reason)
	if image != "" {
		m += fmt.Sprintf("  intent: {image: %q}\n", image)
	}
	return m
}

// setRolloutStatus writes a Rollout's status as the workload controller
// would, through the status subresource.
func (s *server) setRolloutStatus(t *testing.T, name, status string, flags ...string) {
	t.Helper()
	args := append([]string{"patch", "ro", name, "--subresource=status", "--type=merge", "-p", `{"status":` + status + `}`}, flags...)
	s.forgectl(t, args...)
}

// succeededStatus is the status of a Rollout that deployed revision,
// taking 42 seconds.
func succeededStatus(revision string) string {
	return fmt.Sprintf(`{"phase":"Succeeded","revision":%q,"startTime":"2026-01-01T00:00:00Z",`+
		`"completionTime":"2026-01-01T00:00:42Z","message":"revision %s is serving"}`, revision, revision)
}

// TestForgectlTinyForgeVerbs drives rollout history, approve, undo and
// status, and logs, through the real forgectl binary against a real server.
// Most Rollouts are applied directly and their status is written as the
// controller would write it (the controller leaves them alone, as their
// Workload does not exist), which pins down every case; status and logs
// then run on image Workloads the controller deploys, when the server has
// the image source built in.
func TestForgectlTinyForgeVerbs(t *testing.T) {
	s := startServer(t, "")
	a, b := tfDigest("a"), tfDigest("b")

	// Applied one by one, oldest first; within the second timestamps
	// resolve, names order them the same way.
	for _, ro := range []string{
		tfRollout("shop-1", "shop", "Trigger", "localhost:5000/shop:v1@"+a),
		tfRollout("shop-2", "shop", "ConfigChange", ""),
		tfRollout("shop-3", "shop", "ConfigChange", ""),
	} {
		if out, errOut, err := s.apply(ro); err != nil {
			t.Fatalf("apply: %v\n%s%s", err, out, errOut)
		}
	}
	s.setRolloutStatus(t, "shop-1", succeededStatus(a))
	s.setRolloutStatus(t, "shop-2", succeededStatus(b))
	s.setRolloutStatus(t, "shop-3", `{"phase":"AwaitingApproval","message":"approve with: forgectl rollout approve workload/shop"}`)

	t.Run("history lists the rollouts newest first", func(t *testing.T) {
		out := s.forgectl(t, "rollout", "history", "workload/shop")
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if len(lines) != 4 {
			t.Fatalf("history has %d lines, want a header and 3 rows:\n%s", len(lines), out)
		}
		if got := strings.Fields(lines[0]); strings.Join(got, " ") != "NAME REASON REVISION PHASE STARTED DURATION MESSAGE" {
			t.Errorf("header %q", lines[0])
		}
		want := [][]string{
			{"shop-3", "ConfigChange", "-", "AwaitingApproval", "-", "-", "approve with: forgectl rollout approve workload/shop"},
			{"shop-2", "ConfigChange", b, "Succeeded", "ago", "42s", "revision " + b[:40]},
			{"shop-1", "Trigger", a, "Succeeded", "ago", "42s", "revision " + a[:40]},
		}
		for i, w := range want {
			for _, field := range w {
				if !strings.Contains(lines[i+1], field) {
					t.Errorf("row %d %q lacks %q", i+1, lines[i+1], field)
				}
			}
		}
	})

	t.Run("history shows one rollout", func(t *testing.T) {
		out := s.forgectl(t, "rollout", "history", "workload/shop", "--revision=shop-1")
		mustContain(t, "history --revision", out, "Name:", "shop-1", "Workload:", "shop", "Phase:", "Succeeded", "Revision:", a,
			"Image:", "localhost:5000/shop:v1@"+a, "Duration:", "42s")
		out = s.forgectl(t, "rollout", "history", "wl/shop", "--revision=shop-1", "-o", "yaml")
		mustContain(t, "history --revision -o yaml", out, "kind: Rollout", "name: shop-1", "revision: "+a, "tinyforge.dev/workload: shop")
		if _, errOut, err := s.tryForgectl(nil, "rollout", "history", "workload/shop", "--revision=nope"); err == nil || !strings.Contains(errOut, `has no rollout "nope"`) {
			t.Errorf("history --revision=nope: %v, stderr %q", err, errOut)
		}
	})

	t.Run("history -o name lists every rollout", func(t *testing.T) {
		out := s.forgectl(t, "rollout", "history", "workload", "shop", "-o", "name")
		if want := "rollout.tinyforge.dev/shop-3\nrollout.tinyforge.dev/shop-2\nrollout.tinyforge.dev/shop-1\n"; out != want {
			t.Errorf("printed %q, want %q", out, want)
		}
	})

	t.Run("approve sets spec.approved on the rollout awaiting approval", func(t *testing.T) {
		out := s.forgectl(t, "rollout", "approve", "workload/shop")
		if out != "rollout.tinyforge.dev/shop-3 approved\n" {
			t.Errorf("approve printed %q", out)
		}
		if got := s.forgectl(t, "get", "ro", "shop-3", "-o", "jsonpath={.spec.approved}"); got != "true" {
			t.Errorf("shop-3 spec.approved = %q, want true", got)
		}
		_, errOut, err := s.tryForgectl(nil, "rollout", "approve", "workload/shop")
		if err == nil || !strings.Contains(errOut, `no rollout awaits approval (rollout "shop-3" is approved and waits for the controller)`) {
			t.Errorf("second approve: %v, stderr %q", err, errOut)
		}
		_, errOut, err = s.tryForgectl(nil, "rollout", "approve", "workload/shop", "--rollout=shop-1")
		if err == nil || !strings.Contains(errOut, `rollout "shop-1" is Succeeded: only a pending rollout can be approved`) {
			t.Errorf("approve --rollout=shop-1: %v, stderr %q", err, errOut)
		}
	})

	t.Run("undo creates a Rollback of the previous revision", func(t *testing.T) {
		// A dry run first: it prints the Rollout and creates nothing. The
		// target, shop-1, came from a registry push of digest a: the
		// rollback runs the image by that digest, not by its tag.
		out := s.forgectl(t, "rollout", "undo", "workload/shop", "--dry-run=client", "-o", "yaml")
		mustContain(t, "undo --dry-run", out, "generateName: shop-undo-", "reason: Rollback", "revision: "+a,
			"image: localhost:5000/shop@"+a)

		out, errOut, err := s.tryForgectl(nil, "rollout", "undo", "workload/shop")
		if err != nil {
			t.Fatalf("undo: %v\n%s", err, errOut)
		}
		// No Workload shop exists: the current revision is read from the
		// rollouts (shop-2 deployed b), and a warning says so.
		mustContain(t, "undo stderr", errOut, "Warning: workload default/shop not found")
		mustContain(t, "undo", out, "rollout.tinyforge.dev/shop-undo-", "created: workload/shop rolls back to revision "+a+" (from rollout shop-1)")
		got := s.forgectl(t, "get", "ro", "-l", "tinyforge.dev/workload=shop", "-o",
			`jsonpath={range .items[?(@.spec.reason=="Rollback")]}{.metadata.name} {.spec.revision} {.spec.intent.image}{"\n"}{end}`)
		fields := strings.Fields(got)
		if len(fields) != 3 || !strings.HasPrefix(fields[0], "shop-undo-") || fields[1] != a || fields[2] != "localhost:5000/shop@"+a {
			t.Fatalf("rollback rollouts: %q, want one of revision %s, image localhost:5000/shop@%s", got, a, a)
		}
		if first := strings.Fields(strings.Split(s.forgectl(t, "rollout", "history", "workload/shop"), "\n")[1]); first[0] != fields[0] || first[1] != "Rollback" {
			t.Errorf("history's newest row is %q, want the rollback %s", first, fields[0])
		}

		_, errOut, err = s.tryForgectl(nil, "rollout", "undo", "workload/shop", "--to-revision=shop-3")
		if err == nil || !strings.Contains(errOut, `rollout "shop-3" is AwaitingApproval: roll back only to a revision that deployed`) {
			t.Errorf("undo --to-revision=shop-3: %v, stderr %q", err, errOut)
		}
	})

	t.Run("undo refuses when there is nothing to roll back to", func(t *testing.T) {
		s.forgectl(t, "create", "namespace", "solo-ns")
		if out, errOut, err := s.apply(tfRollout("solo-1", "solo", "ConfigChange", ""), "-n", "solo-ns"); err != nil {
			t.Fatalf("apply: %v\n%s%s", err, out, errOut)
		}
		s.setRolloutStatus(t, "solo-1", succeededStatus(a), "-n", "solo-ns")
		_, errOut, err := s.tryForgectl(nil, "rollout", "undo", "workload/solo", "-n", "solo-ns")
		if err == nil || !strings.Contains(errOut, "rolling back workload solo-ns/solo: nothing to roll back to: no succeeded rollout deployed a revision other than "+a) {
			t.Errorf("undo of solo: %v, stderr %q", err, errOut)
		}
		// The namespace is honoured: default has no solo.
		_, errOut, err = s.tryForgectl(nil, "rollout", "undo", "workload/solo")
		if err == nil || !strings.Contains(errOut, `workload "solo" not found in namespace "default"`) {
			t.Errorf("undo of solo in default: %v, stderr %q", err, errOut)
		}
	})

	t.Run("status of a missing workload fails", func(t *testing.T) {
		_, errOut, err := s.tryForgectl(nil, "rollout", "status", "workload/shop", "--timeout=10s")
		if err == nil || !strings.Contains(errOut, `workload "shop" not found in namespace "default"`) {
			t.Errorf("status: %v, stderr %q", err, errOut)
		}
	})

	t.Run("status exits non-zero on a stalled workload", func(t *testing.T) {
		// Nothing listens on port 1: the image cannot be pulled, the deploy
		// fails and the workload stalls.
		manifest := `apiVersion: tinyforge.dev/v1alpha1
kind: Workload
metadata: {name: broken}
spec:
  source:
    kind: image
    config: {image: "localhost:1/tinyforge-e2e/missing:v1"}
`
		if out, errOut, err := s.apply(manifest); err != nil {
			t.Skipf("the server refuses an image Workload (%v: %s%s): no image source is built into it yet, so "+
				"rollout status is covered by unit tests only", err, out, errOut)
		}
		out, errOut, err := s.tryForgectl(nil, "rollout", "status", "workload/broken", "--timeout=2m")
		if err == nil {
			t.Fatalf("status of a workload that cannot deploy succeeded:\n%s", out)
		}
		mustContain(t, "status stderr", errOut, `workload "broken" is stalled (DeployFailed)`)
		_, errOut, err = s.tryForgectl(nil, "rollout", "status", "workload/broken", "--watch=false")
		if err == nil || !strings.Contains(errOut, "stalled") {
			t.Errorf("status --watch=false: %v, stderr %q", err, errOut)
		}
	})

	t.Run("status and logs of a workload that deploys", func(t *testing.T) {
		cli := dockertest.Client(t)
		dockertest.CleanupContainers(t, cli, docker.LabelWorkload+"=tf-logs", docker.LabelNamespace+"=default")
		tag := fmt.Sprintf("tinyforge-e2e/forgectl-logs-%d:v1", time.Now().UnixNano())
		dockertest.BuildTestApp(t, cli, tag, dockertest.WithVersion("v1"))
		manifest := fmt.Sprintf(`apiVersion: tinyforge.dev/v1alpha1
kind: Workload
metadata: {name: tf-logs}
spec:
  source:
    kind: image
    config: {image: %q, pullPolicy: Never}
`, tag)
		if out, errOut, err := s.apply(manifest); err != nil {
			t.Skipf("the server refuses an image Workload (%v: %s%s): no image source is built into it yet, so "+
				"logs is covered by unit tests only", err, out, errOut)
		}
		out := s.forgectl(t, "rollout", "status", "workload/tf-logs", "--timeout=2m")
		mustContain(t, "rollout status", out, `workload "tf-logs" successfully rolled out: revision sha256:`)
		// The test app logs to stderr; forgectl passes it on as stderr.
		out, errOut, err := s.tryForgectl(nil, "logs", "workload/tf-logs", "--tail=1")
		if err != nil || out != "" || !strings.Contains(errOut, `version="v1" listening on`) {
			t.Errorf("logs: %v, stdout %q, stderr %q", err, out, errOut)
		}
		s.forgectl(t, "delete", "workload/tf-logs", "--timeout=2m")
	})

	t.Run("logs takes workloads only", func(t *testing.T) {
		_, errOut, err := s.tryForgectl(nil, "logs", "pod/web")
		if err == nil || !strings.Contains(errOut, `logs works on workloads only: "pod/web" is not a workload (use workload/NAME)`) {
			t.Errorf("logs pod/web: %v, stderr %q", err, errOut)
		}
		_, errOut, err = s.tryForgectl(nil, "logs", "workload/nope")
		if err == nil || !strings.Contains(errOut, `workload "nope" not found in namespace "default"`) {
			t.Errorf("logs workload/nope: %v, stderr %q", err, errOut)
		}
	})
}
