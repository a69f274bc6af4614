package proxy

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/tinyforge/tinyforge/api/v1alpha1"
)

func TestHealthCheckFromSpec(t *testing.T) {
	tests := []struct {
		name string
		spec *v1alpha1.HealthCheck
		want *HealthCheck
	}{
		{name: "none", spec: nil, want: nil},
		{name: "no path: the source decides", spec: &v1alpha1.HealthCheck{MinReadySeconds: 5}, want: nil},
		{
			name: "defaults",
			spec: &v1alpha1.HealthCheck{Path: "/healthz"},
			want: &HealthCheck{Path: "/healthz", Interval: 2 * time.Second, Timeout: 2 * time.Second, FailureThreshold: 3},
		},
		{
			name: "all set",
			spec: &v1alpha1.HealthCheck{
				Path: "/up", Interval: &metav1.Duration{Duration: time.Second},
				Timeout: &metav1.Duration{Duration: 500 * time.Millisecond}, FailureThreshold: 5,
			},
			want: &HealthCheck{Path: "/up", Interval: time.Second, Timeout: 500 * time.Millisecond, FailureThreshold: 5},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := HealthCheckFromSpec(tt.spec)
			if (got == nil) != (tt.want == nil) || (got != nil && *got != *tt.want) {
				t.Errorf("HealthCheckFromSpec = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestTargetStateString(t *testing.T) {
	for s, want := range map[TargetState]string{
		TargetAdding: "adding", TargetHealthy: "healthy", TargetUnhealthy: "unhealthy",
		TargetDraining: "draining", TargetDrained: "drained", TargetState(9): "TargetState(9)",
	} {
		if s.String() != want {
			t.Errorf("%d.String() = %q, want %q", int32(s), s.String(), want)
		}
	}
}
