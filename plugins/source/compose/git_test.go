package compose

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"

	"github.com/tinyforge/tinyforge/internal/docker/dockertest"
	"github.com/tinyforge/tinyforge/plugins"
)

// A compose file from a git repository: read with its .env file (for
// interpolation) and a service's env_file at the configured ref, then at
// the commit a git trigger names, rolled back by revision, and read again
// at the deployed commit by Reconcile once every container is gone, after
// the branch moved on. Paths out of the checkout are refused.
func TestDeployFromGit(t *testing.T) {
	e := newEnv(t)
	appRef, appID := e.app("app", dockertest.WithVersion("app"))
	repo := newGitRepo(t)
	repo.write("deploy/compose.yaml", "services:\n  web:\n    image: ${APP_IMAGE}\n    env_file: web.env\n")
	repo.write("deploy/.env", "APP_IMAGE="+appRef+"\n")
	repo.write("deploy/web.env", "GREETING=one\n")
	c1 := repo.commit("first")
	key := plugins.RouteKey{Host: "git.test", PathPrefix: "/"}
	w := e.workload("git", "", withRoute("git.test", "web", 8080))
	w.Config = mustJSON(t, map[string]any{"git": map[string]any{"url": repo.url(), "ref": "main", "path": "deploy"}, "envFiles": []string{".env"}})
	if errs := e.src.Validate(testPath, w.Config); len(errs) > 0 {
		t.Fatalf("Validate: %v", errs)
	}

	res, err := e.src.Deploy(e.ctx, e.deps, w, plugins.DeploymentIntent{Rollout: "git-g1"})
	if err != nil {
		t.Fatalf("Deploy(main): %v", err)
	}
	t.Log(res.Message)
	rev1 := res.Revision
	if !strings.HasPrefix(rev1, c1[:12]+"-") {
		t.Errorf("revision = %q, want %s-<hash>", rev1, c1[:12])
	}
	web := e.services("git")["web"]
	if web.Labels[LabelGitCommit] != c1 || web.Labels[LabelImage] != appID ||
		web.Labels[LabelConfigFiles] != virtualRoot+"/"+e.ns+"/git/deploy/compose.yaml" {
		t.Errorf("labels = %v", web.Labels)
	}
	dockertest.WaitHTTP(t, "http://"+e.routes.backend(key).Address+"/env?key=GREETING", "one", 5*time.Second)

	// A push: the trigger's commit is read.
	repo.write("deploy/web.env", "GREETING=two\n")
	c2 := repo.commit("second")
	w.CurrentRevision = rev1
	res, err = e.src.Deploy(e.ctx, e.deps, w, plugins.DeploymentIntent{Rollout: "git-g2", Git: &plugins.GitRef{URL: repo.url(), Ref: "refs/heads/main", Commit: c2}})
	if err != nil {
		t.Fatalf("Deploy(c2): %v", err)
	}
	if actions(res)["web"] != plugins.ServiceReplaced || !strings.HasPrefix(res.Revision, c2[:12]+"-") {
		t.Errorf("Deploy(c2) = %v %s", actions(res), res.Revision)
	}
	dockertest.WaitHTTP(t, "http://"+e.routes.backend(key).Address+"/env?key=GREETING", "two", 5*time.Second)

	// A rollback to the first revision reads the first commit again.
	w.CurrentRevision = res.Revision
	res, err = e.src.Deploy(e.ctx, e.deps, w, plugins.DeploymentIntent{Rollout: "git-undo", Revision: rev1, Reason: "rollback"})
	if err != nil || res.Revision != rev1 {
		t.Fatalf("Deploy(rollback) = %s, %v; want %s", res.Revision, err, rev1)
	}
	dockertest.WaitHTTP(t, "http://"+e.routes.backend(key).Address+"/env?key=GREETING", "one", 5*time.Second)

	// Nothing wrong: Reconcile needs no fetch (the repository is away).
	w.CurrentRevision = rev1
	if err := os.Rename(repo.bare, repo.bare+".away"); err != nil {
		t.Fatal(err)
	}
	rec, err := e.src.Reconcile(e.ctx, e.deps, w)
	if err != nil || !rec.Healthy || len(rec.Recreated) != 0 || len(rec.Endpoints) != 1 {
		t.Errorf("Reconcile(intact, repository away) = %+v, %v", rec, err)
	}
	if err := os.Rename(repo.bare+".away", repo.bare); err != nil {
		t.Fatal(err)
	}

	// Every container gone: Reconcile reads the deployed commit (by its
	// prefix), not main, which moved on.
	for _, c := range e.containers("git") {
		if err := e.cli.ContainerRemove(e.ctx, c.ID, container.RemoveOptions{Force: true}); err != nil {
			t.Fatal(err)
		}
	}
	rec, err = e.src.Reconcile(e.ctx, e.deps, w)
	if err != nil || !rec.Healthy || strings.Join(rec.Recreated, ",") != "web" {
		t.Fatalf("Reconcile = %+v, %v; want web recreated", rec, err)
	}
	dockertest.WaitHTTP(t, "http://"+e.routes.backend(key).Address+"/env?key=GREETING", "one", 5*time.Second)

	// env_file and git.path may not leave the checkout.
	outside := filepath.Join(t.TempDir(), "secret.env")
	if err := os.WriteFile(outside, []byte("SECRET=x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(repo.work, "deploy", "link.env")); err != nil {
		t.Fatal(err)
	}
	repo.write("deploy/compose.yaml", "services:\n  web:\n    image: ${APP_IMAGE}\n    env_file: [../../etc/passwd]\n")
	repo.commit("escape")
	_, err = e.src.Deploy(e.ctx, e.deps, w, plugins.DeploymentIntent{})
	if err == nil || !strings.Contains(err.Error(), "escapes the checkout") {
		t.Errorf("Deploy(env_file ../../etc/passwd) = %v, want it refused", err)
	}
	repo.write("deploy/compose.yaml", "services:\n  web:\n    image: ${APP_IMAGE}\n    env_file: [link.env]\n")
	repo.commit("symlink")
	_, err = e.src.Deploy(e.ctx, e.deps, w, plugins.DeploymentIntent{})
	if err == nil || !strings.Contains(err.Error(), "escapes the checkout") {
		t.Errorf("Deploy(env_file symlinked out) = %v, want it refused", err)
	}
}

// gitRepo is a repository made with the git CLI: a work tree where the test
// commits, pushed to a bare repository that deploys fetch over file://.
type gitRepo struct {
	t    *testing.T
	work string
	bare string
}

func newGitRepo(t *testing.T) *gitRepo {
	t.Helper()
	dir := t.TempDir()
	r := &gitRepo{t: t, work: filepath.Join(dir, "work"), bare: filepath.Join(dir, "stack.git")}
	r.git("", "init", "--quiet", "--initial-branch=main", r.work)
	r.git("", "init", "--quiet", "--bare", "--initial-branch=main", r.bare)
	return r
}

func (r *gitRepo) url() string { return "file://" + r.bare }

func (r *gitRepo) write(name, content string) {
	r.t.Helper()
	p := filepath.Join(r.work, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		r.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		r.t.Fatal(err)
	}
}

// commit commits everything, pushes main, and returns the commit ID.
func (r *gitRepo) commit(msg string) string {
	r.t.Helper()
	r.git(r.work, "add", "--all")
	r.git(r.work, "-c", "user.name=Test", "-c", "user.email=test@example.com", "commit", "--quiet", "-m", msg)
	r.git(r.work, "push", "--quiet", r.bare, "main")
	return r.git(r.work, "rev-parse", "HEAD")
}

func (r *gitRepo) git(dir string, args ...string) string {
	r.t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "HOME="+r.t.TempDir())
	out, err := cmd.CombinedOutput()
	if err != nil {
		r.t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}
