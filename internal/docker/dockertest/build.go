package dockertest

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
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/build"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"

	"github.com/tinyforge/tinyforge/internal/docker"
)

const (
	// LabelTest marks images built by BuildTestApp, with the value "true",
	// so leftovers of a killed test run can be found and removed
	// (docker image prune -a --filter label=tinyforge.dev/test=true).
	LabelTest = "tinyforge.dev/test"
	// EnvTestBuild is set in every image BuildTestApp builds to a value of
	// its own, which makes every build a distinct image: removing one test's
	// image can then never take another's, as it could if the builder's cache
	// gave identical builds one ID. It is an ENV rather than a label because
	// the image's ENV step misses the cache anyway; a label would cost a
	// second uncached step.
	EnvTestBuild = "TINYFORGE_TEST_BUILD"

	// TestAppPackage is the package BuildTestApp compiles.
	TestAppPackage = "github.com/tinyforge/tinyforge/test/testapp"
	// TestAppPort is the port the test app listens on in its image.
	TestAppPort = "8080/tcp"
)

// BuildOption changes the image BuildTestApp builds.
type BuildOption func(*buildConfig)

type buildConfig struct {
	env         [][2]string
	healthcheck time.Duration
}

// WithVersion sets VERSION in the image, which GET / reports.
func WithVersion(v string) BuildOption {
	return WithEnv("VERSION", v)
}

// WithEnv sets an environment variable in the image; of two for one key
// the later wins, and a container's own env overrides both.
func WithEnv(key, value string) BuildOption {
	return func(c *buildConfig) { c.env = append(c.env, [2]string{key, value}) }
}

// WithHealthcheck gives the image a HEALTHCHECK probing /healthz every
// interval, with Docker's default of three failures before unhealthy. Short
// intervals make health transitions quick to observe; each probe is a
// process started in the container, so keep it at 100ms or more.
func WithHealthcheck(interval time.Duration) BuildOption {
	return func(c *buildConfig) { c.healthcheck = interval }
}

