package docker

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/docker/docker/api"
	"github.com/docker/docker/api/types/build"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/versions"
	"github.com/docker/docker/client"
)

// TestDaemon talks to the real daemon: it builds a tiny image, creates (but
// does not start) a labelled container from it, and checks that the label
// filters find exactly that container.
func TestDaemon(t *testing.T) {
	if testing.Short() {
		t.Skip("needs a Docker daemon")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()

	cli, err := New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cli.Close() })

	ping, err := cli.Ping(ctx)
	if err != nil {
		t.Fatalf("ping: %v", err)
	}
	if ping.APIVersion == "" {
		t.Fatalf("ping answered no API version: %+v", ping)
	}

	// A namespace of its own keeps parallel runs and other tests apart.
	namespace := "test-" + randomHex(t, 6)
	const workload, revision, rollout = "web", "rev-1", "web-1"
	t.Cleanup(func() { removeByLabel(t, cli, WorkloadFilter(namespace, workload)) })

	img := buildScratchImage(ctx, t, cli, namespace, workload)
	created, err := cli.ContainerCreate(ctx,
		&container.Config{
			Image:  img,
			Cmd:    []string{"/never-started"},
			Labels: Labels(namespace, workload, revision, rollout),
		},
		nil, nil, nil, namespace+"-"+workload)
	if err != nil {
		t.Fatalf("creating container: %v", err)
	}
	// New negotiates: the client speaks the daemon's (older) version rather
	// than its own default, which the Debian daemon would refuse.
	if versions.LessThan(ping.APIVersion, api.DefaultVersion) && cli.ClientVersion() != ping.APIVersion {
		t.Errorf("client speaks API %s to a daemon of API %s", cli.ClientVersion(), ping.APIVersion)
	}

	tests := []struct {
		name    string
		filter  filters.Args
		wantIDs []string
	}{
		{name: "workload", filter: WorkloadFilter(namespace, workload), wantIDs: []string{created.ID}},
		{name: "revision", filter: RevisionFilter(namespace, workload, revision), wantIDs: []string{created.ID}},
		{name: "other revision", filter: RevisionFilter(namespace, workload, "rev-2")},
		{name: "other workload", filter: WorkloadFilter(namespace, "api")},
		{name: "other namespace", filter: WorkloadFilter(namespace+"-x", workload)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			list, err := cli.ContainerList(ctx, container.ListOptions{All: true, Filters: tt.filter})
			if err != nil {
				t.Fatalf("listing containers: %v", err)
			}
			var ids []string
			for _, c := range list {
				ids = append(ids, c.ID)
			}
			if fmt.Sprint(ids) != fmt.Sprint(tt.wantIDs) {
				t.Errorf("listed %v, want %v", ids, tt.wantIDs)
			}
		})
	}

	inspect, err := cli.ContainerInspect(ctx, created.ID)
	if err != nil {
		t.Fatalf("inspecting container: %v", err)
	}
	if got := inspect.Config.Labels[LabelRollout]; got != rollout {
		t.Errorf("container rollout label = %q, want %q", got, rollout)
	}
}

// buildScratchImage builds an empty image with the workload's labels, with
// the classic builder (the daemon here has no BuildKit session support for
// API clients), and returns its ID.
func buildScratchImage(ctx context.Context, t *testing.T, cli *client.Client, namespace, workload string) string {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	dockerfile := []byte("FROM scratch\nLABEL org.opencontainers.image.title=tinyforge-docker-test\n")
	if err := tw.WriteHeader(&tar.Header{Name: "Dockerfile", Mode: 0o644, Size: int64(len(dockerfile))}); err != nil {
		t.Fatal(err)
	}
	if _, err := tw.Write(dockerfile); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}

	tag := "tinyforge-test/" + namespace + ":latest"
	resp, err := cli.ImageBuild(ctx, &buf, build.ImageBuildOptions{
		Tags:        []string{tag},
		Labels:      Labels(namespace, workload, "", ""),
		Remove:      true,
		ForceRemove: true,
		Version:     build.BuilderV1,
	})
	if err != nil {
		t.Fatalf("building image: %v", err)
	}
	defer resp.Body.Close()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if _, err := cli.ImageRemove(ctx, tag, image.RemoveOptions{Force: true, PruneChildren: true}); err != nil {
			t.Errorf("removing image %s: %v", tag, err)
		}
	})

	dec := json.NewDecoder(resp.Body)
	for {
		var msg struct {
			Error string `json:"error"`
		}
		if err := dec.Decode(&msg); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("reading build output: %v", err)
		}
		if msg.Error != "" {
			t.Fatalf("building image: %s", msg.Error)
		}
	}

	inspect, err := cli.ImageInspect(ctx, tag)
	if err != nil {
		t.Fatalf("inspecting built image: %v", err)
	}
	return inspect.ID
}

// removeByLabel removes every container the filter selects.
func removeByLabel(t *testing.T, cli *client.Client, f filters.Args) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	list, err := cli.ContainerList(ctx, container.ListOptions{All: true, Filters: f})
	if err != nil {
		t.Errorf("listing containers to clean up: %v", err)
		return
	}
	for _, c := range list {
		if err := cli.ContainerRemove(ctx, c.ID, container.RemoveOptions{Force: true, RemoveVolumes: true}); err != nil {
			t.Errorf("removing container %s: %v", c.ID, err)
		}
	}
}

func randomHex(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}
