package e2e

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"
	"sigs.k8s.io/controller-runtime/pkg/client"

	tinyforgev1alpha1 "github.com/tinyforge/tinyforge/api/v1alpha1"
	"github.com/tinyforge/tinyforge/controllers/trigger"
	"github.com/tinyforge/tinyforge/internal/docker"
	"github.com/tinyforge/tinyforge/internal/docker/dockertest"
)

// gitRepo is a bare repository served over file:// with a work tree to
// commit from.
type gitRepo struct {
	t          *testing.T
	bare, work string
}

func newGitRepo(t *testing.T) *gitRepo {
	t.Helper()
	dir := t.TempDir()
	r := &gitRepo{t: t, bare: filepath.Join(dir, "site.git"), work: filepath.Join(dir, "work")}
	r.git(dir, "init", "-q", "--bare", "-b", "main", r.bare)
	r.git(dir, "clone", "-q", r.bare, r.work)
	return r
}

func (r *gitRepo) url() string { return "file://" + r.bare }

func (r *gitRepo) git(dir string, args ...string) string {
	r.t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=Ada", "GIT_AUTHOR_EMAIL=ada@example.org",
		"GIT_COMMITTER_NAME=Ada", "GIT_COMMITTER_EMAIL=ada@example.org", "GIT_TERMINAL_PROMPT=0")
	out, err := cmd.CombinedOutput()
	if err != nil {
		r.t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// commit writes site/index.html and pushes it to main; it returns the
// commit ID.
func (r *gitRepo) commit(content string) string {
	r.t.Helper()
	if err := os.MkdirAll(filepath.Join(r.work, "site"), 0o755); err != nil {
		r.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(r.work, "site", "index.html"), []byte(content), 0o644); err != nil {
		r.t.Fatal(err)
	}
	r.git(r.work, "add", "-A")
	r.git(r.work, "commit", "-q", "-m", "site: "+content)
	r.git(r.work, "push", "-q", "origin", "HEAD:main")
	return r.git(r.work, "rev-parse", "HEAD")
}

// githubPush is a push delivery as GitHub sends it (the fields the
// fixture in test/fixtures/webhooks/github/push.json has that matter).
func githubPush(url, before, after, message string) []byte {
	commit := map[string]any{
		"id": after, "message": message, "timestamp": time.Now().Format(time.RFC3339),
		"author": map[string]any{"name": "Ada", "email": "ada@example.org", "username": "ada"},
		"added":  []string{}, "modified": []string{"site/index.html"}, "removed": []string{},
		"distinct": true,
	}
	b, _ := json.Marshal(map[string]any{
		"ref": "refs/heads/main", "before": before, "after": after, "created": false, "deleted": false,
		"repository":  map[string]any{"name": "site", "full_name": "acme/site", "clone_url": url},
		"pusher":      map[string]any{"name": "ada", "email": "ada@example.org"},
		"commits":     []any{commit},
		"head_commit": commit,
	})
	return b
}

func (s *server) deliverGitHub(t *testing.T, path, token, event, id string, body []byte) (int, string) {
	t.Helper()
	mac := hmac.New(sha256.New, []byte(token))
	mac.Write(body)
	req, _ := http.NewRequest(http.MethodPost, "http://"+s.IngressAddr+path, strings.NewReader(string(body)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-GitHub-Event", event)
	req.Header.Set("X-GitHub-Delivery", id)
	req.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(mac.Sum(nil)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestGitFlows: a static site from a local git repository is redeployed
// by a signed GitHub push webhook at the new commit, by `forgectl deploy`
// through a manual trigger, and by a cron trigger that fetches the branch
// again.
func TestGitFlows(t *testing.T) {
	if testing.Short() {
		t.Skip("needs Docker and git")
	}
	cli := dockertest.Client(t)
	dockertest.CleanupContainers(t, cli, docker.LabelNamespace+"=default", docker.LabelWorkload+"=site")
	s := startServer(t, "")
	c := s.client(t)
	serve := dockertest.BuildTestApp(t, cli, fmt.Sprintf("tinyforge-e2e/static-serve-%d:v1", time.Now().UnixNano()), dockertest.WithEnv("STATIC_DIR", "/www"))
	t.Cleanup(s.stop) // before the image goes, so nothing recreates its containers
	repo := newGitRepo(t)
	c1 := repo.commit("hello v1")

	const token = "github-hook-token"
	path := trigger.WebhookPath("default", "site-repo", []byte(token))
	s.mustApply(t, fmt.Sprintf(`apiVersion: tinyforge.dev/v1alpha1
kind: Workload
metadata: {name: site, namespace: default}
spec:
  source:
    kind: static
    config:
      git: {url: %[1]q, ref: main, path: site}
      baseImage: %[2]s
      root: /www
      port: 8080
  routes: [{port: 8080}]
  healthCheck: {path: /healthz, interval: 200ms, timeout: 1s}
  strategy: {drainTimeout: 5s, progressDeadline: 60s}
---
apiVersion: v1
kind: Secret
metadata: {name: site-repo-token, namespace: default}
stringData: {token: %[3]s}
---
apiVersion: tinyforge.dev/v1alpha1
kind: Trigger
metadata: {name: site-repo, namespace: default}
spec:
  kind: git
  provider: github
  secretRef: {name: site-repo-token}
  config: {url: %[1]q, branches: [main], paths: [site]}
---
apiVersion: tinyforge.dev/v1alpha1
kind: Trigger
metadata: {name: by-hand, namespace: default}
spec: {kind: manual}
---
%[4]s---
%[5]s`, repo.url(), serve, token, binding("site-repo", "site-repo", "site", ""), binding("site-by-hand", "by-hand", "site", "")))
	s.waitServes(t, "site.default.localhost", "hello v1")
	pollCond(t, "site at the first commit", time.Minute, func() bool {
		var w tinyforgev1alpha1.Workload
		return c.Get(context.Background(), client.ObjectKey{Namespace: "default", Name: "site"}, &w) == nil &&
			strings.HasPrefix(w.Status.CurrentRevision, c1[:12])
	})
	var tr tinyforgev1alpha1.Trigger
	waitObj(t, c, &tr, "site-repo", 30*time.Second, "the webhook path", func() bool { return tr.Status.WebhookPath == path })

	// A push, delivered as GitHub delivers it, redeploys the new commit.
	c2 := repo.commit("hello v2")
	start := time.Now()
	code, answer := s.deliverGitHub(t, path, token, "push", "gh-delivery-1", githubPush(repo.url(), c1, c2, "site: hello v2"))
	if code != http.StatusAccepted {
		t.Fatalf("push delivery answered %d %s", code, answer)
	}
	s.waitServes(t, "site.default.localhost", "hello v2")
	t.Logf("git push webhook to serving the new commit: %v", time.Since(start).Round(time.Millisecond))
	var w tinyforgev1alpha1.Workload
	waitObj(t, c, &w, "site", time.Minute, "revision of the pushed commit", func() bool { return strings.HasPrefix(w.Status.CurrentRevision, c2[:12]) })
	// A wrong signature is refused and deploys nothing.
	if code, answer := s.deliverGitHub(t, path, "guess", "push", "gh-delivery-2", githubPush(repo.url(), c2, c2, "x")); code != http.StatusUnauthorized {
		t.Errorf("a delivery signed with the wrong secret answered %d %s", code, answer)
	}

	// forgectl deploy goes through the bound manual trigger and records who asked.
	out := s.forgectl(t, "deploy", "workload/site", "--reason", "check the manual path")
	mustContain(t, "forgectl deploy", out, "event.tinyforge.dev/", "manual trigger by-hand")
	evName := strings.TrimSuffix(strings.Fields(out)[0], "")
	evName = strings.TrimPrefix(evName, "event.tinyforge.dev/")
	var ev tinyforgev1alpha1.Event
	waitObj(t, c, &ev, evName, time.Minute, "the manual event dispatched", func() bool { return ev.Status.Phase == tinyforgev1alpha1.EventPhaseDispatched })
	if ev.Spec.Manual == nil || ev.Spec.Manual.User == "" || ev.Spec.Manual.Reason != "check the manual path" {
		t.Errorf("manual event spec %+v, want the reason and the authenticated user", ev.Spec.Manual)
	}
	var ro tinyforgev1alpha1.Rollout
	waitObj(t, c, &ro, ev.Status.Outcomes[0].Rollout, time.Minute, "the manual rollout", func() bool {
		return ro.Status.Phase == tinyforgev1alpha1.RolloutPhaseSucceeded && ro.Spec.Reason == tinyforgev1alpha1.CauseManual
	})

	// A cron trigger fetches the branch again on schedule: a commit pushed
	// without a webhook is served at the next tick.
	c3 := repo.commit("hello v3")
	s.mustApply(t, `apiVersion: tinyforge.dev/v1alpha1
kind: Trigger
metadata: {name: every-2s, namespace: default}
spec:
  kind: cron
  config: {schedule: "@every 2s"}
---
`+binding("site-cron", "every-2s", "site", ""))
	s.waitServes(t, "site.default.localhost", "hello v3")
	waitObj(t, c, &w, "site", time.Minute, "revision of the commit the cron tick fetched", func() bool { return strings.HasPrefix(w.Status.CurrentRevision, c3[:12]) })
	var ros tinyforgev1alpha1.RolloutList
	if err := c.List(context.Background(), &ros, client.InNamespace("default"), client.MatchingLabels{"tinyforge.dev/workload": "site"}); err != nil {
		t.Fatal(err)
	}
	cron := 0
	for _, ro := range ros.Items {
		if ro.Spec.Reason == tinyforgev1alpha1.CauseCron {
			cron++
		}
	}
	if cron == 0 {
		t.Errorf("no Rollout with reason Cron among %d", len(ros.Items))
	}

	// Deleting the workload tears the site down: containers and built images.
	s.forgectl(t, "delete", "workload", "site", "--wait=true", "--timeout=90s")
	if n := len(running(t, cli, "default", "site")); n != 0 {
		t.Errorf("%d containers of the deleted site still run", n)
	}
	images, err := cli.ImageList(context.Background(), image.ListOptions{Filters: filters.NewArgs(
		filters.Arg("label", docker.LabelNamespace+"=default"), filters.Arg("label", docker.LabelWorkload+"=site"))})
	if err != nil {
		t.Fatal(err)
	}
	if len(images) != 0 {
		t.Errorf("%d built images of the deleted site remain", len(images))
	}
}
