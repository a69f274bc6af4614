package static

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"

	"github.com/tinyforge/tinyforge/internal/docker"
	"github.com/tinyforge/tinyforge/internal/docker/dockertest"
	"github.com/tinyforge/tinyforge/internal/git"
	"github.com/tinyforge/tinyforge/plugins"
	"github.com/tinyforge/tinyforge/plugins/internal/plugintest"
)

// A site in a subfolder of a repository is built and served through the
// proxy; a pushed commit (a git trigger's intent) and a re-roll of the
// branch (an intent without a revision) replace it blue-green under load
// with no failed request; the same revision again is a no-op; a rollback
// to a revision whose image is gone builds it again; teardown leaves
// nothing behind.
func TestDeploySite(t *testing.T) {
	e := newEnv(t)
	e.repo.write(map[string]string{"site/index.html": "v1\n", "site/about/index.html": "about v1\n", "README.md": "not served\n"})
	c1 := e.repo.commit("v1")
	cfg := e.config(nil)
	rev1 := e.revision(c1, cfg)
	key := e.key("web")

	start := time.Now()
	res, err := e.src.Deploy(e.ctx, e.deps, e.workload("web", cfg, ""), plugins.DeploymentIntent{Rollout: "web-g1", Reason: "config change"})
	if err != nil {
		t.Fatalf("Deploy(v1): %v", err)
	}
	t.Logf("first deploy took %v: %s", time.Since(start).Round(time.Millisecond), res.Message)
	if res.Revision != rev1 || len(res.Services) != 1 || res.Services[0].Action != plugins.ServiceCreated {
		t.Errorf("result = %+v, want revision %s Created", res, rev1)
	}
	c := e.only("web")
	if c.Labels[docker.LabelRevision] != rev1 || c.Labels[docker.LabelRollout] != "web-g1" {
		t.Errorf("container labels = %v", c.Labels)
	}
	img, ok := e.imageOf("web", rev1)
	if !ok || img.Config.Labels[LabelGitCommit] != c1 || img.Config.Labels[docker.LabelRevision] != rev1 || img.ID != c.ImageID {
		t.Fatalf("image of %s: %v %+v; container image %s", rev1, ok, img.Config, c.ImageID)
	}
	// The proxy reaches the container on the bridge network, people on its
	// published loopback port.
	b1 := e.routes.backend(key)
	if want := dockertest.NetworkAddr(t, e.cli, c.ID, "bridge", strconv.Itoa(sitePort)); b1.Revision != rev1 || b1.Address != want {
		t.Fatalf("route = %+v, want the container's network address %s", b1, want)
	}
	if want := dockertest.HostAddr(t, e.cli, c.ID, strconv.Itoa(sitePort)); len(res.Endpoints) != 1 || res.Endpoints[0] != want {
		t.Fatalf("endpoints = %v, want the published %s", res.Endpoints, want)
	}
	proxy := e.routes.serve(t, key)
	for path, want := range map[string]string{"/": "v1\n", "/about/": "about v1\n"} {
		if code, body := fetch(t, proxy+path); code != http.StatusOK || body != want {
			t.Errorf("GET %s = %d %q, want %q", path, code, body, want)
		}
	}
	if code, _ := fetch(t, proxy+"/README.md"); code != http.StatusNotFound {
		t.Errorf("GET /README.md = %d: files outside git.path are served", code)
	}

	// A push of v2, as a git trigger reports it, under load.
	e.repo.write(map[string]string{"site/index.html": "v2\n"})
	c2 := e.repo.commit("v2")
	rev2 := e.revision(c2, cfg)
	h := plugintest.StartHammer(proxy+"/", 4, nil)
	waitFor(t, "requests served by v1", func() bool { return h.Seen("v1") > 20 })
	start = time.Now()
	res, err = e.src.Deploy(e.ctx, e.deps, e.workload("web", cfg, rev1), plugins.DeploymentIntent{
		Revision: c2, Reason: "git push", Rollout: "web-g2",
		Git: &plugins.GitRef{URL: e.repo.url(), Ref: "refs/heads/main", Commit: c2},
	})
	if err != nil {
		h.Halt()
		t.Fatalf("Deploy(v2): %v", err)
	}
	waitFor(t, "requests served by v2", func() bool { return h.Seen("v2") > 20 })
	h.Halt()
	t.Logf("push deploy took %v: %s; hammer: %v", time.Since(start).Round(time.Millisecond), res.Message, h)
	if n := h.Failures(); n > 0 {
		t.Errorf("%d requests failed during the switch: %v", n, h.Errors())
	}
	if res.Revision != rev2 || res.Services[0].Action != plugins.ServiceReplaced {
		t.Errorf("result = %+v, want revision %s Replaced", res, rev2)
	}
	if _, ok := e.imageOf("web", rev1); ok {
		t.Errorf("the image of the replaced revision %s is left", rev1)
	}

	// v3 on the branch, deployed by a re-roll that fetches the branch again.
	e.repo.write(map[string]string{"site/index.html": "v3\n"})
	c3 := e.repo.commit("v3")
	rev3 := e.revision(c3, cfg)
	h = plugintest.StartHammer(proxy+"/", 4, nil)
	waitFor(t, "requests served by v2", func() bool { return h.Seen("v2") > 20 })
	reroll := plugins.DeploymentIntent{Reason: "manual redeploy", Rollout: "web-g3"}
	res, err = e.src.Deploy(e.ctx, e.deps, e.workload("web", cfg, rev2), reroll)
	if err != nil {
		h.Halt()
		t.Fatalf("re-roll: %v", err)
	}
	waitFor(t, "requests served by v3", func() bool { return h.Seen("v3") > 20 })
	h.Halt()
	t.Logf("re-roll: %s; hammer: %v", res.Message, h)
	if n := h.Failures(); n > 0 {
		t.Errorf("%d requests failed during the re-roll: %v", n, h.Errors())
	}
	if res.Revision != rev3 {
		t.Errorf("re-roll revision = %s, want %s", res.Revision, rev3)
	}
	c = e.only("web")

	// The same again: nothing is fetched beyond ls-remote, built or started.
	start = time.Now()
	res, err = e.src.Deploy(e.ctx, e.deps, e.workload("web", cfg, rev3), reroll)
	if err != nil {
		t.Fatalf("repeated re-roll: %v", err)
	}
	t.Logf("repeated re-roll took %v: %s", time.Since(start).Round(time.Millisecond), res.Message)
	if res.Revision != rev3 || res.Services[0].Action != plugins.ServiceUnchanged || strings.Contains(res.Message, "built") {
		t.Errorf("repeated re-roll = %+v, want revision %s Unchanged and nothing built", res, rev3)
	}
	if again := e.only("web"); again.ID != c.ID {
		t.Errorf("container %s replaced by %s", c.ID, again.ID)
	}

	// A rollback to v1, whose image went with its containers.
	res, err = e.src.Deploy(e.ctx, e.deps, e.workload("web", cfg, rev3), plugins.DeploymentIntent{Revision: rev1, Reason: "rollback", Rollout: "web-g4"})
	if err != nil {
		t.Fatalf("rollback: %v", err)
	}
	t.Logf("rollback: %s", res.Message)
	if res.Revision != rev1 {
		t.Errorf("rollback revision = %s, want %s", res.Revision, rev1)
	}
	if code, body := fetch(t, proxy+"/"); code != http.StatusOK || body != "v1\n" {
		t.Errorf("after the rollback GET / = %d %q", code, body)
	}
	if got := len(e.siteImages(e.ctx)); got != 1 {
		t.Errorf("%d site images, want the current one only", got)
	}

	if err := e.src.Teardown(e.ctx, e.deps, e.workload("web", cfg, rev1)); err != nil {
		t.Fatalf("Teardown: %v", err)
	}
	if n := len(e.containers("web")); n != 0 {
		t.Errorf("%d containers left", n)
	}
	if imgs := e.siteImages(e.ctx); len(imgs) != 0 {
		t.Errorf("images left: %+v", imgs)
	}
	if e.routes.has(key) {
		t.Error("route left")
	}
	if err := e.src.Teardown(e.ctx, e.deps, e.workload("web", []byte(`{"broken`), rev1)); err != nil {
		t.Errorf("second Teardown: %v", err)
	}
}

