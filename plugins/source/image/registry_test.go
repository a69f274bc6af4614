package image

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/image"

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
	reg := dockertest.StartRegistry(t, dockertest.WithBasicAuth(user, pass))
	host := reg.Addr
	repo := reg.Ref("shop/web")
	dockerConfig := mustJSON(t, map[string]any{"auths": map[string]any{
		"http://" + host + "/v2/": map[string]string{"auth": base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))},
	}})
	e.deps.Secrets = plugins.SecretReaderFunc(func(_ context.Context, ns, name, key string) ([]byte, error) {
		if ns == e.ns && name == "regcred" && key == dockerConfigJSONKey {
			return dockerConfig, nil
		}
		return nil, fmt.Errorf("%w: %s/%s key %s", plugins.ErrSecretNotFound, ns, name, key)
	})
	push := func(version string) (id, digest string) {
		_, id = e.build(version, dockertest.WithVersion(version))
		digest = reg.Push(t, e.cli, id, "shop/web:latest")
		// Untagged, so that a deploy must pull it.
		if _, err := e.cli.ImageRemove(e.ctx, repo+":latest", image.RemoveOptions{}); err != nil {
			t.Fatal(err)
		}
		return id, digest
	}
	id1, pushed1 := push("v1")
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
	if d1 != pushed1 {
		t.Errorf("revision = %q, want the registry digest %s (not the image ID %s)", d1, pushed1, id1)
	}
	if c := e.only("web"); c.Image != repo+"@"+d1 || c.ImageID != id1 {
		t.Errorf("container runs %s (%s), want %s@%s", c.Image, c.ImageID, repo, d1)
	}
	dockertest.WaitHTTP(t, "http://"+res.Endpoints[0]+"/", "version=v1", 5*time.Second)

	// The tag moves; Always follows it.
	_, pushed2 := push("v2")
	always := e.workload("web", repo+":latest", withConfig(map[string]any{"registryAuthSecret": "regcred", "pullPolicy": "Always"}))
	res, err = e.src.Deploy(e.ctx, e.deps, always, plugins.DeploymentIntent{Rollout: "web-g2"})
	if err != nil {
		t.Fatalf("Deploy(v2): %v", err)
	}
	d2 := res.Revision
	if d2 != pushed2 || d2 == d1 {
		t.Errorf("revision = %q, want the new digest %s", d2, pushed2)
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
