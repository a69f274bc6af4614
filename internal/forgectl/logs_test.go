package forgectl

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/tinyforge/tinyforge/internal/docker"
	"github.com/tinyforge/tinyforge/internal/docker/dockertest"
)

func TestLineWriter(t *testing.T) {
	tests := []struct {
		name   string
		prefix string
		writes []string
		want   string
	}{
		{name: "whole lines", writes: []string{"a\nb\n"}, want: "a\nb\n"},
		{name: "prefixed", prefix: "[c] ", writes: []string{"a\nb\n"}, want: "[c] a\n[c] b\n"},
		{name: "split lines joined", prefix: "[c] ", writes: []string{"he", "llo\nwor", "ld\n"}, want: "[c] hello\n[c] world\n"},
		{name: "last line ended by Flush", prefix: "[c] ", writes: []string{"a\nb"}, want: "[c] a\n[c] b\n"},
		{name: "nothing", writes: nil, want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			w := &lineWriter{w: &out, prefix: tt.prefix, mu: &sync.Mutex{}}
			for _, s := range tt.writes {
				if n, err := w.Write([]byte(s)); err != nil || n != len(s) {
					t.Fatalf("Write(%q) = %d, %v", s, n, err)
				}
			}
			if err := w.Flush(); err != nil {
				t.Fatal(err)
			}
			if out.String() != tt.want {
				t.Errorf("wrote %q, want %q", out.String(), tt.want)
			}
		})
	}
}

