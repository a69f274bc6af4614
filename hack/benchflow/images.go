package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/docker/docker/client"

	"github.com/tinyforge/tinyforge/internal/docker/dockertest"
)

const (
	// testAppPort is the port dockertest.TestAppPackage listens on.
	testAppPort = 8080
	// labelRun marks every image (and baseline container) of a run with
	// the run's namespace, so a later run can remove what a killed one
	// left; tinyforge.dev/ is TinyForge's own prefix, so it is not used.
	labelRun = "benchflow.tinyforge.dev/run"
	// labelTest is dockertest's mark of test images, so
	// `docker image prune -a --filter label=tinyforge.dev/test=true`
	// removes these too.
	labelTest = "tinyforge.dev/test"
	// imageOpTimeout bounds one image build or push.
	imageOpTimeout = 2 * time.Minute
)

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
	buildCtx, err := dockertest.BuildContext(dockerfile(version, run, env...), bin)
	if err != nil {
		return "", fmt.Errorf("writing the build context: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, imageOpTimeout)
	defer cancel()
	id, err := dockertest.BuildImage(ctx, cli, buildCtx, tag, map[string]string{labelRun: run, labelTest: "true"})
	if err != nil {
		return "", fmt.Errorf("building %s: %w", tag, err)
	}
	return id, nil
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
