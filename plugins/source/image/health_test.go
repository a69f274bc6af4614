package image

import (
	"errors"
	"testing"
	"time"

	"github.com/tinyforge/tinyforge/internal/docker/dockertest"
	"github.com/tinyforge/tinyforge/plugins"
)

// The health check's timings: the progress deadline bounds the wait,
// failures within the start period do not count, and minReady delays a
// healthy verdict.
func TestHealthTimings(t *testing.T) {
	e := newEnv(t)
	ref, _ := e.build("v1", dockertest.WithVersion("v1"))
	tests := []struct {
		name    string
		opts    []func(*plugins.Workload)
		wantErr error
		atLeast time.Duration
		atMost  time.Duration
	}{
		{
			name: "progress deadline",
			opts: []func(*plugins.Workload){withEnv("SLOW_START", "30s"), func(w *plugins.Workload) {
				w.Strategy.ProgressDeadline = 1500 * time.Millisecond
				w.HealthCheck.StartPeriod = time.Minute
			}},
			wantErr: ErrProgressDeadline, atLeast: 1500 * time.Millisecond, atMost: 10 * time.Second,
		},
		{
			name: "start period",
			opts: []func(*plugins.Workload){withEnv("FAIL_HEALTH", "1"), func(w *plugins.Workload) {
				w.HealthCheck.StartPeriod = 1500 * time.Millisecond
				w.HealthCheck.FailureThreshold = 1
			}},
			wantErr: ErrUnhealthy, atLeast: 1500 * time.Millisecond, atMost: 10 * time.Second,
		},
		{
			name:    "min ready",
			opts:    []func(*plugins.Workload){func(w *plugins.Workload) { w.HealthCheck.MinReady = 1500 * time.Millisecond }},
			atLeast: 1500 * time.Millisecond, atMost: 10 * time.Second,
		},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := e.workload("t"+string(rune('a'+i)), ref, tt.opts...)
			start := time.Now()
			_, err := e.src.Deploy(e.ctx, e.deps, w, plugins.DeploymentIntent{})
			took := time.Since(start)
			t.Logf("took %v: %v", took.Round(time.Millisecond), err)
			if tt.wantErr == nil && err != nil || tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("Deploy() = %v, want %v", err, tt.wantErr)
			}
			if took < tt.atLeast || took > tt.atMost {
				t.Errorf("Deploy() took %v, want from %v to %v", took, tt.atLeast, tt.atMost)
			}
		})
	}
}
