package compose

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/pkg/stdcopy"

	"github.com/tinyforge/tinyforge/plugins"
)

// Why a container is not ready; match them with errors.Is.
var (
	// ErrUnhealthy: the HTTP probe failed FailureThreshold times in a row,
	// or Docker's own health check says unhealthy.
	ErrUnhealthy = errors.New("health check failed")
	// ErrExited: the container exited (or Docker restarted it) while it
	// was awaited, or a one-shot service exited with a non-zero code.
	ErrExited = errors.New("container exited")
	// ErrProgressDeadline: the workload's progress deadline passed first.
	ErrProgressDeadline = errors.New("progress deadline exceeded")
)

const (
	// defaultMinRunning is how long a container without any health check
	// must run before it counts as ready, when minReadySeconds is 0.
	defaultMinRunning = 2 * time.Second
	// statePollInterval is how often the state is looked at when no HTTP
	// probe paces the wait.
	statePollInterval = 100 * time.Millisecond
	// logTailLines is how much of the log an exit error quotes.
	logTailLines = 10
	// maxLogTail bounds the quoted log in bytes, for the Rollout message.
	maxLogTail = 4096
)

// progressContext bounds ctx by the workload's progress deadline, whose
// passing context.Cause reports as ErrProgressDeadline.
func progressContext(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if d <= 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeoutCause(ctx, d, fmt.Errorf("%w (%v)", ErrProgressDeadline, d))
}

// healthCheck is w.HealthCheck with zero values replaced by the API's
// defaults, for callers that built a Workload by hand.
func healthCheck(w plugins.Workload) plugins.HealthCheck {
	hc := w.HealthCheck
	if hc.Interval <= 0 {
		hc.Interval = 2 * time.Second
	}
	if hc.Timeout <= 0 {
		hc.Timeout = 2 * time.Second
	}
	if hc.FailureThreshold <= 0 {
		hc.FailureThreshold = 3
	}
	return hc
}

// check looks at one inspection of a container and says whether the wait
// is over (done), failed for good (err), or goes on (status says why).
type check func(ctx context.Context, insp container.InspectResponse, ran time.Duration) (done bool, status string, err error)

// watch inspects the container every pace until check is done or fails,
// or ctx ends (its cause is returned, with the last status).
func watch(ctx context.Context, deps plugins.Deps, in instance, pace time.Duration, c check) error {
	last := "not inspected yet"
	var logged time.Time
	for {
		insp, err := deps.Docker.ContainerInspect(ctx, in.ID)
		switch {
		case cerrdefs.IsNotFound(err):
			return fmt.Errorf("%w: container %s was removed", ErrExited, in.Name)
		case err != nil && ctx.Err() == nil:
			last = "inspecting: " + err.Error()
		case err == nil && insp.State != nil:
			done, status, cerr := c(ctx, insp, time.Since(startedAt(insp.State)))
			if cerr != nil {
				return cerr
			}
			if done {
				return nil
			}
			last = status
			if time.Since(logged) >= time.Second {
				deps.Log.V(1).Info("Waiting for container", "container", in.Name, "status", last)
				logged = time.Now()
			}
		}
		t := time.NewTimer(pace)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("container %s: %w; last: %s", in.Name, context.Cause(ctx), last)
		case <-t.C:
		}
	}
}

// waitCondition waits until container in of a dependency meets a
// depends_on condition: started, healthy (by Docker's health check, which
// the service or its image must have), or exited with code 0.
func waitCondition(ctx context.Context, deps plugins.Deps, in instance, condition string) error {
	return watch(ctx, deps, in, statePollInterval, func(ctx context.Context, insp container.InspectResponse, _ time.Duration) (bool, string, error) {
		st := insp.State
		switch condition {
		case conditionCompleted:
			switch {
			case st.Running || st.Restarting:
				return false, "running", nil
			case st.Status == "exited" && st.ExitCode == 0:
				return true, "", nil
			case st.Status == "exited":
				return false, "", exitError(ctx, deps, in, insp)
			}
			return false, "state " + st.Status, nil
		case conditionHealthy:
			if st.Health == nil {
				return false, "", fmt.Errorf("%w: container %s has no health check, and a dependant waits for it with condition service_healthy",
					ErrUnhealthy, in.Name)
			}
			if !st.Running || st.Restarting {
				return false, "", exitError(ctx, deps, in, insp)
			}
			done, status, err := dockerHealth(st, true)
			if err != nil {
				return false, "", fmt.Errorf("container %s: %w", in.Name, err)
			}
			return done, status, nil
		default:
			if st.Running || st.Status == "exited" {
				return true, "", nil
			}
			return false, "state " + st.Status, nil
		}
	})
}

// gate is how a new or reused container proves it is ready.
type gate struct {
	// probeURL is the HTTP health check; empty for none.
	probeURL string
	hc       plugins.HealthCheck
	// minRunning is how long it must run (and pass its probe) first.
	minRunning time.Duration
}

