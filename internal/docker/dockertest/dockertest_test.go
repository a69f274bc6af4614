package dockertest_test

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/volume"
	"github.com/docker/go-connections/nat"

	"github.com/tinyforge/tinyforge/internal/docker"
	"github.com/tinyforge/tinyforge/internal/docker/dockertest"
)

// testNamespace is a namespace label value no other test run shares.
func testNamespace(t testing.TB) string {
	t.Helper()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return "dockertest-" + hex.EncodeToString(b)
}

// started is a running test app container.
type started struct {
	id   string
	base string // http://127.0.0.1:<port>
	// at is when ContainerStart was called, running when it returned.
	at, running time.Time
}

// runTestApp starts image with env, publishing 8080 on a random loopback
// port. Its labels carry the namespace but not managed-by: a TinyForge
// controller running in another test must not adopt or sweep it.
func runTestApp(t *testing.T, cli docker.API, ns, image string, env ...string) started {
	t.Helper()
	ctx := t.Context()
	port := nat.Port(dockertest.TestAppPort)
	resp, err := cli.ContainerCreate(ctx,
		&container.Config{
			Image:        image,
			Env:          env,
			ExposedPorts: nat.PortSet{port: {}},
			Labels:       map[string]string{docker.LabelNamespace: ns, docker.LabelWorkload: "testapp"},
		},
		&container.HostConfig{
			PortBindings: nat.PortMap{port: {{HostIP: "127.0.0.1", HostPort: ""}}},
		}, nil, nil, "")
	if err != nil {
		t.Fatalf("creating container: %v", err)
	}
	at := time.Now()
	if err := cli.ContainerStart(ctx, resp.ID, container.StartOptions{}); err != nil {
		t.Fatalf("starting container: %v", err)
	}
	running := time.Now()
	return started{id: resp.ID, base: "http://" + dockertest.HostAddr(t, cli, resp.ID, dockertest.TestAppPort), at: at, running: running}
}

func post(t *testing.T, url string) {
	t.Helper()
	resp, err := http.Post(url, "text/plain", nil)
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	defer resp.Body.Close()
	// Read to the end: /exit must deliver its whole answer before exiting.
	if _, err := io.ReadAll(resp.Body); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("POST %s: %s, %v", url, resp.Status, err)
	}
}

// waitExit waits for the container to stop and returns its exit code.
func waitExit(t *testing.T, cli docker.API, id string, timeout time.Duration) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	defer cancel()
	waitC, errC := cli.ContainerWait(ctx, id, container.WaitConditionNotRunning)
	select {
	case w := <-waitC:
		if w.Error != nil {
			t.Fatalf("waiting for %.12s: %s", id, w.Error.Message)
		}
		return w.StatusCode
	case err := <-errC:
		t.Fatalf("container %.12s did not exit within %v: %v", id, timeout, err)
	}
	return -1
}

