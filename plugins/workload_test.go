package plugins

import (
	"slices"
	"testing"

	"k8s.io/apimachinery/pkg/types"
)

func TestWorkloadHelpers(t *testing.T) {
	w := Workload{
		Namespace: "shop",
		Name:      "web",
		Env:       []EnvVar{{Name: "A", Value: "1"}, {Name: "EMPTY"}, {Name: "EQ", Value: "x=y"}},
	}
	if got := w.NamespacedName(); got != (types.NamespacedName{Namespace: "shop", Name: "web"}) {
		t.Errorf("NamespacedName() = %v", got)
	}
	if got, want := w.EnvStrings(), []string{"A=1", "EMPTY=", "EQ=x=y"}; !slices.Equal(got, want) {
		t.Errorf("EnvStrings() = %q, want %q", got, want)
	}
	if got := (&Workload{}).EnvStrings(); got != nil {
		t.Errorf("EnvStrings() of no env = %q, want nil", got)
	}
}

func TestRouteKey(t *testing.T) {
	tests := []struct {
		name  string
		route Route
		want  RouteKey
	}{
		{name: "host and prefix", route: Route{Host: "shop.example", PathPrefix: "/api", Port: 80}, want: RouteKey{Host: "shop.example", PathPrefix: "/api"}},
		{name: "empty prefix is /", route: Route{Host: "shop.example", Port: 80}, want: RouteKey{Host: "shop.example", PathPrefix: "/"}},
		{name: "any host", route: Route{PathPrefix: "/", Port: 80}, want: RouteKey{PathPrefix: "/"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.route.Key(); got != tt.want {
				t.Errorf("Key() = %+v, want %+v", got, tt.want)
			}
		})
	}
	if got := (RouteKey{Host: "shop.example", PathPrefix: "/api"}).String(); got != "shop.example/api" {
		t.Errorf("RouteKey.String() = %q", got)
	}
}
