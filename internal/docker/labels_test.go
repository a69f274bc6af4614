package docker

import (
	"maps"
	"slices"
	"testing"
)

func TestLabels(t *testing.T) {
	tests := []struct {
		name                         string
		namespace, workload, rev, ro string
		want                         map[string]string
	}{
		{
			name:      "all labels",
			namespace: "shop", workload: "web", rev: "sha256:abc", ro: "web-7f3c",
			want: map[string]string{
				"app.kubernetes.io/managed-by": "tinyforge",
				"tinyforge.dev/namespace":      "shop",
				"tinyforge.dev/workload":       "web",
				"tinyforge.dev/revision":       "sha256:abc",
				"tinyforge.dev/rollout":        "web-7f3c",
			},
		},
		{
			name:      "shared objects leave revision and rollout out",
			namespace: "shop", workload: "web",
			want: map[string]string{
				"app.kubernetes.io/managed-by": "tinyforge",
				"tinyforge.dev/namespace":      "shop",
				"tinyforge.dev/workload":       "web",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Labels(tt.namespace, tt.workload, tt.rev, tt.ro)
			if !maps.Equal(got, tt.want) {
				t.Errorf("Labels() = %v, want %v", got, tt.want)
			}
		})
	}
	a := Labels("shop", "web", "", "")
	a["extra"] = "x"
	if _, ok := Labels("shop", "web", "", "")["extra"]; ok {
		t.Error("Labels() returned a shared map")
	}
}

func TestFilters(t *testing.T) {
	tests := []struct {
		name string
		got  []string
		want []string
	}{
		{
			name: "managed",
			got:  ManagedFilter().Get("label"),
			want: []string{"app.kubernetes.io/managed-by=tinyforge"},
		},
		{
			name: "workload",
			got:  WorkloadFilter("shop", "web").Get("label"),
			want: []string{
				"app.kubernetes.io/managed-by=tinyforge",
				"tinyforge.dev/namespace=shop",
				"tinyforge.dev/workload=web",
			},
		},
		{
			name: "revision",
			got:  RevisionFilter("shop", "web", "sha256:abc").Get("label"),
			want: []string{
				"app.kubernetes.io/managed-by=tinyforge",
				"tinyforge.dev/namespace=shop",
				"tinyforge.dev/revision=sha256:abc",
				"tinyforge.dev/workload=web",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			slices.Sort(tt.got)
			if !slices.Equal(tt.got, tt.want) {
				t.Errorf("labels = %q, want %q", tt.got, tt.want)
			}
		})
	}
}
