package health

import (
	"errors"
	"strings"
	"testing"

	"github.com/docker/docker/api/types/container"
)

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
			done, last, err := DockerHealth(&container.State{Health: tt.health}, tt.ranLong)
			if done != tt.wantDone || (err != nil) != tt.wantErr || !strings.Contains(last, tt.wantLast) {
				t.Errorf("DockerHealth() = %v, %q, %v", done, last, err)
			}
			if err != nil && !errors.Is(err, ErrUnhealthy) {
				t.Errorf("error %v is not ErrUnhealthy", err)
			}
		})
	}
}
