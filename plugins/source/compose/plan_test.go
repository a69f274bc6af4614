package compose

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/go-connections/nat"

	"github.com/tinyforge/tinyforge/plugins"
)

// testStack loads doc as workload ns/app, with every image resolved to a
// fake ID, or fails the test.
func testStack(t *testing.T, doc string, opts ...func(*plugins.Workload)) *stack {
	t.Helper()
	st, err := tryStack(doc, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func tryStack(doc string, opts ...func(*plugins.Workload)) (*stack, error) {
	w := plugins.Workload{Namespace: "ns", Name: "app", Config: []byte(inline(doc)),
		Strategy: plugins.Strategy{Type: plugins.StrategyBlueGreen}}
	for _, o := range opts {
		o(&w)
	}
	set, errs := parseConfig(testPath, w.Config)
	if len(errs) > 0 {
		return nil, errs.ToAggregate()
	}
	st, err := loadStack(context.Background(), w, set, gitPin{})
	if err != nil {
		return nil, err
	}
	for _, s := range st.services {
		s.image = resolvedImage{id: "sha256:" + s.cfg.Image, display: s.cfg.Image}
	}
	st.setRevision()
	return st, nil
}

// Every supported compose attribute reaches Docker's create options.
func TestContainerSpec(t *testing.T) {
	st := testStack(t, `
services:
  web:
    image: web
    command: ["serve", "--port", "80"]
    entrypoint: []
    environment: {A: "1", FROM_SPEC: null, UNSET: null}
    ports: ["8080:80", "81", "0.0.0.0:9000:9000/udp", {target: 82, host_ip: "::1"}]
    expose: ["3000"]
    volumes:
      - data:/data:ro
      - /srv/x:/x
      - {type: bind, source: /srv/y, target: /y, bind: {create_host_path: false, propagation: rshared}}
      - {type: tmpfs, target: /t, tmpfs: {size: 1048576, mode: 0o1777}}
      - {type: volume, source: data, target: /nocopy, volume: {nocopy: true}}
    tmpfs: ["/run:size=64m"]
    healthcheck: {test: ["CMD", "/x"], interval: 2s, timeout: 3s, retries: 4, start_period: 5s}
    restart: on-failure:3
    user: "1000:1000"
    working_dir: /app
    hostname: www
    stop_signal: SIGINT
    stop_grace_period: 1500ms
    tty: true
    stdin_open: true
    init: true
    read_only: true
    extra_hosts: ["db.local=10.0.0.2"]
    cap_drop: [ALL]
    mem_limit: 64m
    cpus: 1.5
    logging: {driver: json-file, options: {max-size: 10m}}
    labels: {com.example.team: shop}
    networks:
      default:
      back: {aliases: [api]}
  quiet:
    image: quiet
    network_mode: none
    healthcheck: {disable: true}
networks:
  back: {}
volumes:
  data: {}
`, withEnv("FROM_SPEC", "spec-value"), withRoute("", "web", 80), withRoute("api.test", "web", 8443),
		func(w *plugins.Workload) { w.HealthCheck = plugins.HealthCheck{Path: "/healthz", Port: 9999} })
	if st.project.Name != "ns-app" {
		t.Errorf("project = %q, want ns-app", st.project.Name)
	}
	web := st.services["web"]
	spec, err := st.containerSpec(web)
	if err != nil {
		t.Fatal(err)
	}
	c, h := spec.config, spec.host

	if c.Image != "sha256:web" || strings.Join(c.Cmd, " ") != "serve --port 80" || len(c.Entrypoint) != 1 || c.Entrypoint[0] != "" {
		t.Errorf("image %q, cmd %q, entrypoint %q", c.Image, c.Cmd, c.Entrypoint)
	}
	if got := strings.Join(c.Env, ","); got != "A=1,FROM_SPEC=spec-value" {
		t.Errorf("env = %s, want A and FROM_SPEC from spec.env, UNSET left out", got)
	}
	if c.User != "1000:1000" || c.WorkingDir != "/app" || c.Hostname != "www" || c.StopSignal != "SIGINT" ||
		c.StopTimeout == nil || *c.StopTimeout != 2 || !c.Tty || !c.OpenStdin {
		t.Errorf("config = %+v", c)
	}
	wantHC := &container.HealthConfig{Test: []string{"CMD", "/x"}, Interval: 2 * time.Second, Timeout: 3 * time.Second, StartPeriod: 5 * time.Second, Retries: 4}
	if hc := c.Healthcheck; hc == nil || !slices.Equal(hc.Test, wantHC.Test) || hc.Interval != wantHC.Interval || hc.Timeout != wantHC.Timeout ||
		hc.StartPeriod != wantHC.StartPeriod || hc.Retries != wantHC.Retries {
		t.Errorf("healthcheck = %+v, want %+v", c.Healthcheck, wantHC)
	}
	wantPorts := map[nat.Port][]nat.PortBinding{
		"80/tcp":   {{HostIP: "127.0.0.1", HostPort: "8080"}},
		"81/tcp":   {{HostIP: "127.0.0.1"}},
		"9000/udp": {{HostIP: "0.0.0.0", HostPort: "9000"}},
		"82/tcp":   {{HostIP: "::1"}},
		"8443/tcp": {{HostIP: "127.0.0.1"}},
		"9999/tcp": {{HostIP: "127.0.0.1"}},
	}
	for p, want := range wantPorts {
		if got := h.PortBindings[p]; !slices.Equal(got, want) {
			t.Errorf("port %s bound to %+v, want %+v", p, got, want)
		}
		if _, ok := c.ExposedPorts[p]; !ok {
			t.Errorf("port %s not exposed", p)
		}
	}
	if len(h.PortBindings) != len(wantPorts) {
		t.Errorf("port bindings = %+v", h.PortBindings)
	}
	if _, ok := c.ExposedPorts["3000/tcp"]; !ok {
		t.Errorf("expose 3000 missing: %v", c.ExposedPorts)
	}
	if web.probe != 9999 || !web.fixedPorts || !web.stateful || st.blueGreen(web) {
		t.Errorf("web: probe %d, fixed ports %t, stateful %t, blue-green %t", web.probe, web.fixedPorts, web.stateful, st.blueGreen(web))
	}

	wantMounts := []mount.Mount{
		{Type: mount.TypeVolume, Source: "ns-app_data", Target: "/data", ReadOnly: true},
		{Type: mount.TypeBind, Source: "/srv/y", Target: "/y", BindOptions: &mount.BindOptions{Propagation: mount.PropagationRShared}},
		{Type: mount.TypeTmpfs, Target: "/t", TmpfsOptions: &mount.TmpfsOptions{SizeBytes: 1 << 20, Mode: 0o1777}},
		{Type: mount.TypeVolume, Source: "ns-app_data", Target: "/nocopy", VolumeOptions: &mount.VolumeOptions{NoCopy: true}},
	}
	if len(h.Mounts) != len(wantMounts) {
		t.Fatalf("mounts = %+v", h.Mounts)
	}
	for i, m := range wantMounts {
		got := h.Mounts[i]
		if got.Type != m.Type || got.Source != m.Source || got.Target != m.Target || got.ReadOnly != m.ReadOnly ||
			(m.BindOptions != nil) != (got.BindOptions != nil) || (m.VolumeOptions != nil) != (got.VolumeOptions != nil) ||
			m.TmpfsOptions != nil && (got.TmpfsOptions == nil || got.TmpfsOptions.SizeBytes != m.TmpfsOptions.SizeBytes || got.TmpfsOptions.Mode != m.TmpfsOptions.Mode) {
			t.Errorf("mount %d = %+v, want %+v", i, got, m)
		}
	}
	if !slices.Equal(h.Binds, []string{"/srv/x:/x:rw"}) || h.Tmpfs["/run"] != "size=64m" {
		t.Errorf("binds %v, tmpfs %v", h.Binds, h.Tmpfs)
	}
	if h.RestartPolicy.Name != container.RestartPolicyOnFailure || h.RestartPolicy.MaximumRetryCount != 3 ||
		h.Init == nil || !*h.Init || !h.ReadonlyRootfs || !slices.Equal(h.ExtraHosts, []string{"db.local:10.0.0.2"}) ||
		!slices.Equal(h.CapDrop, []string{"ALL"}) || h.Memory != 64<<20 || h.NanoCPUs != 1_500_000_000 ||
		h.LogConfig.Type != "json-file" || h.LogConfig.Config["max-size"] != "10m" {
		t.Errorf("host config = %+v", h)
	}
	if h.NetworkMode != "ns-app_back" && h.NetworkMode != "ns-app_default" || len(spec.networks) != 2 {
		t.Fatalf("network mode %q, networks %+v", h.NetworkMode, spec.networks)
	}
	for _, a := range spec.networks {
		want := []string{"web"}
		if a.name == "ns-app_back" {
			want = []string{"web", "api"}
		}
		if !slices.Equal(a.endpoint.Aliases, want) {
			t.Errorf("network %s aliases %v, want %v", a.name, a.endpoint.Aliases, want)
		}
	}
	labels := st.containerLabels(web, 2, "app-g1")
	for k, v := range map[string]string{
		LabelProject: "ns-app", LabelService: "web", LabelNumber: "2", LabelOneoff: "False", LabelConfigHash: web.hash,
		LabelImage: "sha256:web", LabelWorkingDir: virtualRoot + "/ns/app", LabelConfigFiles: virtualRoot + "/ns/app/compose.yaml",
		"com.example.team": "shop", "tinyforge.dev/revision": st.revision, "tinyforge.dev/rollout": "app-g1",
	} {
		if labels[k] != v {
			t.Errorf("label %s = %q, want %q", k, labels[k], v)
		}
	}

	quiet, err := st.containerSpec(st.services["quiet"])
	if err != nil {
		t.Fatal(err)
	}
	if quiet.host.NetworkMode != "none" || len(quiet.networks) != 0 || !slices.Equal(quiet.config.Healthcheck.Test, []string{"NONE"}) ||
		quiet.host.RestartPolicy.Name != "no" {
		t.Errorf("quiet: %+v %+v", quiet.host, quiet.config.Healthcheck)
	}
}

// A service's hash changes exactly when its container would: not for its
// image (compared on its own), its dependencies or another service.
func TestServiceHash(t *testing.T) {
	const base = "services:\n  web:\n    image: web:1\n    environment: {A: '1'}\n  db:\n    image: db\n"
	st0 := testStack(t, base)
	tests := []struct {
		name        string
		doc         string
		opts        []func(*plugins.Workload)
		webChanges  bool
		dbChanges   bool
		revChanging bool
	}{
		{name: "same", doc: base},
		{name: "environment", doc: strings.Replace(base, "A: '1'", "A: '2'", 1), webChanges: true, revChanging: true},
		{name: "image tag", doc: strings.Replace(base, "web:1", "web:2", 1), revChanging: true},
		{name: "depends_on", doc: base + "    depends_on: [web]\n"},
		{name: "route to web", doc: base, opts: []func(*plugins.Workload){withRoute("", "web", 80)}, webChanges: true, revChanging: true},
		{name: "project name", doc: "name: other\n" + base, webChanges: true, dbChanges: true, revChanging: true},
		{name: "label of db", doc: base + "    labels: {a: b}\n", dbChanges: true, revChanging: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := testStack(t, tt.doc, tt.opts...)
			if got := st.services["web"].hash != st0.services["web"].hash; got != tt.webChanges {
				t.Errorf("web's hash changed: %t, want %t", got, tt.webChanges)
			}
			if got := st.services["db"].hash != st0.services["db"].hash; got != tt.dbChanges {
				t.Errorf("db's hash changed: %t, want %t", got, tt.dbChanges)
			}
			if got := st.revision != st0.revision; got != tt.revChanging {
				t.Errorf("revision changed: %t, want %t", got, tt.revChanging)
			}
		})
	}
}

func TestStackErrors(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		opts []func(*plugins.Workload)
		want string
	}{
		{name: "route without a service", doc: "services:\n  a: {image: a}\n  b: {image: b}\n",
			opts: []func(*plugins.Workload){withRoute("x.test", "", 80)}, want: "route x.test/ names no service"},
		{name: "route to an unknown service", doc: webDoc, opts: []func(*plugins.Workload){withRoute("x.test", "api", 80)},
			want: `points at service "api", which the compose file does not define`},
		{name: "route to a service without network", doc: "services:\n  web: {image: web, network_mode: none}\n",
			opts: []func(*plugins.Workload){withRoute("x.test", "web", 80)}, want: "has network_mode none"},
		{name: "dependency disabled by profiles", doc: "services:\n  web: {image: web, depends_on: [db]}\n  db: {image: db, profiles: [x]}\n",
			want: `service "web" depends on undefined service "db"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tryStack(tt.doc, tt.opts...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %v, want one containing %q", err, tt.want)
			}
		})
	}
	// A lone service takes the routes that name none.
	st := testStack(t, webDoc, withRoute("x.test", "", 80))
	if web := st.services["web"]; !web.routed() || !st.blueGreen(web) {
		t.Errorf("lone web: routed %t, blue-green %t", web.routed(), st.blueGreen(web))
	}
	if st := testStack(t, webDoc, withRoute("x.test", "", 80), func(w *plugins.Workload) { w.Strategy.Type = plugins.StrategyRecreate }); st.blueGreen(st.services["web"]) {
		t.Error("Recreate strategy still blue-green")
	}
}

func TestServiceOrder(t *testing.T) {
	st := testStack(t, `
services:
  web: {image: web, depends_on: {api: {condition: service_healthy}, migrate: {condition: service_completed_successfully}}}
  api: {image: api, depends_on: [db]}
  migrate: {image: m, depends_on: [db]}
  db: {image: db}
  cache: {image: c, depends_on: {debug: {condition: service_started, required: false}}}
  debug: {image: d, profiles: [debug]}
`)
	if got := strings.Join(st.order, ","); got != "db,api,cache,migrate,web" {
		t.Errorf("order = %s", got)
	}
	if !st.services["migrate"].job || st.services["api"].job {
		t.Error("migrate is the only one-shot service")
	}
	if got := dependsOnLabel(st.services["web"]); got != "api:service_healthy:false,migrate:service_completed_successfully:false" {
		t.Errorf("depends_on label = %q", got)
	}
}

func TestProjectName(t *testing.T) {
	tests := []struct {
		name, namespace, workload, project, want string
		explicit                                 bool
	}{
		{name: "default", namespace: "shop", workload: "web", want: "shop-web"},
		{name: "dots and capitals", namespace: "shop", workload: "Web.v2", want: "shop-webv2"},
		{name: "long", namespace: strings.Repeat("n", 63), workload: "w", want: strings.Repeat("n", 63)},
		{name: "explicit", namespace: "shop", workload: "web", project: "store", want: "store", explicit: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, explicit := projectName(plugins.Workload{Namespace: tt.namespace, Name: tt.workload}, &settings{Config{Project: tt.project}})
			if got != tt.want || explicit != tt.explicit {
				t.Errorf("projectName() = %q, %t; want %q, %t", got, explicit, tt.want, tt.explicit)
			}
		})
	}
}

func TestRedact(t *testing.T) {
	base := errors.New("value hunter2-hunter2 refused, port 8080")
	err := redact(base, []plugins.EnvVar{{Name: "P", Value: "hunter2-hunter2"}, {Name: "PORT", Value: "8080"}})
	if err.Error() != "value *** refused, port 8080" || !errors.Is(err, base) {
		t.Errorf("redact() = %v", err)
	}
	if redact(nil, nil) != nil {
		t.Error("redact(nil) is not nil")
	}
}
