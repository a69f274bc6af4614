package image

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"

	"github.com/tinyforge/tinyforge/internal/docker/dockertest"
	"github.com/tinyforge/tinyforge/plugins"
)

func TestProber(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ok":
		case "/redirect":
			http.Redirect(w, r, "http://192.0.2.1/elsewhere", http.StatusFound)
		case "/slow":
			time.Sleep(300 * time.Millisecond)
		case "/missing":
			http.NotFound(w, r)
		default:
			http.Error(w, "unhealthy", http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	tests := []struct {
		path    string
		wantErr string
	}{
		{path: "/ok"},
		{path: "/redirect"},
		{path: "/missing", wantErr: "404"},
		{path: "/fail", wantErr: "503"},
		{path: "/slow", wantErr: "Timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			p := newProber(srv.URL+tt.path, 100*time.Millisecond)
			defer p.close()
			err := p.get(context.Background())
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("get(%s) = %v, want %q", tt.path, err, tt.wantErr)
			}
		})
	}
}

func TestDockerHealth(t *testing.T) {
	probe := []*container.HealthcheckResult{{ExitCode: 1, Output: "503 unhealthy\n"}}
	tests := []struct {
		name     string
		health   *container.Health
		ranLong  bool
		wantDone bool
		wantErr  bool
		wantLast string
	}{
		{name: "no status yet", wantLast: "no health status yet"},
		{name: "starting", health: &container.Health{Status: container.Starting, Log: probe}, wantLast: `health starting, last probe exit 1: "503 unhealthy"`},
		{name: "healthy", health: &container.Health{Status: container.Healthy}, ranLong: true, wantDone: true},
		{name: "healthy too early", health: &container.Health{Status: container.Healthy}, wantLast: "waiting for minReady"},
		{name: "unhealthy", health: &container.Health{Status: container.Unhealthy, Log: probe}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			done, last, err := dockerHealth(&container.State{Health: tt.health}, tt.ranLong)
			if done != tt.wantDone || (err != nil) != tt.wantErr || !strings.Contains(last, tt.wantLast) {
				t.Errorf("dockerHealth() = %v, %q, %v", done, last, err)
			}
			if err != nil && !errors.Is(err, ErrUnhealthy) {
				t.Errorf("error %v is not ErrUnhealthy", err)
			}
		})
	}
}

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
