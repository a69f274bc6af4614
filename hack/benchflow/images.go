package main

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/docker/docker/api/types/build"
	"github.com/docker/docker/client"
)

const (
	// testAppPackage is the HTTP server every image runs, as in
	// internal/docker/dockertest.
	testAppPackage = "github.com/tinyforge/tinyforge/test/testapp"
	// testAppPort is the port it listens on.
	testAppPort = 8080
	// labelRun marks every image (and baseline container) of a run with
	// the run's namespace, so a later run can remove what a killed one
	// left; tinyforge.dev/ is TinyForge's own prefix, so it is not used.
	labelRun = "benchflow.tinyforge.dev/run"
	// labelTest is dockertest's mark of test images, so
	// `docker image prune -a --filter label=tinyforge.dev/test=true`
	// removes these too.
	labelTest = "tinyforge.dev/test"
	// compileTimeout bounds go build of the test app.
	compileTimeout = 5 * time.Minute
	// imageOpTimeout bounds one image build or push.
	imageOpTimeout = 2 * time.Minute
)

// compileTestApp builds the test app static for the daemon's Linux into dir
// and returns the binary's path.
func compileTestApp(ctx context.Context, dir string) (string, error) {
	out := filepath.Join(dir, "testapp")
	ctx, cancel := context.WithTimeout(ctx, compileTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-buildvcs=false", "-ldflags=-s -w", "-o", out, testAppPackage)
	// GOFLAGS could carry -race, which needs cgo; the image needs neither.
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+runtime.GOARCH, "GOFLAGS=")
	if msg, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("compiling %s: %w\n%s", testAppPackage, err, msg)
	}
	return out, nil
}

// dockerfile is a FROM scratch image of the test app answering
// version=<version>; run makes the image unique to this run, so removing
// it can never take another run's. env are more KEY=value settings, such
// as STATIC_DIR=/www for the static site's serving image.
func dockerfile(version, run string, env ...string) string {
	s := fmt.Sprintf(`FROM scratch
COPY testapp /testapp
EXPOSE %d
ENTRYPOINT ["/testapp"]
ENV VERSION=%q BENCHFLOW_RUN=%q
`, testAppPort, version, run)
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		s += fmt.Sprintf("ENV %s=%q\n", k, v)
	}
	return s
}

// buildTestApp builds the test app binary into an image tagged tag with
// VERSION=version and the KEY=value settings env, labelled with the run,
// and returns its ID.
func buildTestApp(ctx context.Context, cli *client.Client, bin []byte, tag, version, run string, env ...string) (string, error) {
	buildCtx, err := tarContext(dockerfile(version, run, env...), bin)
	if err != nil {
		return "", fmt.Errorf("writing the build context: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, imageOpTimeout)
	defer cancel()
	// The classic builder: this daemon's BuildKit needs a session the plain
	// API call does not open.
	resp, err := cli.ImageBuild(ctx, bytes.NewReader(buildCtx), build.ImageBuildOptions{
		Tags:        []string{tag},
		Dockerfile:  "Dockerfile",
		Remove:      true,
		ForceRemove: true,
		Version:     build.BuilderV1,
		Labels:      map[string]string{labelRun: run, labelTest: "true"},
	})
	if err != nil {
		return "", fmt.Errorf("building %s: %w", tag, err)
	}
	defer resp.Body.Close()
	if err := readStream(resp.Body, nil); err != nil {
		return "", fmt.Errorf("building %s: %w", tag, err)
	}
	insp, err := cli.ImageInspect(ctx, tag)
	if err != nil {
		return "", fmt.Errorf("inspecting %s: %w", tag, err)
	}
	return insp.ID, nil
}

// tarContext is the build context: the Dockerfile and the binary.
func tarContext(dockerfile string, bin []byte) ([]byte, error) {
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
		hdr := &tar.Header{Name: f.name, Mode: f.mode, Size: int64(len(f.data)), ModTime: time.Unix(0, 0), Typeflag: tar.TypeReg, Format: tar.FormatPAX}
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

// streamMessage is one message of the daemon's JSON progress stream of a
// build or a push.
type streamMessage struct {
	Stream      string `json:"stream"`
	Error       string `json:"error"`
	ErrorDetail *struct {
		Message string `json:"message"`
	} `json:"errorDetail"`
	Aux json.RawMessage `json:"aux"`
}

// readStream reads a build's or push's progress stream to its end, hands
// each aux message to aux (when not nil), and returns the error the stream
// reports in-band (a failed push answers 200).
func readStream(r io.Reader, aux func(json.RawMessage)) error {
	dec := json.NewDecoder(r)
	var out bytes.Buffer
	for {
		var msg streamMessage
		if err := dec.Decode(&msg); errors.Is(err, io.EOF) {
			return nil
		} else if err != nil {
			return fmt.Errorf("reading the daemon's output: %w", err)
		}
		if out.Len() < 1<<16 {
			out.WriteString(msg.Stream)
		}
		if msg.ErrorDetail != nil && msg.ErrorDetail.Message != "" {
			msg.Error = msg.ErrorDetail.Message
		}
		if msg.Error != "" {
			return fmt.Errorf("%s\noutput:\n%s", msg.Error, out.String())
		}
		if aux != nil && len(msg.Aux) > 0 {
			aux(msg.Aux)
		}
	}
}