// A build step turns the folder into the site; a commit or config whose
// build fails fails the deploy with the build's last lines, and the
// previous site keeps serving.
func TestDeployBuildStep(t *testing.T) {
	e := newEnv(t)
	e.repo.write(map[string]string{"site/src/index.html": "built v1\n", "site/package.json": "{}\n"})
	c1 := e.repo.commit("v1")
	build := map[string]any{"image": e.builder, "command": []string{"/testapp", "-build-copy", "src:dist"}}
	cfg := e.config(map[string]any{"build": build})
	rev1 := e.revision(c1, cfg)
	key := e.key("docs")

	res, err := e.src.Deploy(e.ctx, e.deps, e.workload("docs", cfg, ""), plugins.DeploymentIntent{Rollout: "docs-g1", Reason: "config change"})
	if err != nil {
		t.Fatalf("Deploy: %v", err)
	}
	t.Logf("deploy with a build step: %s", res.Message)
	proxy := e.routes.serve(t, key)
	for path, want := range map[string]string{"/": "built v1\n", "/built.txt": "built from src\n"} {
		if code, body := fetch(t, proxy+path); code != http.StatusOK || body != want {
			t.Errorf("GET %s = %d %q, want %q", path, code, body, want)
		}
	}
	if code, _ := fetch(t, proxy+"/package.json"); code != http.StatusNotFound {
		t.Errorf("GET /package.json = %d: the sources are served, not the output", code)
	}
	serving := e.only("docs")
	backend := e.routes.backend(key)

	tests := []struct {
		name    string
		change  func()
		cfg     []byte
		wantMsg []string
	}{
		{
			name: "the build command fails",
			cfg: e.config(map[string]any{"build": map[string]any{
				"image": e.builder, "command": []string{"/testapp", "-build-fail", "npm ERR! missing script: build"},
			}}),
			wantMsg: []string{"returned a non-zero code: 3", "npm ERR! missing script: build"},
		},
		{
			name:    "the output folder is missing",
			cfg:     e.config(map[string]any{"build": map[string]any{"image": e.builder, "command": build["command"], "outputDir": "public"}}),
			wantMsg: []string{"/src/public"},
		},
		{
			name:    "a commit breaks the build",
			change:  func() { e.repo.remove("site/src"); e.repo.write(map[string]string{"site/source/index.html": "v2\n"}) },
			cfg:     cfg,
			wantMsg: []string{"returned a non-zero code: 1", "copying src to dist"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.change != nil {
				tt.change()
				e.repo.commit(tt.name)
			}
			h := plugintest.StartHammer(proxy+"/", 2, nil)
			waitFor(t, "requests served", func() bool { return h.Seen("built v1") > 5 })
			res, err := e.src.Deploy(e.ctx, e.deps, e.workload("docs", tt.cfg, rev1), plugins.DeploymentIntent{Rollout: "docs-bad", Reason: "manual"})
			h.Halt()
			if !errors.Is(err, ErrBuildFailed) {
				t.Fatalf("Deploy = %v, want ErrBuildFailed", err)
			}
			t.Logf("failed deploy: %v", err)
			for _, w := range append(tt.wantMsg, "keeps serving") {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not contain %q", w)
				}
			}
			if res.Revision == rev1 || res.Revision == "" {
				t.Errorf("failed revision = %q", res.Revision)
			}
			if n := h.Failures(); n > 0 || h.Seen("built v1") == 0 {
				t.Errorf("while the build failed: %d failures %v, bodies %v", n, h.Errors(), h.Keys())
			}
			if c := e.only("docs"); c.ID != serving.ID {
				t.Errorf("container %s replaced by %s", serving.ID, c.ID)
			}
			if b := e.routes.backend(key); b != backend {
				t.Errorf("route = %+v, want %+v", b, backend)
			}
			if _, ok := e.imageOf("docs", res.Revision); ok {
				t.Errorf("an image of the failed revision %s exists", res.Revision)
			}
		})
	}
}