// TestLogsRun runs LogsOptions.Run against the real Docker daemon, with the
// Workload (whose status names the current revision) in a fake API.
func TestLogsRun(t *testing.T) {
	if testing.Short() {
		t.Skip("builds an image and starts containers")
	}
	cli := dockertest.Client(t)
	id := testID()
	ns := "forgectl-logs-" + id
	dockertest.CleanupContainers(t, cli, docker.LabelNamespace+"="+ns)
	image := dockertest.BuildTestApp(t, cli, "tinyforge-forgectl-logs:"+id)

	// web's current revision r2 runs containers a (service api) and b
	// (service worker); an old revision, another workload and a crashing
	// workload run beside them.
	type spec struct {
		suffix, workload, revision, service, version string
		env                                          []string
	}
	specs := []spec{
		{suffix: "a", workload: "web", revision: "r2", service: "api", version: "web-a"},
		{suffix: "b", workload: "web", revision: "r2", service: "worker", version: "web-b"},
		{suffix: "old", workload: "web", revision: "r1", service: "api", version: "web-old"},
		{suffix: "db", workload: "db", revision: "r2", service: "api", version: "db"},
		{suffix: "crash", workload: "crashy", revision: "r1", version: "crashy", env: []string{"EXIT_AFTER=2s"}},
	}
	names := map[string]string{}
	for _, s := range specs {
		labels := docker.Labels(ns, s.workload, s.revision, s.workload+"-1")
		// Without the managed-by mark, the orphan sweep of a TinyForge
		// server that tests of other packages run does not remove them.
		delete(labels, docker.LabelManagedBy)
		if s.service != "" {
			labels[ComposeServiceLabel] = s.service
		}
		name := "forgectl-logs-" + id + "-" + s.suffix
		names[s.suffix] = name
		startContainer(t, cli, image, name, labels, append(s.env, "VERSION="+s.version))
	}
	for _, s := range []string{"a", "b", "old", "db"} {
		waitForLog(t, cli, names[s], "listening on")
	}

	c := newFakeClient(
		newWorkload("web", inNamespace(ns), currentRevisionIs("r2")),
		newWorkload("crashy", inNamespace(ns), currentRevisionIs("r1")),
		newWorkload("new", inNamespace(ns)),
		newWorkload("gone", inNamespace(ns), currentRevisionIs("r9")),
	)
	run := func(t *testing.T, ctx context.Context, configure func(*LogsOptions)) (string, string, error) {
		t.Helper()
		streams, _, out, errOut := genericiooptions.NewTestIOStreams()
		o := NewLogsOptions(streams)
		o.Namespace, o.Workload, o.Client, o.Docker = ns, "web", c, cli
		configure(o)
		if err := o.Validate(); err != nil {
			t.Fatal(err)
		}
		err := o.Run(ctx)
		return out.String(), errOut.String(), err
	}

	t.Run("every container of the current revision, prefixed", func(t *testing.T) {
		out, errOut, err := run(t, t.Context(), func(*LogsOptions) {})
		if err != nil {
			t.Fatal(err)
		}
		// The test app logs to stderr only.
		if out != "" {
			t.Errorf("stdout %q, want nothing", out)
		}
		for _, want := range []string{
			"[" + names["a"] + "] testapp: ", `version="web-a" listening on`,
			"[" + names["b"] + "] testapp: ", `version="web-b" listening on`,
		} {
			if !strings.Contains(errOut, want) {
				t.Errorf("stderr lacks %q:\n%s", want, errOut)
			}
		}
		for _, notWant := range []string{"web-old", `"db"`, "crashy", "\x01", "\x02"} {
			if strings.Contains(errOut, notWant) {
				t.Errorf("stderr has %q:\n%s", notWant, errOut)
			}
		}
		// Not followed: one container after the other, in name order.
		if strings.Index(errOut, "web-a") > strings.Index(errOut, "web-b") {
			t.Errorf("container b's log came first:\n%s", errOut)
		}
	})
	t.Run("one service, no prefix, tail and timestamps", func(t *testing.T) {
		_, errOut, err := run(t, t.Context(), func(o *LogsOptions) {
			o.Service, o.Tail, o.Timestamps = "worker", 1, true
		})
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSuffix(errOut, "\n"), "\n")
		if len(lines) != 1 || !strings.Contains(lines[0], `version="web-b"`) || strings.HasPrefix(lines[0], "[") {
			t.Fatalf("stderr %q, want web-b's last line alone, unprefixed", errOut)
		}
		if _, err := time.Parse(time.RFC3339Nano, strings.Fields(lines[0])[0]); err != nil {
			t.Errorf("line %q does not start with a timestamp: %v", lines[0], err)
		}
	})
	t.Run("--prefix with one container", func(t *testing.T) {
		_, errOut, err := run(t, t.Context(), func(o *LogsOptions) { o.Service, o.Prefix = "api", true })
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(errOut, "["+names["a"]+"] ") || strings.Contains(errOut, "web-b") {
			t.Errorf("stderr %q, want container a's lines, prefixed", errOut)
		}
	})
	t.Run("follow until the container stops", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		defer cancel()
		_, errOut, err := run(t, ctx, func(o *LogsOptions) { o.Workload, o.Follow = "crashy", true })
		if err != nil {
			t.Fatal(err)
		}
		if ctx.Err() != nil {
			t.Fatal("follow did not end when the container stopped")
		}
		if !strings.Contains(errOut, "exiting with code 1") {
			t.Errorf("stderr %q lacks the line logged on exit", errOut)
		}
	})
	t.Run("follow ends with its context", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		streams, _, _, _ := genericiooptions.NewTestIOStreams()
		errOut := &syncBuffer{}
		streams.ErrOut = errOut
		o := NewLogsOptions(streams)
		o.Namespace, o.Workload, o.Client, o.Docker, o.Follow = ns, "web", c, cli, true
		done := make(chan error, 1)
		go func() { done <- o.Run(ctx) }()
		waitFor(t, "both containers' lines", func() bool {
			s := errOut.String()
			return strings.Contains(s, "web-a") && strings.Contains(s, "web-b")
		})
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run returned %v after its context ended, want nil", err)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("Run still following after its context ended")
		}
	})
	t.Run("errors", func(t *testing.T) {
		tests := []struct {
			name, workload, service, want string
		}{
			{name: "nothing deployed", workload: "new", want: "has no current revision: nothing has deployed yet"},
			{name: "no containers", workload: "gone", want: "no containers of workload " + ns + "/gone revision r9 on this Docker daemon"},
			{name: "no such service", workload: "web", service: "cache", want: `revision r2 service "cache"`},
			{name: "no such workload", workload: "nope", want: `workload "nope" not found in namespace "` + ns + `"`},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				_, _, err := run(t, t.Context(), func(o *LogsOptions) { o.Workload, o.Service = tt.workload, tt.service })
				if err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Errorf("error %v, want one containing %q", err, tt.want)
				}
			})
		}
	})
}

func testID() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// startContainer runs image as name with labels and env; the image's
// cleanup removes it.
func startContainer(t *testing.T, cli docker.API, image, name string, labels map[string]string, env []string) {
	t.Helper()
	ctx := t.Context()
	created, err := cli.ContainerCreate(ctx, &container.Config{Image: image, Labels: labels, Env: env}, nil, nil, nil, name)
	if err != nil {
		t.Fatalf("creating container %s: %v", name, err)
	}
	if err := cli.ContainerStart(ctx, created.ID, container.StartOptions{}); err != nil {
		t.Fatalf("starting container %s: %v", name, err)
	}
}

// waitForLog waits until the container's log holds want.
func waitForLog(t *testing.T, cli docker.API, name, want string) {
	t.Helper()
	waitFor(t, name+" to log "+want, func() bool {
		rc, err := cli.ContainerLogs(t.Context(), name, container.LogsOptions{ShowStdout: true, ShowStderr: true})
		if err != nil {
			return false
		}
		defer rc.Close()
		b, _ := io.ReadAll(rc)
		return bytes.Contains(b, []byte(want))
	})
}
