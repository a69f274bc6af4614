package compose

import (
	"context"
	"fmt"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"

	"github.com/tinyforge/tinyforge/plugins"
	"github.com/tinyforge/tinyforge/plugins/source/internal/health"
)

// Why a container is not ready; match them with errors.Is. They are the
// values of the shared health package, so image matches them too.
var (
	// ErrUnhealthy: the HTTP probe failed FailureThreshold times in a row,
	// or Docker's own health check says unhealthy.
	ErrUnhealthy = health.ErrUnhealthy
	// ErrExited: the container exited (or Docker restarted it) while it
	// was awaited, or a one-shot service exited with a non-zero code.
	ErrExited = health.ErrExited
	// ErrProgressDeadline: the workload's progress deadline passed first.
	ErrProgressDeadline = health.ErrProgressDeadline
)

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
			done, status, cerr := c(ctx, insp, time.Since(health.StartedAt(insp.State)))
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
	return watch(ctx, deps, in, health.StatePollInterval, func(ctx context.Context, insp container.InspectResponse, _ time.Duration) (bool, string, error) {
		st := insp.State
		switch condition {
		case conditionCompleted:
			switch {
			case st.Running || st.Restarting:
				return false, "running", nil
			case st.Status == "exited" && st.ExitCode == 0:
				return true, "", nil
			case st.Status == "exited":
				return false, "", health.ExitError(ctx, deps, in.Name, in.ID, insp)
			}
			return false, "state " + st.Status, nil
		case conditionHealthy:
			if st.Health == nil {
				return false, "", fmt.Errorf("%w: container %s has no health check, and a dependant waits for it with condition service_healthy",
					ErrUnhealthy, in.Name)
			}
			if !st.Running || st.Restarting {
				return false, "", health.ExitError(ctx, deps, in.Name, in.ID, insp)
			}
			done, status, err := health.DockerHealth(st, true)
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
// (health.DefaultMinRunning when 0). The probe goes where the routes will
// (instance.upstream, with published from plugins.Deps.PublishedUpstreams),
// so what passes is what serves.
func newGate(st *stack, s *service, in instance, published bool) (gate, error) {
	hc := health.Check(st.w)
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
	pace := health.StatePollInterval
	var probe *health.Prober
	if g.probeURL != "" {
		probe = health.NewProber(g.probeURL, g.hc.Timeout)
		defer probe.Close()
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
			return false, "", health.ExitError(ctx, deps, in.Name, in.ID, insp)
		}
		switch {
		case probe != nil:
			err := probe.Get(ctx)
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
			last := fmt.Sprintf("%d probes of %s failed in a row, last: %v", failures, probe.URL(), err)
			if failures >= g.hc.FailureThreshold {
				return false, "", fmt.Errorf("container %s: %w: %s", in.Name, ErrUnhealthy, last)
			}
			return false, last, nil
		case st.Health != nil:
			done, status, err := health.DockerHealth(st, ran >= g.minRunning)
			if err != nil {
				return false, "", fmt.Errorf("container %s: %w", in.Name, err)
			}
			return done, status, nil
		default:
			min := g.minRunning
			if min == 0 {
				min = health.DefaultMinRunning
			}
			return ran >= min, fmt.Sprintf("running for %v of %v", ran.Round(time.Millisecond), min), nil
		}
	})
}
