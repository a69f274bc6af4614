package health

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/docker/docker/api/types/container"

	"github.com/tinyforge/tinyforge/plugins"
)

// Why a container is not healthy; match them with errors.Is. The source
// plugins re-export them under their own names.
var (
	// ErrUnhealthy: the HTTP probe failed FailureThreshold times in a row,
	// or Docker's own health check says unhealthy.
	ErrUnhealthy = errors.New("health check failed")
	// ErrExited: the container exited (or Docker restarted it) while it
	// was awaited.
	ErrExited = errors.New("container exited")
	// ErrProgressDeadline: the workload's progress deadline passed first.
	ErrProgressDeadline = errors.New("progress deadline exceeded")
)

const (
	// DefaultMinRunning is how long a container without any health check
	// must run before it counts as healthy, when minReadySeconds is 0.
	DefaultMinRunning = 2 * time.Second
	// StatePollInterval is how often a container's state is looked at when
	// no HTTP probe paces the wait.
	StatePollInterval = 100 * time.Millisecond
)

// ProgressContext bounds ctx by the workload's progress deadline d counted
// from now, whose passing context.Cause reports as ErrProgressDeadline. A
// d of 0 or less means no deadline.
func ProgressContext(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if d <= 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeoutCause(ctx, d, fmt.Errorf("%w (%v)", ErrProgressDeadline, d))
}

// ProgressContextFrom is ProgressContext with the deadline counted from
// start instead of now, for a rollout whose earlier steps (such as a build)
// spend the same budget.
func ProgressContextFrom(ctx context.Context, d time.Duration, start time.Time) (context.Context, context.CancelFunc) {
	if d <= 0 {
		return context.WithCancel(ctx)
	}
	return context.WithDeadlineCause(ctx, start.Add(d), fmt.Errorf("%w (%v)", ErrProgressDeadline, d))
}

// Check is w.HealthCheck with zero values replaced by the API's defaults,
// for callers that built a Workload by hand.
func Check(w plugins.Workload) plugins.HealthCheck {
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

// DockerHealth reads Docker's health status of a container whose image or
// config has a health check. It is done once Docker says healthy and
// ranLongEnough (the workload's minReady) holds; err wraps ErrUnhealthy
// when Docker says unhealthy; otherwise last says what it waits for.
func DockerHealth(st *container.State, ranLongEnough bool) (done bool, last string, err error) {
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

// StartedAt is when the container last started, or now when Docker does
// not say (a container never started reports the zero time), so that a
// wait for minReady starts rather than passes.
func StartedAt(st *container.State) time.Time {
	t, err := time.Parse(time.RFC3339Nano, st.StartedAt)
	if err != nil || t.IsZero() || t.Year() < 2000 {
		return time.Now()
	}
	return t
}
