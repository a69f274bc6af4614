package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"

	"github.com/tinyforge/tinyforge/internal/docker"
	"github.com/tinyforge/tinyforge/internal/docker/dockertest"
)

// deadRunID is a run ID whose pid no process has.
func deadRunID(t *testing.T) string {
	t.Helper()
	for pid := 4194000; pid > 1000; pid-- {
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); os.IsNotExist(err) {
			return fmt.Sprintf("%s%d-%s", runPrefix, pid, randomHex(4))
		}
	}
	t.Fatal("no free pid found")
	return ""
}

// notifications records the registry's deliveries.
type notifications struct {
	mu     sync.Mutex
	bodies []string
	auths  []string
}

func (n *notifications) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	n.mu.Lock()
	n.bodies = append(n.bodies, string(body))
	n.auths = append(n.auths, r.Header.Get("Authorization"))
	n.mu.Unlock()
	w.WriteHeader(http.StatusAccepted)
}

// manifestPush returns the Authorization header of a delivery naming a
// push of tag, if one came.
func (n *notifications) manifestPush(tag string) (string, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for i, b := range n.bodies {
		var env struct {
			Events []struct {
				Action string `json:"action"`
				Target struct {
					Tag string `json:"tag"`
				} `json:"target"`
			} `json:"events"`
		}
		if json.Unmarshal([]byte(b), &env) != nil {
			continue
		}
		for _, ev := range env.Events {
			if ev.Action == "push" && ev.Target.Tag == tag {
				return n.auths[i], true
			}
		}
	}
	return "", false
}

// TestImagesRegistryAndCleanup builds the test app image as benchflow
// does, pushes it to a real docker-registry whose notification reaches an
// HTTP server with the bearer token, then checks that the leftovers of a
// dead run are removed while a live run's stay, and that removeRun removes
// the live run's containers and images.
func TestImagesRegistryAndCleanup(t *testing.T) {
	if testing.Short() {
		t.Skip("needs Docker, go and docker-registry")
	}
	regBin, err := exec.LookPath("docker-registry")
	if err != nil {
		t.Fatalf("docker-registry is not installed (run hack/test-env.sh): %v", err)
	}
	cli := dockertest.Client(t)
	ctx := t.Context()
	live, dead := newRunID(), deadRunID(t)
	var imageIDs []string
	// Registered first, so it runs last: after the containers are gone.
	t.Cleanup(func() {
		for _, id := range imageIDs {
			if err := removeImage(context.Background(), cli, id); err != nil {
				t.Error(err)
			}
		}
	})
	dockertest.CleanupContainers(t, cli, docker.LabelNamespace+"="+live)
	dockertest.CleanupContainers(t, cli, docker.LabelNamespace+"="+dead)

	bin, err := dockertest.CompileTestApp()
	if err != nil {
		t.Fatal(err)
	}
	liveImage, err := buildTestApp(ctx, cli, bin, "tinyforge-bench/"+live+":v1", "v1", live)
	if err != nil {
		t.Fatal(err)
	}
	imageIDs = append(imageIDs, liveImage)
	deadImage, err := buildTestApp(ctx, cli, bin, "tinyforge-bench/"+dead+":v1", "v1", dead)
	if err != nil {
		t.Fatal(err)
	}
	imageIDs = append(imageIDs, deadImage)

	t.Run("push notifies with the bearer token", func(t *testing.T) {
		n := &notifications{}
		hook := httptest.NewServer(n)
		defer hook.Close()
		const token = "registry-token-for-the-test"
		reg, err := startRegistry(ctx, regBin, t.TempDir(), hook.URL+"/hooks/x", token)
		if err != nil {
			t.Fatal(err)
		}
		defer reg.stop()
		digest, err := reg.push(ctx, cli, liveImage, "bench/app:v7")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(digest, "sha256:") {
			t.Errorf("digest %q", digest)
		}
		deadline := time.Now().Add(30 * time.Second)
		for {
			if auth, ok := n.manifestPush("v7"); ok {
				if auth != "Bearer "+token {
					t.Errorf("notification without the bearer token (Authorization has %d bytes)", len(auth))
				}
				break
			}
			if time.Now().After(deadline) {
				n.mu.Lock()
				bodies := slices.Clone(n.bodies)
				n.mu.Unlock()
				t.Fatalf("no notification of the push of v7 within 30s; %d deliveries: %.2000q", len(bodies), bodies)
			}
			time.Sleep(20 * time.Millisecond)
		}
		// The same image under another tag has the same digest.
		again, err := reg.push(ctx, cli, liveImage, "bench/app:v8")
		if err != nil || again != digest {
			t.Errorf("second push: %q, %v; want %q", again, err, digest)
		}
	})

	t.Run("leftovers of dead runs only", func(t *testing.T) {
		create := func(run, img string) string {
			resp, err := cli.ContainerCreate(ctx, &container.Config{Image: img, Labels: map[string]string{docker.LabelNamespace: run, labelRun: run}}, nil, nil, nil, "")
			if err != nil {
				t.Fatal(err)
			}
			return resp.ID
		}
		liveCtr, deadCtr := create(live, liveImage), create(dead, liveImage)
		deadDir := filepath.Join(os.TempDir(), dead+".1234")
		if err := os.Mkdir(deadDir, 0o700); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(deadDir) })

		if _, _, _, err := removeLeftovers(ctx, cli); err != nil {
			t.Fatal(err)
		}
		exists := func(id string) bool {
			list, err := cli.ContainerList(ctx, container.ListOptions{All: true, Filters: filters.NewArgs(filters.Arg("id", id))})
			if err != nil {
				t.Fatal(err)
			}
			return len(list) == 1
		}
		if exists(deadCtr) {
			t.Error("the dead run's container is still there")
		}
		if !exists(liveCtr) {
			t.Error("the live run's container was removed")
		}
		if _, err := os.Stat(deadDir); !os.IsNotExist(err) {
			t.Errorf("the dead run's temporary directory is still there: %v", err)
		}
		imgs, err := cli.ImageList(ctx, image.ListOptions{Filters: filters.NewArgs(filters.Arg("label", labelRun+"="+dead))})
		if err != nil || len(imgs) != 0 {
			t.Errorf("the dead run's images: %d, %v; want none", len(imgs), err)
		}

		n, err := removeRun(ctx, cli, live, []string{liveImage})
		if err != nil || n != 1 {
			t.Errorf("removeRun removed %d containers, %v; want 1", n, err)
		}
		if exists(liveCtr) {
			t.Error("removeRun left the run's container")
		}
		imgs, err = cli.ImageList(ctx, image.ListOptions{Filters: filters.NewArgs(filters.Arg("label", labelRun+"="+live))})
		if err != nil || len(imgs) != 0 {
			t.Errorf("the run's images after removeRun: %d, %v; want none", len(imgs), err)
		}
	})
}