// A path leaving the checkout is refused by Validate, and by Deploy when a
// symlink of the repository leads out; nothing is built or started.
func TestDeployRefusesEscapes(t *testing.T) {
	e := newEnv(t)
	e.repo.write(map[string]string{"site/index.html": "ok\n", "public/index.html": "public\n"})
	e.repo.symlink("etc", "/etc")
	e.repo.symlink("up", "../../../..")
	e.repo.symlink("public/passwd", "/etc/passwd")
	e.repo.symlink("public/up", "../..")
	e.repo.commit("escapes")
	tests := []struct {
		name    string
		path    string
		wantIs  error
		wantMsg string
	}{
		{name: "absolute path", path: "/etc", wantMsg: "must be relative"},
		{name: "dot-dot", path: "../..", wantMsg: "must not contain '..'"},
		{name: "folder symlinked outside, absolute", path: "etc", wantIs: git.ErrUnsafePath, wantMsg: "outside the checkout"},
		{name: "folder symlinked outside, relative", path: "up", wantIs: git.ErrUnsafePath, wantMsg: "leads out of the checkout"},
		{name: "file symlinked outside", path: "public", wantIs: git.ErrUnsafePath, wantMsg: "passwd"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := e.config(map[string]any{"git": map[string]any{"url": e.repo.url(), "path": tt.path}})
			verrs := e.src.Validate(testPath, cfg)
			if tt.wantIs == nil && len(verrs) == 0 {
				t.Errorf("Validate accepts path %q", tt.path)
			}
			_, err := e.src.Deploy(e.ctx, e.deps, e.workload("esc", cfg, ""), plugins.DeploymentIntent{Reason: "config change"})
			if err == nil {
				t.Fatalf("Deploy of path %q succeeded", tt.path)
			}
			t.Logf("refused: %v", err)
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("error does not wrap %v", tt.wantIs)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("error does not contain %q", tt.wantMsg)
			}
			if n := len(e.containers("esc")); n != 0 {
				t.Errorf("%d containers started", n)
			}
			if imgs := e.siteImages(e.ctx); len(imgs) != 0 {
				t.Errorf("images built: %+v", imgs)
			}
		})
	}
}

