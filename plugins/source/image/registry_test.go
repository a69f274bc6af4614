package image

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/registry"
	"golang.org/x/crypto/bcrypt"

	"github.com/tinyforge/tinyforge/internal/docker/dockertest"
	"github.com/tinyforge/tinyforge/plugins"
)

// Images from a real registry (Debian's docker-registry on loopback, with
// htpasswd auth): pulled with the credentials of registryAuthSecret, their
// revision is the registry digest, Always pulls a moved tag, and a digest
// pins a rollback.
func TestDeployFromRegistry(t *testing.T) {
	e := newEnv(t)
	const user, pass = "deployer", "s3cret"
	host := startRegistry(t, user, pass)
	repo := host + "/shop/web"
	auth, err := registry.EncodeAuthConfig(registry.AuthConfig{Username: user, Password: pass, ServerAddress: host})
	if err != nil {
		t.Fatal(err)
	}
	dockerConfig := mustJSON(t, map[string]any{"auths": map[string]any{
		"http://" + host + "/v2/": map[string]string{"auth": base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))},
	}})
	e.deps.Secrets = plugins.SecretReaderFunc(func(_ context.Context, ns, name, key string) ([]byte, error) {
		if ns == e.ns && name == "regcred" && key == dockerConfigJSONKey {
			return dockerConfig, nil
		}
		return nil, fmt.Errorf("%w: %s/%s key %s", plugins.ErrSecretNotFound, ns, name, key)
	})
	push := func(version string) (id string) {
		_, id = e.build(version, dockertest.WithVersion(version))
		if err := e.cli.ImageTag(e.ctx, id, repo+":latest"); err != nil {
			t.Fatal(err)
		}
		rc, err := e.cli.ImagePush(e.ctx, repo+":latest", image.PushOptions{RegistryAuth: auth})
		if err != nil {
			t.Fatalf("pushing %s: %v", version, err)
		}
		defer rc.Close()
		if err := readJSONMessages(rc); err != nil {
			t.Fatalf("pushing %s: %v", version, err)
		}
		// Untagged, so that a deploy must pull it.
		if _, err := e.cli.ImageRemove(e.ctx, repo+":latest", image.RemoveOptions{}); err != nil {
			t.Fatal(err)
		}
		return id
	}
	id1 := push("v1")
	w := e.workload("web", repo+":latest", withConfig(map[string]any{"registryAuthSecret": "regcred"}))

	noAuth := e.workload("web", repo+":latest")
	if _, err := e.src.Deploy(e.ctx, e.deps, noAuth, plugins.DeploymentIntent{}); err == nil || !strings.Contains(err.Error(), "pulling") {
		t.Errorf("Deploy(no credentials) = %v, want a failed pull", err)
	}
	missing := e.workload("web", repo+":latest", withConfig(map[string]any{"registryAuthSecret": "other"}))
	if _, err := e.src.Deploy(e.ctx, e.deps, missing, plugins.DeploymentIntent{}); !errors.Is(err, plugins.ErrSecretNotFound) {
		t.Errorf("Deploy(missing secret) = %v, want ErrSecretNotFound", err)
	}

	start := time.Now()
	res, err := e.src.Deploy(e.ctx, e.deps, w, plugins.DeploymentIntent{Rollout: "web-g1"})
	if err != nil {
		t.Fatalf("Deploy(v1): %v", err)
	}
	t.Logf("deploy with a pull took %v: %s", time.Since(start).Round(time.Millisecond), res.Message)
	d1 := res.Revision
	if !looksLikeDigest(d1) || d1 == id1 {
		t.Errorf("revision = %q, want the registry digest (not the image ID %s)", d1, id1)
	}
	if c := e.only("web"); c.Image != repo+"@"+d1 || c.ImageID != id1 {
		t.Errorf("container runs %s (%s), want %s@%s", c.Image, c.ImageID, repo, d1)
	}
	dockertest.WaitHTTP(t, "http://"+res.Endpoints[0]+"/", "version=v1", 5*time.Second)

	// The tag moves; Always follows it.
	push("v2")
	always := e.workload("web", repo+":latest", withConfig(map[string]any{"registryAuthSecret": "regcred", "pullPolicy": "Always"}))
	res, err = e.src.Deploy(e.ctx, e.deps, always, plugins.DeploymentIntent{Rollout: "web-g2"})
	if err != nil {
		t.Fatalf("Deploy(v2): %v", err)
	}
	d2 := res.Revision
	if !looksLikeDigest(d2) || d2 == d1 {
		t.Errorf("revision = %q, want a new digest", d2)
	}
	dockertest.WaitHTTP(t, "http://"+res.Endpoints[0]+"/", "version=v2", 5*time.Second)

	// A rollback names the digest: as a registry trigger's image, then as a
	// bare revision (which reuses what runs).
	res, err = e.src.Deploy(e.ctx, e.deps, always, plugins.DeploymentIntent{
		Revision: d1, Image: &plugins.ImageRef{Repository: repo, Digest: d1}, Rollout: "web-g3",
	})
	if err != nil || res.Revision != d1 {
		t.Fatalf("Deploy(rollback by image) = %+v, %v; want revision %s", res, err, d1)
	}
	dockertest.WaitHTTP(t, "http://"+res.Endpoints[0]+"/", "version=v1", 5*time.Second)
	res, err = e.src.Deploy(e.ctx, e.deps, always, plugins.DeploymentIntent{Revision: d1, Rollout: "web-g3"})
	if err != nil || res.Revision != d1 || res.Services[0].Action != plugins.ServiceUnchanged {
		t.Fatalf("Deploy(rollback by revision) = %+v, %v; want revision %s Unchanged", res, err, d1)
	}
}

// startRegistry runs docker-registry on a free loopback port with one
// htpasswd user, until the test ends, and returns its host:port.
func startRegistry(t *testing.T, user, pass string) string {
	t.Helper()
	bin, err := exec.LookPath("docker-registry")
	if err != nil {
		t.Fatalf("docker-registry is not installed (Debian package docker-registry): %v", err)
	}
	dir := t.TempDir()
	hash, err := bcrypt.GenerateFromPassword([]byte(pass), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "htpasswd"), []byte(user+":"+string(hash)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	host := ln.Addr().String()
	_ = ln.Close()
	config := fmt.Sprintf(`version: 0.1
log: {level: warn}
storage: {filesystem: {rootdirectory: %q}}
http: {addr: %q}
auth: {htpasswd: {realm: test, path: %q}}
`, filepath.Join(dir, "data"), host, filepath.Join(dir, "htpasswd"))
	cfgPath := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(cfgPath, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	cmd := exec.Command(bin, "serve", cfgPath)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := http.Get("http://" + host + "/v2/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusUnauthorized {
				return host
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("registry on %s did not start: %v\n%s", host, err, out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}
