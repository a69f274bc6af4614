package image

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

// Why a container is not healthy; match them with errors.Is.
var (
	// ErrUnhealthy: the HTTP probe failed FailureThreshold times in a row,
	// or Docker's own HEALTHCHECK says unhealthy.
	ErrUnhealthy = errors.New("health check failed")
	// ErrExited: the container exited (or Docker restarted it) while its
	// health was awaited.
	ErrExited = errors.New("container exited")
	// ErrProgressDeadline: the workload's progress deadline passed first.
	ErrProgressDeadline = errors.New("progress deadline exceeded")
)

const (
	// defaultMinRunning is how long a container without any health check
	// must run before it counts as healthy, when minReadySeconds is 0.
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

// healthMode is how a container's health is decided.
type healthMode int

const (
	// healthHTTP probes HealthCheck.Path over HTTP.
	healthHTTP healthMode = iota
	// healthDocker follows the image's HEALTHCHECK.
	healthDocker
	// healthRunning only asks the container to keep running a while.
	healthRunning
)

func (sp *runSpec) healthMode() healthMode {
	switch {
	case sp.probe != "":
		return healthHTTP
	case sp.image.inspect.Config != nil && sp.image.inspect.Config.Healthcheck != nil &&
		len(sp.image.inspect.Config.Healthcheck.Test) > 0 && sp.image.inspect.Config.Healthcheck.Test[0] != "NONE":
		return healthDocker
	default:
		return healthRunning
	}
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

// waitHealthy waits until the container in passes the workload's health
// check: its HTTP probe when the workload has a path, else the image's
// HEALTHCHECK, else running for minReady (defaultMinRunning when 0). It
// returns an error wrapping ErrExited when the container exits or
// restarts, ErrUnhealthy when the check fails for good, and the cause of
// ctx (ErrProgressDeadline) when ctx ends first.
func waitHealthy(ctx context.Context, deps plugins.Deps, sp *runSpec, in instance) error {
	hc := healthCheck(sp.w)
	mode := sp.healthMode()
	pace := statePollInterval
	var probe *prober
	if mode == healthHTTP {
		// The address the routes will use, so what passes is what serves.
		addr, ok := in.upstream(sp.probe, deps.PublishedUpstreams)
		if !ok {
			return fmt.Errorf("container %s has no network address and publishes no host port for the health check port %s", in.Name, sp.probe)
		}
		probe = newProber("http://"+addr+hc.Path, hc.Timeout)
		defer probe.close()
		pace = hc.Interval
	}
	minRunning := hc.MinReady
	if mode == healthRunning && minRunning == 0 {
		minRunning = defaultMinRunning
	}

	log := deps.Log.WithValues("container", in.Name)
	var logged time.Time
	restarts := -1
	failures := int32(0)
	last := "not inspected yet"
	for {
		insp, err := deps.Docker.ContainerInspect(ctx, in.ID)
		switch {
		case cerrdefs.IsNotFound(err):
			return fmt.Errorf("%w: container %s was removed", ErrExited, in.Name)
		case err != nil && ctx.Err() == nil:
			last = "inspecting: " + err.Error()
		case err == nil:
			st := insp.State
			if restarts < 0 {
				restarts = insp.RestartCount
			}
			if st == nil || !st.Running || st.Restarting || insp.RestartCount > restarts {
				return exitError(ctx, deps, in, insp, restarts)
			}
			ran := time.Since(startedAt(st))
			var done bool
			var failed error
			switch mode {
			case healthHTTP:
				perr := probe.get(ctx)
				switch {
				case perr == nil && ran >= minRunning:
					done = true
				case perr == nil:
					failures, last = 0, fmt.Sprintf("probe passes; waiting for minReady (%v)", minRunning)
				case ctx.Err() != nil:
				case ran < hc.StartPeriod:
					last = "probe failed within the start period: " + perr.Error()
				default:
					failures++
					last = fmt.Sprintf("%d probes of %s failed in a row, last: %v", failures, probe.url, perr)
					if failures >= hc.FailureThreshold {
						failed = fmt.Errorf("%w: %s", ErrUnhealthy, last)
					}
				}
			case healthDocker:
				done, last, failed = dockerHealth(st, ran >= minRunning)
			case healthRunning:
				done = ran >= minRunning
				last = fmt.Sprintf("running for %v of %v", ran.Round(time.Millisecond), minRunning)
			}
			if failed != nil {
				return fmt.Errorf("container %s: %w", in.Name, failed)
			}
			if done {
				log.V(1).Info("Container is healthy", "after", ran.Round(time.Millisecond))
				return nil
			}
			if time.Since(logged) >= time.Second {
				log.V(1).Info("Waiting for health", "status", last)
				logged = time.Now()
			}
		}
		t := time.NewTimer(pace)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("container %s not healthy: %w; last: %s", in.Name, context.Cause(ctx), last)
		case <-t.C:
		}
	}
}

// dockerHealth reads Docker's health status of a HEALTHCHECK image.
func dockerHealth(st *container.State, ranLongEnough bool) (done bool, last string, err error) {
	if st.Health == nil {
		return false, "no health status yet", nil
	}
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
	if err != nil {
		return time.Now()
	}
	return t
}

// exitError says how the container ended, with the tail of its log.
func exitError(ctx context.Context, deps plugins.Deps, in instance, insp container.InspectResponse, restarts int) error {
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
	// Containers without a TTY multiplex stdout and stderr.
	if _, err := stdcopy.StdCopy(&buf, &buf, io.LimitReader(rc, 1<<20)); err != nil && buf.Len() == 0 {
		return ""
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