// A container removed by hand is recreated from the revision's image; with
// the image gone too, the image is built again from the commit.
func TestReconcile(t *testing.T) {
	e := newEnv(t)
	e.repo.write(map[string]string{"site/index.html": "v1\n"})
	c1 := e.repo.commit("v1")
	cfg := e.config(nil)
	rev := e.revision(c1, cfg)
	key := e.key("blog")
	if _, err := e.src.Deploy(e.ctx, e.deps, e.workload("blog", cfg, ""), plugins.DeploymentIntent{Rollout: "blog-g1", Reason: "config change"}); err != nil {
		t.Fatalf("Deploy: %v", err)
	}
	w := e.workload("blog", cfg, rev)
	// Later commits do not matter: Reconcile keeps the current revision.
	e.repo.write(map[string]string{"site/index.html": "v2\n"})
	e.repo.commit("v2")

	res, err := e.src.Reconcile(e.ctx, e.deps, w)
	if err != nil || !res.Healthy || len(res.Recreated) != 0 {
		t.Fatalf("Reconcile of a healthy workload = %+v, %v", res, err)
	}
	tests := []struct {
		name        string
		removeImage bool
	}{
		{name: "container removed"},
		{name: "container and image removed", removeImage: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			old := e.only("blog")
			if err := e.cli.ContainerRemove(e.ctx, old.ID, container.RemoveOptions{Force: true}); err != nil {
				t.Fatal(err)
			}
			if tt.removeImage {
				e.removeSiteImages()
			}
			res, err := e.src.Reconcile(e.ctx, e.deps, w)
			if err != nil {
				t.Fatalf("Reconcile: %v", err)
			}
			t.Logf("reconcile: %+v", res)
			if !res.Healthy || len(res.Recreated) != 1 {
				t.Errorf("Reconcile = %+v, want healthy with one container recreated", res)
			}
			c := e.only("blog")
			if c.Labels[docker.LabelRevision] != rev {
				t.Errorf("recreated container's revision = %s, want %s", c.Labels[docker.LabelRevision], rev)
			}
			b := e.routes.backend(key)
			if want := dockertest.NetworkAddr(t, e.cli, c.ID, "bridge", strconv.Itoa(sitePort)); b.Revision != rev || b.Address != want ||
				len(res.Endpoints) != 1 || res.Endpoints[0] != dockertest.HostAddr(t, e.cli, c.ID, strconv.Itoa(sitePort)) {
				t.Errorf("route = %+v, endpoints %v; want the route on %s", b, res.Endpoints, want)
			}
			dockertest.WaitHTTP(t, "http://"+b.Address+"/", "v1", 10*time.Second)
		})
	}
}
