package image

import (
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/docker/go-connections/nat"

	"github.com/tinyforge/tinyforge/plugins"
)

func TestContainerName(t *testing.T) {
	rev := "sha256:0123456789abcdef" + strings.Repeat("0", 48)
	valid := regexp.MustCompile(`^[a-z0-9][a-z0-9.-]*-0123456789ab-[a-z0-9]{5}$`)
	for _, w := range []plugins.Workload{
		{Namespace: "shop", Name: "web"},
		{Namespace: strings.Repeat("n", 63), Name: "web"},
		{Namespace: "shop", Name: strings.Repeat("a.", 100) + "b"},
	} {
		name := containerName(w, rev)
		if len(name) > maxNameLength || !valid.MatchString(name) || !strings.HasPrefix(name, "tf-") {
			t.Errorf("containerName(%s/%s) = %q", w.Namespace, w.Name, name)
		}
	}
	a, b := containerName(plugins.Workload{Namespace: "shop", Name: "web"}, rev), containerName(plugins.Workload{Namespace: "shop", Name: "web"}, rev)
	if a == b {
		t.Errorf("two names are the same: %s", a)
	}
	if got := shortID("abc"); got != "abc" {
		t.Errorf("shortID(abc) = %q", got)
	}
}

func TestNewRunSpec(t *testing.T) {
	var exposed resolvedImage
	if err := json.Unmarshal([]byte(`{"Config":{"ExposedPorts":{"9000/tcp":{},"53/udp":{}}}}`), &exposed.inspect); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		config    string
		w         plugins.Workload
		img       resolvedImage
		wantPorts []nat.Port
		wantProbe nat.Port
		wantErr   string
	}{
		{
			name:      "route and health ports are added",
			config:    `{"image":"web","ports":[{"containerPort":53,"protocol":"udp"},{"containerPort":8080}]}`,
			w:         plugins.Workload{Routes: []plugins.Route{{Port: 8081}, {Port: 8080}}, HealthCheck: plugins.HealthCheck{Path: "/h", Port: 9999}},
			wantPorts: []nat.Port{"53/udp", "8080/tcp", "8081/tcp", "9999/tcp"},
			wantProbe: "9999/tcp",
		},
		{
			name:      "probe on the first route",
			config:    `{"image":"web"}`,
			w:         plugins.Workload{Routes: []plugins.Route{{Port: 3000}}, HealthCheck: plugins.HealthCheck{Path: "/h"}},
			wantPorts: []nat.Port{"3000/tcp"},
			wantProbe: "3000/tcp",
		},
		{
			name:      "probe on the first TCP config port",
			config:    `{"image":"web","ports":[{"containerPort":53,"protocol":"udp"},{"containerPort":80}]}`,
			w:         plugins.Workload{HealthCheck: plugins.HealthCheck{Path: "/h"}},
			wantPorts: []nat.Port{"53/udp", "80/tcp"},
			wantProbe: "80/tcp",
		},
		{
			name:      "exposed ports when nothing else",
			config:    `{"image":"web"}`,
			img:       exposed,
			w:         plugins.Workload{HealthCheck: plugins.HealthCheck{Path: "/h"}},
			wantPorts: []nat.Port{"53/udp", "9000/tcp"},
			wantProbe: "9000/tcp",
		},
		{
			name:    "nothing to probe",
			config:  `{"image":"web","ports":[{"containerPort":53,"protocol":"udp"}]}`,
			w:       plugins.Workload{HealthCheck: plugins.HealthCheck{Path: "/h"}},
			wantErr: "no TCP port to probe",
		},
		{
			name:      "no probe without a path",
			config:    `{"image":"web"}`,
			wantPorts: nil,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set, errs := parseConfig(testPath, []byte(tt.config))
			if len(errs) > 0 {
				t.Fatal(errs)
			}
			sp, err := newRunSpec(tt.w, set, tt.img)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("newRunSpec() error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(sp.ports, tt.wantPorts) || sp.probe != tt.wantProbe {
				t.Errorf("ports %v probe %q, want %v %q", sp.ports, sp.probe, tt.wantPorts, tt.wantProbe)
			}
		})
	}
}

func TestConfigHash(t *testing.T) {
	parse := func(c string) *settings {
		set, errs := parseConfig(testPath, []byte(c))
		if len(errs) > 0 {
			t.Fatal(errs)
		}
		return set
	}
	w := plugins.Workload{Routes: []plugins.Route{{Host: "a", PathPrefix: "/", Port: 80}}}
	base := configHash(parse(`{"image":"web:1"}`), w)
	same := []string{
		`{"image":"web:2"}`,
		`{"image":"web:1","pullPolicy":"Always","registryAuthSecret":"x"}`,
		`{"image":"web:1","restartPolicy":"unless-stopped","stopTimeout":"10s"}`,
	}
	for _, c := range same {
		if got := configHash(parse(c), w); got != base {
			t.Errorf("hash of %s = %s, want %s: only where the image comes from differs", c, got, base)
		}
	}
	different := []string{
		`{"image":"web:1","args":["-x"]}`,
		`{"image":"web:1","restartPolicy":"no"}`,
		`{"image":"web:1","stopTimeout":"11s"}`,
		`{"image":"web:1","labels":{"a":"b"}}`,
	}
	for _, c := range different {
		if got := configHash(parse(c), w); got == base {
			t.Errorf("hash of %s = the base's", c)
		}
	}
	w2 := w
	w2.Env = []plugins.EnvVar{{Name: "A", Value: "1"}}
	w3 := w
	w3.HealthCheck.Path = "/healthz"
	for _, other := range []plugins.Workload{w2, w3, {}} {
		if configHash(parse(`{"image":"web:1"}`), other) == base {
			t.Errorf("hash ignores a change of %+v", other)
		}
	}
}

func TestInstanceEndpoints(t *testing.T) {
	in := instance{addrs: map[nat.Port]string{"9000/tcp": "127.0.0.1:3", "80/tcp": "127.0.0.1:1", "53/udp": "127.0.0.1:2"}}
	if got := in.endpoints(); !slices.Equal(got, []string{"127.0.0.1:1", "127.0.0.1:3"}) {
		t.Errorf("endpoints() = %v", got)
	}
}

func TestInstanceUpstream(t *testing.T) {
	published := map[nat.Port]string{"80/tcp": "127.0.0.1:32768"}
	tests := []struct {
		name      string
		in        instance
		port      nat.Port
		published bool
		want      string
		wantOK    bool
	}{
		{name: "container address", in: instance{ip: "172.17.0.2", addrs: published}, port: "80/tcp", want: "172.17.0.2:80", wantOK: true},
		{name: "container address of a port not published", in: instance{ip: "172.17.0.2", addrs: published}, port: "9000/tcp", want: "172.17.0.2:9000", wantOK: true},
		{name: "opted out", in: instance{ip: "172.17.0.2", addrs: published}, port: "80/tcp", published: true, want: "127.0.0.1:32768", wantOK: true},
		{name: "no network address", in: instance{addrs: published}, port: "80/tcp", want: "127.0.0.1:32768", wantOK: true},
		{name: "IPv6 address", in: instance{ip: "fd00::2", addrs: published}, port: "80/tcp", want: "[fd00::2]:80", wantOK: true},
		{name: "neither", in: instance{addrs: published}, port: "9000/tcp"},
		{name: "opted out, not published", in: instance{ip: "172.17.0.2", addrs: published}, port: "9000/tcp", published: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := tt.in.upstream(tt.port, tt.published)
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("upstream(%s, %t) = %q, %t; want %q, %t", tt.port, tt.published, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}
