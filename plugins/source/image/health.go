package image

import (
	"context"
	"fmt"
	"time"

	cerrdefs "github.com/containerd/errdefs"

	"github.com/tinyforge/tinyforge/plugins"
	"github.com/tinyforge/tinyforge/plugins/source/internal/health"
)

// Why a container is not healthy; match them with errors.Is. They are the
// values of the shared health package, so compose matches them too.
var (
	// ErrUnhealthy: the HTTP probe failed FailureThreshold times in a row,
	// or Docker's own HEALTHCHECK says unhealthy.
	ErrUnhealthy = health.ErrUnhealthy
	// ErrExited: the container exited (or Docker restarted it) while its
	// health was awaited.
	ErrExited = health.ErrExited
	// ErrProgressDeadline: the workload's progress deadline passed first.
	ErrProgressDeadline = health.ErrProgressDeadline
)

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

// waitHealthy waits until the container in passes the workload's health
// check: its HTTP probe when the workload has a path, else the image's
// HEALTHCHECK, else running for minReady (health.DefaultMinRunning when
// 0). It returns an error wrapping ErrExited when the container exits or
// restarts, ErrUnhealthy when the check fails for good, and the cause of
// ctx (ErrProgressDeadline) when ctx ends first.
func waitHealthy(ctx context.Context, deps plugins.Deps, sp *runSpec, in instance) error {
	hc := health.Check(sp.w)
	mode := sp.healthMode()
	pace := health.StatePollInterval
	var probe *health.Prober
	if mode == healthHTTP {
		// The address the routes will use, so what passes is what serves.
		addr, ok := in.upstream(sp.probe, deps.PublishedUpstreams)
		if !ok {
			return fmt.Errorf("container %s has no network address and publishes no host port for the health check port %s", in.Name, sp.probe)
		}
		probe = health.NewProber("http://"+addr+hc.Path, hc.Timeout)
		defer probe.Close()
		pace = hc.Interval
	}
	minRunning := hc.MinReady
	if mode == healthRunning && minRunning == 0 {
		minRunning = health.DefaultMinRunning
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
				return health.ExitError(ctx, deps, in.Name, in.ID, insp)
			}
			ran := time.Since(health.StartedAt(st))
			var done bool
			var failed error
			switch mode {
			case healthHTTP:
				perr := probe.Get(ctx)
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
					last = fmt.Sprintf("%d probes of %s failed in a row, last: %v", failures, probe.URL(), perr)
					if failures >= hc.FailureThreshold {
						failed = fmt.Errorf("%w: %s", ErrUnhealthy, last)
					}
				}
			case healthDocker:
				done, last, failed = health.DockerHealth(st, ran >= minRunning)
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
