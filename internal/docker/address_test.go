package docker

import (
	"testing"

	"github.com/docker/docker/api/types/network"
)

func TestContainerIP(t *testing.T) {
	ep := func(ip string) *network.EndpointSettings { return &network.EndpointSettings{IPAddress: ip} }
	notInternal := func(name string) bool { return name != "internal" }
	tests := []struct {
		name     string
		networks map[string]*network.EndpointSettings
		usable   func(string) bool
		want     string
	}{
		{name: "no networks", want: ""},
		{name: "default bridge", networks: map[string]*network.EndpointSettings{"bridge": ep("172.17.0.2")}, want: "172.17.0.2"},
		{name: "network mode host", networks: map[string]*network.EndpointSettings{"host": ep("")}, want: ""},
		{name: "network mode none", networks: map[string]*network.EndpointSettings{"none": ep("")}, want: ""},
		{name: "nil endpoint", networks: map[string]*network.EndpointSettings{"a": nil, "b": ep("10.0.0.2")}, want: "10.0.0.2"},
		{
			name:     "first network by name",
			networks: map[string]*network.EndpointSettings{"web_front": ep("10.1.0.2"), "web_back": ep("10.2.0.2"), "web_default": ep("10.3.0.2")},
			want:     "10.2.0.2",
		},
		{
			name:     "skips networks without an address",
			networks: map[string]*network.EndpointSettings{"a": ep(""), "b": ep("10.2.0.2")},
			want:     "10.2.0.2",
		},
		{
			name:     "skips unusable networks",
			networks: map[string]*network.EndpointSettings{"internal": ep("10.1.0.2"), "public": ep("10.2.0.2")},
			usable:   notInternal,
			want:     "10.2.0.2",
		},
		{
			name:     "only unusable networks",
			networks: map[string]*network.EndpointSettings{"internal": ep("10.1.0.2")},
			usable:   notInternal,
			want:     "",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Map order varies between runs: ask several times.
			for range 5 {
				if got := ContainerIP(tt.networks, tt.usable); got != tt.want {
					t.Fatalf("ContainerIP() = %q, want %q", got, tt.want)
				}
			}
		})
	}
}