// newGate is the gate of container in of s: the workload's HTTP health
// check when s is routed and the workload has a path, else Docker's health
// check when the container has one, else running for minReady
// (defaultMinRunning when 0). The probe goes where the routes will
// (instance.upstream, with published from plugins.Deps.PublishedUpstreams),
// so what passes is what serves.
func newGate(st *stack, s *service, in instance, published bool) (gate, error) {
	hc := healthCheck(st.w)
	g := gate{hc: hc, minRunning: hc.MinReady}
	if s.probe != 0 {
		addr, ok := in.upstream(s.probe, published)
		if !ok {
			return g, fmt.Errorf("container %s has no address on a network the host reaches and publishes no host port for the health check port %d", in.Name, s.probe)
		}
		g.probeURL = "http://" + addr + hc.Path
	}
	return g, nil
}

// waitReady waits until container in passes its gate, or, with
// allowCompleted, exits with code 0. It returns an error wrapping ErrExited
// when the container exits (otherwise) or restarts, ErrUnhealthy when the
// check fails for good, and the cause of ctx (ErrProgressDeadline) when ctx
// ends first.
func waitReady(ctx context.Context, deps plugins.Deps, in instance, g gate, allowCompleted bool) error {
	pace := statePollInterval
	var probe *prober
	if g.probeURL != "" {
		probe = newProber(g.probeURL, g.hc.Timeout)
		defer probe.close()
		pace = g.hc.Interval
	}
	restarts := -1
	failures := int32(0)
	return watch(ctx, deps, in, pace, func(ctx context.Context, insp container.InspectResponse, ran time.Duration) (bool, string, error) {
		st := insp.State
		if restarts < 0 {
			restarts = insp.RestartCount
		}
		if allowCompleted && st.Status == "exited" && st.ExitCode == 0 && insp.RestartCount == restarts {
			return true, "", nil
		}
		if !st.Running || st.Restarting || insp.RestartCount > restarts {
			return false, "", exitError(ctx, deps, in, insp)
		}
		switch {
		case probe != nil:
			err := probe.get(ctx)
			switch {
			case err == nil && ran >= g.minRunning:
				return true, "", nil
			case err == nil:
				failures = 0
				return false, fmt.Sprintf("probe passes; waiting for minReady (%v)", g.minRunning), nil
			case ctx.Err() != nil:
				return false, "probe interrupted", nil
			case ran < g.hc.StartPeriod:
				return false, "probe failed within the start period: " + err.Error(), nil
			}
			failures++
			last := fmt.Sprintf("%d probes of %s failed in a row, last: %v", failures, probe.url, err)
			if failures >= g.hc.FailureThreshold {
				return false, "", fmt.Errorf("container %s: %w: %s", in.Name, ErrUnhealthy, last)
			}
			return false, last, nil
		case st.Health != nil:
			done, status, err := dockerHealth(st, ran >= g.minRunning)
			if err != nil {
				return false, "", fmt.Errorf("container %s: %w", in.Name, err)
			}
			return done, status, nil
		default:
			min := g.minRunning
			if min == 0 {
				min = defaultMinRunning
			}
			return ran >= min, fmt.Sprintf("running for %v of %v", ran.Round(time.Millisecond), min), nil
		}
	})
}

// dockerHealth reads Docker's health status of a container with a health
// check.
func dockerHealth(st *container.State, ranLongEnough bool) (done bool, last string, err error) {
	var out string
	if n := len(st.Health.Log); n > 0 {
		p := st.Health.Log[n-1]
		out = fmt.Sprintf("last probe exit %d: %q", p.ExitCode, strings.TrimSpace(p.Output))
	}
	switch st.Health.Status {
	case container.Healthy:
		if ranLongEnough {
			return true, "", nil
		}
		return false, "healthy; waiting for minReady", nil
	case container.Unhealthy:
		return false, "", fmt.Errorf("%w: Docker reports the container unhealthy (%s)", ErrUnhealthy, out)
	default:
		return false, "health " + st.Health.Status + ", " + out, nil
	}
}

func startedAt(st *container.State) time.Time {
	t, err := time.Parse(time.RFC3339Nano, st.StartedAt)
	if err != nil || t.IsZero() || t.Year() < 2000 {
		return time.Now()
	}
	return t
}

// exitError says how the container ended, with the tail of its log.
func exitError(ctx context.Context, deps plugins.Deps, in instance, insp container.InspectResponse) error {
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
	err := fmt.Errorf("%w: container %s %s", ErrExited, in.Name, what)
	if logs := tailLogs(ctx, deps, in.ID); logs != "" {
		return fmt.Errorf("%w; last log lines:\n%s", err, logs)
	}
	return err
}

// tailLogs returns the last lines of the container's output, or "" when
// they cannot be read.
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

// prober sends the HTTP health probes of one container.
type prober struct {
	url    string
	client *http.Client
}

func newProber(url string, timeout time.Duration) *prober {
	return &prober{url: url, client: &http.Client{
		Timeout: timeout,
		// A fresh connection per probe, as a restarted server would see
		// it, and no proxy from the environment: the target is local.
		Transport: &http.Transport{DisableKeepAlives: true, Proxy: nil},
		// A redirect answer passes; following it could leave loopback.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// get probes once: any 2xx or 3xx answer passes.
func (p *prober) get(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.url, nil)
	if err != nil {
		return err
	}
	req.Header.Set("User-Agent", "tinyforge-health/1")
	resp, err := p.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode >= 400 {
		return fmt.Errorf("answered %s", resp.Status)
	}
	return nil
}

func (p *prober) close() { p.client.CloseIdleConnections() }