func TestTestAppImages(t *testing.T) {
	cli := dockertest.Client(t)
	ns := testNamespace(t)
	dockertest.CleanupContainers(t, cli, docker.LabelNamespace+"="+ns)

	// A value the Dockerfile must keep literal.
	const greeting = `hi $HOME "quoted" back\slash`
	start := time.Now()
	v1 := dockertest.BuildTestApp(t, cli, "tinyforge-testapp:"+ns+"-v1",
		dockertest.WithVersion("v1"), dockertest.WithHealthcheck(200*time.Millisecond))
	first := time.Since(start)
	start = time.Now()
	v2 := dockertest.BuildTestApp(t, cli, "tinyforge-testapp:"+ns+"-v2",
		dockertest.WithVersion("v2"), dockertest.WithEnv("GREETING", greeting))
	second := time.Since(start)
	t.Logf("image build: first %v (compile included when not yet done), second %v", first, second)

	t.Run("v1 reports its version and health", func(t *testing.T) {
		t.Parallel()
		app := runTestApp(t, cli, ns, v1)
		insp := dockertest.WaitHealth(t, cli, app.id, container.Healthy, 30*time.Second)
		healthy := time.Since(app.at)
		probe := insp.State.Health.Log[0]
		t.Logf("start to healthy: %v (ContainerStart %v, then healthy %v later; first probe ran %v)",
			healthy.Round(time.Millisecond), app.running.Sub(app.at).Round(time.Millisecond),
			(healthy - app.running.Sub(app.at)).Round(time.Millisecond), probe.End.Sub(probe.Start).Round(time.Millisecond))
		dockertest.WaitHTTP(t, app.base+"/", "version=v1 host=", 10*time.Second)
		dockertest.WaitHTTP(t, app.base+"/healthz", "ok", 10*time.Second)

		post(t, app.base+"/fail")
		failed := time.Now()
		insp = dockertest.WaitHealth(t, cli, app.id, container.Unhealthy, 30*time.Second)
		t.Logf("/fail to unhealthy: %v (%d failing probes)", time.Since(failed), insp.State.Health.FailingStreak)

		post(t, app.base+"/recover")
		dockertest.WaitHealth(t, cli, app.id, container.Healthy, 30*time.Second)
	})

	t.Run("FAIL_HEALTH=1 is never healthy", func(t *testing.T) {
		t.Parallel()
		app := runTestApp(t, cli, ns, v1, "FAIL_HEALTH=1")
		insp := dockertest.WaitHealth(t, cli, app.id, container.Unhealthy, 30*time.Second)
		for _, p := range insp.State.Health.Log {
			if p.ExitCode == 0 {
				t.Errorf("a probe passed: %+v", p)
			}
		}
	})

	t.Run("v2 serves version, env, stream and WebSocket", func(t *testing.T) {
		t.Parallel()
		app := runTestApp(t, cli, ns, v2, "EXTRA=from-container")
		dockertest.WaitHTTP(t, app.base+"/", "version=v2 host=", 10*time.Second)
		if got := dockertest.WaitHTTP(t, app.base+"/env?key=GREETING", "", 5*time.Second); got != greeting+"\n" {
			t.Errorf("GREETING from the image = %q, want %q", got, greeting+"\n")
		}
		dockertest.WaitHTTP(t, app.base+"/env?key=EXTRA", "from-container", 5*time.Second)

		// Lines must arrive one by one, not all at the end.
		reqStart := time.Now()
		resp, err := http.Get(app.base + "/stream?n=3&every=300ms")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		var lines []string
		var firstAt time.Duration
		for sc.Scan() {
			if lines = append(lines, sc.Text()); len(lines) == 1 {
				firstAt = time.Since(reqStart)
			}
		}
		total := time.Since(reqStart)
		if strings.Join(lines, "|") != "line 1 of 3|line 2 of 3|line 3 of 3" {
			t.Errorf("stream lines %q", lines)
		}
		// Buffered, every line would arrive at the end, together.
		if total-firstAt < 500*time.Millisecond {
			t.Errorf("first line after %v, all after %v: want the lines 300ms apart", firstAt, total)
		}

		wsURL := "ws" + strings.TrimPrefix(app.base, "http") + "/ws"
		msg := strings.Repeat("echo ", 1000)
		if got := dockertest.WSRoundTrip(t, wsURL, msg, 5*time.Second); got != msg {
			t.Errorf("WebSocket echoed %d bytes, want the %d sent", len(got), len(msg))
		}
	})

	t.Run("EXIT_AFTER exits with code 1", func(t *testing.T) {
		t.Parallel()
		app := runTestApp(t, cli, ns, v2, "EXIT_AFTER=1s")
		dockertest.WaitHTTP(t, app.base+"/", "version=v2", 10*time.Second)
		if code := waitExit(t, cli, app.id, 20*time.Second); code != 1 {
			t.Errorf("exit code %d, want 1", code)
		}
		if took := time.Since(app.at); took < time.Second {
			t.Errorf("exited after %v, before EXIT_AFTER", took)
		}
	})

	t.Run("POST /exit exits with the code asked", func(t *testing.T) {
		t.Parallel()
		app := runTestApp(t, cli, ns, v2)
		dockertest.WaitHTTP(t, app.base+"/", "version=v2", 10*time.Second)
		post(t, app.base+"/exit?code=3")
		if code := waitExit(t, cli, app.id, 20*time.Second); code != 3 {
			t.Errorf("exit code %d, want 3", code)
		}
	})

	t.Run("docker stop drains and exits 0", func(t *testing.T) {
		t.Parallel()
		app := runTestApp(t, cli, ns, v2)
		dockertest.WaitHTTP(t, app.base+"/", "version=v2", 10*time.Second)
		resp, err := http.Get(app.base + "/stream?n=2&every=1s")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		br := bufio.NewReader(resp.Body)
		if line, err := br.ReadString('\n'); err != nil || line != "line 1 of 2\n" {
			t.Fatalf("first line %q, %v", line, err)
		}
		grace := 10
		stopped := make(chan error, 1)
		go func() {
			stopped <- cli.ContainerStop(context.Background(), app.id, container.StopOptions{Timeout: &grace})
		}()
		if line, err := br.ReadString('\n'); err != nil || line != "line 2 of 2\n" {
			t.Errorf("in-flight stream cut short: %q, %v", line, err)
		}
		if err := <-stopped; err != nil {
			t.Fatal(err)
		}
		insp, err := cli.ContainerInspect(t.Context(), app.id)
		if err != nil {
			t.Fatal(err)
		}
		if insp.State.ExitCode != 0 {
			t.Errorf("exit code %d after SIGTERM, want 0 (137 means it ignored SIGTERM)", insp.State.ExitCode)
		}
	})
}