// dockerfile renders the build's Dockerfile, ordered for the classic
// builder's cache, where every instruction is a step that creates and
// commits a container (some 100-300 ms each) unless a previous build had the
// same parent and instruction. The steps every build shares come first;
// the health check, whose variants are few, next; and one ENV step last,
// the only one that misses the cache, since it carries the build's nonce.
func (c *buildConfig) dockerfile(nonce string) (string, error) {
	var b strings.Builder
	b.WriteString("FROM scratch\n")
	b.WriteString("COPY testapp /testapp\n")
	b.WriteString("EXPOSE 8080\n")
	b.WriteString(`ENTRYPOINT ["/testapp"]` + "\n")
	fmt.Fprintf(&b, "LABEL %s=\"true\"\n", LabelTest)
	if c.healthcheck > 0 {
		// The probe's own HTTP timeout is 3s; Docker's must not cut it short.
		fmt.Fprintf(&b, "HEALTHCHECK --interval=%s --timeout=5s --retries=3 CMD [\"/testapp\", \"-healthcheck\"]\n",
			c.healthcheck)
	}
	// Inside double quotes the Dockerfile parser unescapes \ and expands $,
	// so both are escaped to keep values literal.
	quote := strings.NewReplacer(`\`, `\\`, `"`, `\"`, `$`, `\$`)
	fmt.Fprintf(&b, "ENV %s=\"%s\"", EnvTestBuild, nonce)
	for _, kv := range c.env {
		k, v := kv[0], kv[1]
		if k == "" || strings.ContainsAny(k, "= \t\r\n\"'$\\") {
			return "", fmt.Errorf("environment variable name %q is not usable in a Dockerfile", k)
		}
		if strings.ContainsAny(v, "\r\n") {
			return "", fmt.Errorf("value of %s holds a line break", k)
		}
		fmt.Fprintf(&b, " %s=\"%s\"", k, quote.Replace(v))
	}
	b.WriteString("\n")
	return b.String(), nil
}

// BuildTestApp builds the test app image, tags it tag, and returns its ID.
// The binary is compiled once per test process (static, trimmed); each image
// build then costs a few hundred milliseconds. The image carries LabelTest.
//
// When the test ends the image is removed, with any container still using
// it (each build is a distinct image, so those containers are this test's),
// whatever order the test registered its other cleanups in; the builder's
// cache of shared steps stays for the next build. Give each test its own
// tag: a tag shared by concurrent tests moves to the latest build.
func BuildTestApp(t testing.TB, cli docker.API, tag string, opts ...BuildOption) (imageID string) {
	t.Helper()
	cfg := &buildConfig{}
	for _, o := range opts {
		o(cfg)
	}
	dockerfile, err := cfg.dockerfile(nonce())
	if err != nil {
		t.Fatalf("dockertest: building %s: %v", tag, err)
	}
	bin, err := testAppBinary(t)
	if err != nil {
		t.Fatalf("dockertest: %v", err)
	}
	buildCtx, err := BuildContext(dockerfile, bin)
	if err != nil {
		t.Fatalf("dockertest: building %s: %v", tag, err)
	}

	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	start := time.Now()
	id, err := BuildImage(ctx, cli, buildCtx, tag, nil)
	if err != nil && strings.Contains(err.Error(), "unable to find image") {
		// The daemon lost the image its last step had just committed: seen
		// once (Docker 20.10's classic builder) while other test packages
		// built and removed images sharing the cached steps. The build is
		// deterministic but for the nonce, so build it again.
		t.Logf("dockertest: building %s again after: %v", tag, err)
		id, err = BuildImage(ctx, cli, buildCtx, tag, nil)
	}
	if err != nil {
		t.Fatalf("dockertest: building %s: %v", tag, err)
	}
	t.Cleanup(func() { removeImage(t, cli, id, tag) })
	t.Logf("dockertest: built %s (%.19s) in %v", tag, id, time.Since(start).Round(time.Millisecond))
	return id
}

// BuildImage builds the context buildCtx (from BuildContext) into an image
// tagged tag with labels, and returns its ID. It runs a classic
// (non-BuildKit) build: the daemon here is 20.10, whose BuildKit needs a
// session the plain API call does not open.
func BuildImage(ctx context.Context, cli docker.API, buildCtx []byte, tag string, labels map[string]string) (string, error) {
	resp, err := cli.ImageBuild(ctx, bytes.NewReader(buildCtx), build.ImageBuildOptions{
		Tags:        []string{tag},
		Dockerfile:  "Dockerfile",
		Remove:      true,
		ForceRemove: true,
		Version:     build.BuilderV1,
		Labels:      labels,
	})
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	id, err := readBuildOutput(resp.Body)
	if err != nil {
		return "", err
	}
	if id == "" {
		// Older daemons do not report the ID; the tag names it.
		insp, err := cli.ImageInspect(ctx, tag)
		if err != nil {
			return "", fmt.Errorf("inspecting the built image: %w", err)
		}
		id = insp.ID
	}
	return id, nil
}

// readBuildOutput reads the daemon's JSON message stream to its end, and
// returns the image ID it reports, or the build's error with its output.
func readBuildOutput(r io.Reader) (string, error) {
	var (
		id  string
		out strings.Builder
	)
	dec := json.NewDecoder(r)
	for {
		var msg struct {
			Stream      string `json:"stream"`
			Error       string `json:"error"`
			ErrorDetail *struct {
				Message string `json:"message"`
			} `json:"errorDetail"`
			Aux json.RawMessage `json:"aux"`
		}
		if err := dec.Decode(&msg); errors.Is(err, io.EOF) {
			return id, nil
		} else if err != nil {
			return "", fmt.Errorf("reading build output: %w", err)
		}
		out.WriteString(msg.Stream)
		if msg.ErrorDetail != nil && msg.ErrorDetail.Message != "" {
			msg.Error = msg.ErrorDetail.Message
		}
		if msg.Error != "" {
			return "", fmt.Errorf("%s\nbuild output:\n%s", msg.Error, out.String())
		}
		var aux struct{ ID string }
		if len(msg.Aux) > 0 && json.Unmarshal(msg.Aux, &aux) == nil && aux.ID != "" {
			id = aux.ID
		}
	}
}

// removeImage removes the image id and the containers created from it. It
// runs after the test, when t.Context is done, so it has its own deadline.
//
// The image's untagged parents stay: they are the builder's cache (the
// binary's layer and the shared metadata steps), which makes the next
// build, in this process or the next, cost one step instead of a
// multi-megabyte COPY and five more. They total one layer per version of
// the test app's source; docker image prune removes them.
func removeImage(t testing.TB, cli docker.API, id, tag string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	users, err := cli.ContainerList(ctx, container.ListOptions{
		All:     true,
		Filters: filters.NewArgs(filters.Arg("ancestor", id)),
	})
	if err != nil {
		t.Errorf("dockertest: listing containers of image %s: %v", tag, err)
		return
	}
	for _, c := range users {
		err := cli.ContainerRemove(ctx, c.ID, container.RemoveOptions{Force: true, RemoveVolumes: true})
		if err != nil && !cerrdefs.IsNotFound(err) && !cerrdefs.IsConflict(err) {
			t.Errorf("dockertest: removing container %.12s of image %s: %v", c.ID, tag, err)
		}
	}
	_, err = cli.ImageRemove(ctx, id, image.RemoveOptions{Force: true})
	if err != nil && !cerrdefs.IsNotFound(err) {
		t.Errorf("dockertest: removing image %s: %v", tag, err)
	}
}

// The compiled test app, shared by every build in this process.
var testApp struct {
	once sync.Once
	bin  []byte
	err  error
}

// testAppBinary compiles TestAppPackage the first time it is called and
// keeps the binary in memory, so nothing is left on disk.
func testAppBinary(t testing.TB) ([]byte, error) {
	testApp.once.Do(func() {
		start := time.Now()
		testApp.bin, testApp.err = CompileTestApp()
		if testApp.err == nil {
			t.Logf("dockertest: compiled %s in %v (%d KiB)", TestAppPackage,
				time.Since(start).Round(time.Millisecond), len(testApp.bin)>>10)
		}
	})
	return testApp.bin, testApp.err
}

// CompileTestApp compiles TestAppPackage static for the daemon's Linux and
// returns the binary.
func CompileTestApp() ([]byte, error) {
	dir, err := os.MkdirTemp("", "tinyforge-testapp-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	out := filepath.Join(dir, "testapp")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	// go test puts its own toolchain first on PATH, and runs tests inside
	// the module, so the import path resolves to this tree's source. Without
	// VCS stamping the binary, and so the cached layer, changes only when the
	// source does.
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-buildvcs=false", "-ldflags=-s -w", "-o", out, TestAppPackage)
	// GOFLAGS could carry -race, which needs cgo; the image needs neither.
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+runtime.GOARCH, "GOFLAGS=")
	if msg, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("compiling %s: %w\n%s", TestAppPackage, err, msg)
	}
	return os.ReadFile(out)
}

// BuildContext is a build context of dockerfile and the binary as
// "testapp", with fixed metadata so identical inputs hit the builder's
// cache.
func BuildContext(dockerfile string, bin []byte) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	files := []struct {
		name string
		mode int64
		data []byte
	}{
		{"Dockerfile", 0o644, []byte(dockerfile)},
		{"testapp", 0o755, bin},
	}
	for _, f := range files {
		hdr := &tar.Header{
			Name:     f.name,
			Mode:     f.mode,
			Size:     int64(len(f.data)),
			ModTime:  time.Unix(0, 0),
			Typeflag: tar.TypeReg,
			Format:   tar.FormatPAX,
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, err
		}
		if _, err := tw.Write(f.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func nonce() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
