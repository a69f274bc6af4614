package webhook

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/registry"
	"github.com/docker/docker/pkg/jsonmessage"

	"github.com/tinyforge/tinyforge/api/v1alpha1"
	"github.com/tinyforge/tinyforge/internal/docker/dockertest"
	"github.com/tinyforge/tinyforge/plugins"
)

// delivery is one request a registry sent to the test's webhook endpoint.
type delivery struct {
	header http.Header
	body   []byte
}

// TestDistributionNotificationsLive pushes an image with the real Docker
// daemon to a real registry (Debian's docker-registry) whose notification
// endpoint sends a bearer token to an httptest server, and feeds every
// delivery through Detect, Verify and Parse: the envelopes of blob pushes are
// ignored, and the one tagged manifest push names the repository, tag and the
// digest Docker reported.
func TestDistributionNotificationsLive(t *testing.T) {
	const secret = "registry-notification-token"
	deliveries := make(chan delivery, 256)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		select {
		case deliveries <- delivery{header: r.Header.Clone(), body: body}:
		default: // The test has stopped listening.
		}
	}))
	t.Cleanup(hook.Close)
	host := startNotifyingRegistry(t, hook.URL+"/hooks/registry", "Bearer "+secret)

	cli := dockertest.Client(t)
	ctx := t.Context()
	id := dockertest.BuildTestApp(t, cli, fmt.Sprintf("tinyforge-webhook-live:%d", time.Now().UnixNano()))
	repo := host + "/team/web"
	if err := cli.ImageTag(ctx, id, repo+":v1"); err != nil {
		t.Fatal(err)
	}
	auth, err := registry.EncodeAuthConfig(registry.AuthConfig{})
	if err != nil {
		t.Fatal(err)
	}
	rc, err := cli.ImagePush(ctx, repo+":v1", image.PushOptions{RegistryAuth: auth})
	if err != nil {
		t.Fatalf("pushing %s:v1: %v", repo, err)
	}
	var pushed struct{ Digest string }
	err = jsonmessage.DisplayJSONMessagesStream(rc, io.Discard, 0, false, func(m jsonmessage.JSONMessage) {
		if m.Aux != nil {
			_ = json.Unmarshal(*m.Aux, &pushed)
		}
	})
	rc.Close()
	if err != nil || !plugins.IsDigest(pushed.Digest) {
		t.Fatalf("pushing %s:v1: %v (digest %q)", repo, err, pushed.Digest)
	}

	var (
		events  []plugins.InboundEvent
		ignored []string
	)
	deadline := time.After(30 * time.Second)
	for len(events) == 0 {
		var d delivery
		select {
		case d = <-deliveries:
		case <-deadline:
			t.Fatalf("no image-push event within 30 s; ignored deliveries: %q", ignored)
		}
		p, err := Detect(d.header, d.body)
		if err != nil || p != v1alpha1.ProviderDistribution {
			t.Fatalf("Detect(Content-Type %q) = %q, %v; want distribution", d.header.Get("Content-Type"), p, err)
		}
		if res, err := Verify(p, d.header, d.body, []byte(secret)); err != nil || res != v1alpha1.VerificationVerified {
			t.Fatalf("Verify(the registry's token) = %s, %v; want Verified", res, err)
		}
		if res, err := Verify(p, d.header, d.body, []byte("another trigger's token")); !errors.Is(err, ErrBadSignature) {
			t.Fatalf("Verify(another token) = %s, %v; want ErrBadSignature", res, err)
		}
		res, err := Parse(p, d.header, d.body)
		if err != nil {
			t.Fatalf("Parse(a real registry envelope): %v\n%s", err, d.body)
		}
		if res.Ignored != "" {
			ignored = append(ignored, res.Ignored)
		}
		events = append(events, res.Events...)
	}
	t.Logf("ignored deliveries before the manifest push: %q", ignored)
	want := plugins.ImageRef{Repository: repo, Tag: "v1", Digest: pushed.Digest}
	if len(events) != 1 || events[0].Image == nil || *events[0].Image != want || events[0].Type != plugins.EventTypeImagePush {
		t.Fatalf("events = %+v, want one image-push of %+v", events, want)
	}
	if events[0].DeliveryID == "" || events[0].Provider != "distribution" {
		t.Errorf("event %+v: want a delivery ID and provider distribution", events[0])
	}
}

// startNotifyingRegistry runs docker-registry on a free loopback port,
// without auth, notifying endpoint with the given Authorization header,
// until the test ends, and returns its host:port.
func startNotifyingRegistry(t *testing.T, endpoint, authorization string) string {
	t.Helper()
	bin, err := exec.LookPath("docker-registry")
	if err != nil {
		t.Fatalf("docker-registry is not installed (Debian package docker-registry): %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	host := ln.Addr().String()
	_ = ln.Close()
	dir := t.TempDir()
	config := fmt.Sprintf(`version: 0.1
log: {level: warn}
storage: {filesystem: {rootdirectory: %q}}
http: {addr: %q}
notifications:
  endpoints:
    - name: tinyforge
      url: %q
      headers: {Authorization: [%q]}
      timeout: 2s
      threshold: 3
      backoff: 200ms
`, filepath.Join(dir, "data"), host, endpoint, authorization)
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
			if resp.StatusCode == http.StatusOK {
				return host
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("registry on %s did not start: %v\n%s", host, err, strings.TrimSpace(out.String()))
		}
		time.Sleep(50 * time.Millisecond)
	}
}