// TestCleanupRemovesByLabel checks that what a test creates is gone when it
// ends, whatever order its cleanups were registered in.
func TestCleanupRemovesByLabel(t *testing.T) {
	cli := dockertest.Client(t)
	ns := testNamespace(t)
	label := docker.LabelNamespace + "=" + ns
	tag := "tinyforge-testapp:" + ns
	var imageID, containerID string

	t.Run("create", func(t *testing.T) {
		// Registered before the image, so the image's cleanup runs first
		// and must deal with the container still using it.
		dockertest.CleanupContainers(t, cli, label)
		imageID = dockertest.BuildTestApp(t, cli, tag)
		containerID = runTestApp(t, cli, ns, tag).id
		// A second container, never started.
		if _, err := cli.ContainerCreate(t.Context(), &container.Config{Image: tag, Labels: map[string]string{docker.LabelNamespace: ns}},
			nil, nil, nil, ""); err != nil {
			t.Fatal(err)
		}
		if _, err := cli.NetworkCreate(t.Context(), ns, network.CreateOptions{Labels: map[string]string{docker.LabelNamespace: ns}}); err != nil {
			t.Fatal(err)
		}
		if _, err := cli.VolumeCreate(t.Context(), volume.CreateOptions{Name: ns, Labels: map[string]string{docker.LabelNamespace: ns}}); err != nil {
			t.Fatal(err)
		}
	})

	ctx := t.Context()
	f := filters.NewArgs(filters.Arg("label", label))
	if cs, err := cli.ContainerList(ctx, container.ListOptions{All: true, Filters: f}); err != nil || len(cs) > 0 {
		t.Errorf("containers left: %d, %v", len(cs), err)
	}
	if _, err := cli.ContainerInspect(ctx, containerID); !cerrdefs.IsNotFound(err) {
		t.Errorf("container %.12s: %v, want not found", containerID, err)
	}
	if ns, err := cli.NetworkList(ctx, network.ListOptions{Filters: f}); err != nil || len(ns) > 0 {
		t.Errorf("networks left: %d, %v", len(ns), err)
	}
	if vs, err := cli.VolumeList(ctx, volume.ListOptions{Filters: f}); err != nil || len(vs.Volumes) > 0 {
		t.Errorf("volumes left: %d, %v", len(vs.Volumes), err)
	}
	for _, ref := range []string{tag, imageID} {
		if _, err := cli.ImageInspect(ctx, ref); !cerrdefs.IsNotFound(err) {
			t.Errorf("image %s: %v, want not found", ref, err)
		}
	}
}

func TestCleanupContainersNeedsALabel(t *testing.T) {
	// CleanupContainers must refuse to select everything; run it against a
	// recorder so the refusal does not fail this test.
	r := &fatalRecorder{TB: t}
	func() {
		defer func() { _ = recover() }()
		dockertest.CleanupContainers(r, nil)
	}()
	if !r.fatal {
		t.Error("CleanupContainers with no label did not fail the test")
	}
}

// fatalRecorder notes Fatal instead of ending the test; it panics to stop
// the caller, as runtime.Goexit would.
type fatalRecorder struct {
	testing.TB
	fatal bool
}

func (r *fatalRecorder) Fatal(...any) {
	r.fatal = true
	panic("fatal")
}

func (r *fatalRecorder) Helper() {}

func BenchmarkBuildTestApp(b *testing.B) {
	cli := dockertest.Client(b)
	ns := testNamespace(b)
	dockertest.BuildTestApp(b, cli, "tinyforge-testapp:"+ns+"-warm") // compile outside the timing
	b.ResetTimer()
	i := 0
	for b.Loop() {
		i++
		dockertest.BuildTestApp(b, cli, "tinyforge-testapp:"+ns+"-"+hex.EncodeToString([]byte{byte(i >> 8), byte(i)}),
			dockertest.WithVersion("v"+hex.EncodeToString([]byte{byte(i)})), dockertest.WithHealthcheck(200*time.Millisecond))
	}
}

func BenchmarkStartToHealthy(b *testing.B) {
	cli := dockertest.Client(b)
	ns := testNamespace(b)
	dockertest.CleanupContainers(b, cli, docker.LabelNamespace+"="+ns)
	img := dockertest.BuildTestApp(b, cli, "tinyforge-testapp:"+ns, dockertest.WithHealthcheck(100*time.Millisecond))
	b.ResetTimer()
	for b.Loop() {
		resp, err := cli.ContainerCreate(b.Context(), &container.Config{Image: img, Labels: map[string]string{docker.LabelNamespace: ns}},
			nil, nil, nil, "")
		if err != nil {
			b.Fatal(err)
		}
		if err := cli.ContainerStart(b.Context(), resp.ID, container.StartOptions{}); err != nil {
			b.Fatal(err)
		}
		dockertest.WaitHealth(b, cli, resp.ID, container.Healthy, 30*time.Second)
	}
}
