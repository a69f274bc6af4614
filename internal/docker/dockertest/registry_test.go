package dockertest_test

import (
	"crypto/subtle"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tinyforge/tinyforge/internal/docker/dockertest"
)

// envelope is the part of a distribution notification the test checks.
type envelope struct {
	Events []struct {
		Action string `json:"action"`
		Target struct {
			MediaType  string `json:"mediaType"`
			Digest     string `json:"digest"`
			Repository string `json:"repository"`
			Tag        string `json:"tag"`
		} `json:"target"`
		Request struct {
			Host string `json:"host"`
		} `json:"request"`
	} `json:"events"`
}

// A registry with basic auth and a notification endpoint: anonymous
// requests are refused, Push returns the digest the registry serves for the
// tag, the registry POSTs a real manifest push envelope with the configured
// Authorization header, and Stop makes it unreachable.
func TestStartRegistry(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the Docker daemon")
	}
	const token = "n0t1fy-t0ken"
	var (
		mu  sync.Mutex
		bad []string
	)
	// host/repository:tag@digest of each manifest push received.
	pushes := make(chan string, 100)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got := []byte(r.Header.Get("Authorization"))
		if subtle.ConstantTimeCompare(got, []byte("Bearer "+token)) != 1 {
			mu.Lock()
			bad = append(bad, "a delivery without the bearer token")
			mu.Unlock()
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		var env envelope
		body, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(body, &env); err != nil ||
			r.Header.Get("Content-Type") != "application/vnd.docker.distribution.events.v1+json" {
			mu.Lock()
			bad = append(bad, "a delivery that is no envelope: "+r.Header.Get("Content-Type")+" "+string(body))
			mu.Unlock()
		}
		for _, e := range env.Events {
			if e.Action == "push" && e.Target.Tag != "" {
				select {
				case pushes <- e.Request.Host + "/" + e.Target.Repository + ":" + e.Target.Tag + "@" + e.Target.Digest:
				default:
				}
			}
		}
	}))
	t.Cleanup(hook.Close)

	reg := dockertest.StartRegistry(t,
		dockertest.WithBasicAuth("pusher", "pa55"),
		dockertest.WithNotifications(hook.URL+"/hooks/x", http.Header{"Authorization": {"Bearer " + token}}))
	if !strings.HasPrefix(reg.Addr, "127.0.0.1:") {
		t.Errorf("Addr = %q, want 127.0.0.1:port", reg.Addr)
	}

	resp, err := http.Get("http://" + reg.Addr + "/v2/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("anonymous GET /v2/ = %s, want 401", resp.Status)
	}

	cli := dockertest.Client(t)
	id := dockertest.BuildTestApp(t, cli, "tinyforge-dockertest-registry:"+testNamespace(t), dockertest.WithVersion("r1"))
	digest := reg.Push(t, cli, id, "team/app:v1")
	if !strings.HasPrefix(digest, "sha256:") || len(digest) != len("sha256:")+64 {
		t.Fatalf("Push returned %q, want a sha256 digest", digest)
	}
	if again := reg.Push(t, cli, id, "team/app:v1-again"); again != digest {
		t.Errorf("pushing the same image under another tag gave %s, want %s", again, digest)
	}

	// The registry serves the digest for the tag, to its account only.
	req, err := http.NewRequest(http.MethodHead, "http://"+reg.Addr+"/v2/team/app/manifests/v1", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "application/vnd.docker.distribution.manifest.v2+json")
	req.SetBasicAuth(reg.User, reg.Password)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.Header.Get("Docker-Content-Digest"); resp.StatusCode != http.StatusOK || got != digest {
		t.Errorf("HEAD manifest v1 = %s digest %q, want 200 %s", resp.Status, got, digest)
	}

	want := reg.Addr + "/team/app:v1@" + digest
	timeout := time.After(10 * time.Second)
	var got []string
	for found := false; !found; {
		select {
		case p := <-pushes:
			got = append(got, p)
			found = p == want
		case <-timeout:
			t.Fatalf("no manifest push notification %s within 10s; got %v", want, got)
		}
	}
	mu.Lock()
	if len(bad) > 0 {
		t.Errorf("bad deliveries: %v", bad)
	}
	mu.Unlock()

	reg.Stop()
	if resp, err := http.Get("http://" + reg.Addr + "/v2/"); err == nil {
		resp.Body.Close()
		t.Errorf("GET /v2/ after Stop = %s, want a refused connection", resp.Status)
	}
}

// A test that pushes a locally built image to a registry of its own, with
// basic auth and notifications to a webhook, as an end-to-end test of the
// ingress would.
func ExampleStartRegistry() {
	var t *testing.T // the test's own t
	var ingressURL, token string

	reg := dockertest.StartRegistry(t,
		dockertest.WithBasicAuth("ci", "secret"),
		dockertest.WithNotifications(ingressURL, http.Header{"Authorization": {"Bearer " + token}}))
	cli := dockertest.Client(t)
	id := dockertest.BuildTestApp(t, cli, "tinyforge-mytest:v1", dockertest.WithVersion("v1"))
	digest := reg.Push(t, cli, id, "team/web:1.0.0")

	// The registry now serves reg.Ref("team/web:1.0.0") at digest, and has
	// POSTed a manifest push envelope to ingressURL; a Secret holding
	// reg.DockerConfigJSON() lets TinyForge pull it.
	_ = digest
}
