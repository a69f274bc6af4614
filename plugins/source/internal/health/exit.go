package health

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/pkg/stdcopy"

	"github.com/tinyforge/tinyforge/plugins"
)

const (
	// logTailLines is how much of the log an exit error quotes.
	logTailLines = 10
	// maxLogTail bounds the quoted log in bytes, for the Rollout message.
	maxLogTail = 4096
)

// ExitError says how container name (ID id, inspected as insp) ended, with
// the tail of its log, wrapping ErrExited.
func ExitError(ctx context.Context, deps plugins.Deps, name, id string, insp container.InspectResponse) error {
	what := "stopped"
	if st := insp.State; st != nil {
		switch {
		case st.Running && !st.Restarting:
			// Docker restarted it already, and reset its exit code.
			what = fmt.Sprintf("exited and was restarted by Docker (%d restarts)", insp.RestartCount)
		case st.Restarting:
			what = fmt.Sprintf("exited with code %d and is being restarted by Docker (%d restarts)", st.ExitCode, insp.RestartCount)
		default:
			what = fmt.Sprintf("exited with code %d", st.ExitCode)
		}
		if st.OOMKilled {
			what += " (out of memory)"
		}
		if st.Error != "" {
			what += ": " + st.Error
		}
	}
	err := fmt.Errorf("%w: container %s %s", ErrExited, name, what)
	if logs := tailLogs(ctx, deps, id); logs != "" {
		return fmt.Errorf("%w; last log lines:\n%s", err, logs)
	}
	return err
}

// tailLogs returns the last lines of the container's output, or "" when
// they cannot be read. It reads on for a few seconds after ctx ends: the
// log says why the wait failed.
func tailLogs(ctx context.Context, deps plugins.Deps, id string) string {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	rc, err := deps.Docker.ContainerLogs(ctx, id, container.LogsOptions{
		ShowStdout: true, ShowStderr: true, Tail: fmt.Sprint(logTailLines),
	})
	if err != nil {
		deps.Log.V(1).Info("Reading container logs", "error", err.Error())
		return ""
	}
	defer rc.Close()
	var buf bytes.Buffer
	// Containers without a TTY multiplex stdout and stderr; with one, the
	// log is one raw stream.
	raw, err := io.ReadAll(io.LimitReader(rc, 1<<20))
	if err != nil && len(raw) == 0 {
		return ""
	}
	if _, err := stdcopy.StdCopy(&buf, &buf, bytes.NewReader(raw)); err != nil {
		buf.Reset()
		buf.Write(raw)
	}
	s := strings.TrimRight(buf.String(), "\n\r\t ")
	if len(s) > maxLogTail {
		s = "…" + s[len(s)-maxLogTail:]
	}
	return s
}
