package compose

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/tinyforge/tinyforge/plugins"
)

var testPath = field.NewPath("spec", "source", "config")

// inline is a config holding the compose file doc.
func inline(doc string, extra ...any) string {
	cfg := map[string]any{"compose": doc}
	for i := 0; i+1 < len(extra); i += 2 {
		cfg[extra[i].(string)] = extra[i+1]
	}
	b, _ := json.Marshal(cfg)
	return string(b)
}

const webDoc = "services:\n  web:\n    image: web:1\n"

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		config string
		// want are substrings each found in some error; none means valid.
		want []string
	}{
		{name: "sample", config: sampleJSON},
		{name: "minimal", config: inline(webDoc)},
		{name: "project", config: inline(webDoc, "project", "shop_2-a")},
		{name: "variables are not known at admission", config: inline(
			"services:\n  web:\n    image: web:${TAG:?set TAG}\n    network_mode: ${MODE}\n    ports: ['${PORT}:80']\n    deploy: {replicas: '${N}'}\n")},
		{name: "extensions and profiles", config: inline(
			"x-common: &c {restart: always}\nservices:\n  web:\n    <<: *c\n    image: web\n    x-note: hi\n  dev:\n    image: dev\n    build: .\n    profiles: [dev]\n")},
		{name: "supported keys", config: inline(`
services:
  db:
    image: db
    healthcheck: {test: ["CMD", "x"], interval: 1s, timeout: 2s, retries: 3, start_period: 5s}
    volumes: ["data:/data", "/srv/db:/backup:ro", {type: tmpfs, target: /tmp, tmpfs: {size: 1000}}]
    restart: on-failure:3
    stop_grace_period: 30s
    logging: {driver: json-file, options: {max-size: 10m}}
  web:
    image: web
    command: ["serve", "--port", "80"]
    entrypoint: /bin/web
    environment: [A=1, B]
    ports: ["8080:80", "127.0.0.1::81", {target: 82, protocol: udp}]
    expose: ["9000"]
    depends_on:
      db: {condition: service_healthy}
    labels: {com.example.team: shop}
    networks: {default: {aliases: [www]}}
    user: "1000"
    working_dir: /app
    read_only: true
    init: true
    tmpfs: [/run]
    extra_hosts: ["host.docker.internal:host-gateway"]
    cap_drop: [ALL]
    mem_limit: 64m
    cpus: 0.5
    deploy: {replicas: 1}
    pull_policy: never
  worker:
    image: worker
    deploy: {resources: {limits: {memory: 128M, cpus: "0.25"}}}
networks:
  default: {labels: {a: b}}
volumes:
  data: {driver: local}
`)},

		{name: "empty", config: ``, want: []string{"spec.source.config.compose: Required value"}},
		{name: "compose and git", config: `{"compose":"x","git":{"url":"https://x"}}`, want: []string{"spec.source.config.git: Invalid value: compose and git are mutually exclusive"}},
		{name: "unknown key", config: `{"compose":"x","composee":1}`, want: []string{`spec.source.config.composee: Unsupported value: "composee"`}},
		{name: "not an object", config: `[1]`, want: []string{"must be a JSON object"}},
		{name: "bad project", config: inline(webDoc, "project", "Shop"), want: []string{`spec.source.config.project: Invalid value: "Shop"`}},
		{name: "long project", config: inline(webDoc, "project", strings.Repeat("a", 64)), want: []string{"spec.source.config.project: Too long"}},
		{name: "env files need git", config: inline(webDoc, "envFiles", []string{".env"}), want: []string{"spec.source.config.envFiles: Forbidden"}},
		{name: "bad profiles", config: inline(webDoc, "profiles", []string{"-x", "a", "a"}), want: []string{
			`spec.source.config.profiles[0]: Invalid value: "-x"`, `spec.source.config.profiles[2]: Duplicate value: "a"`}},
		{name: "git", config: `{"git":{"url":"https://example.com/shop.git","ref":"v1.2","path":"deploy","file":"prod.yaml"},"envFiles":[".env","prod/.env"]}`},
		{name: "git password", config: `{"git":{"url":"https://u:hunter2@example.com/shop.git"}}`, want: []string{
			`spec.source.config.git.url: Invalid value: "https://***@example.com/shop.git"`, "password"}},
		{name: "env file out of the repository", config: `{"git":{"url":"https://example.com/x.git"},"envFiles":["../.env", "/etc/env"]}`, want: []string{
			`spec.source.config.envFiles[0]: Invalid value: "../.env"`, `spec.source.config.envFiles[1]: Invalid value: "/etc/env"`}},
		{name: "bad git fields", config: `{"git":{"url":"","ref":"-x","path":"../up","file":"a/b"}}`, want: []string{
			"spec.source.config.git.url: Required value", `spec.source.config.git.ref: Invalid value: "-x"`,
			`spec.source.config.git.path: Invalid value: "../up"`, `spec.source.config.git.file: Invalid value: "a/b"`}},
		{name: "too large", config: inline(strings.Repeat("#", maxComposeBytes+1)), want: []string{"spec.source.config.compose: Too long"}},

		{name: "unsupported keys, each named", config: inline(`
services:
  web:
    image: web
    build: .
    privileged: true
    network_mode: host
    container_name: web
    deploy: {replicas: 2}
    cap_add: [NET_ADMIN]
secrets:
  s: {file: ./s}
`), want: []string{
			"spec.source.config.compose: Invalid value: services.web.build: not supported (build the image elsewhere",
			"services.web.privileged: not supported", `services.web.network_mode: "host" is not supported`,
			"services.web.container_name: not supported", `services.web.deploy.replicas: "2" is not supported`,
			"services.web.cap_add: not supported", "secrets: not supported"}},
		{name: "an enabled profile's keys count", config: inline("services:\n  dev:\n    image: dev\n    build: .\n    profiles: [dev]\n", "profiles", []string{"dev"}),
			want: []string{"services.dev.build: not supported"}},
		{name: "include", config: inline("include: [other.yaml]\n" + webDoc), want: []string{"include: not supported"}},
		{name: "extends another file", config: inline("services:\n  web:\n    image: web\n    extends: {file: base.yaml, service: base}\n"),
			want: []string{"services.web.extends.file: not supported"}},
		{name: "env_file inline", config: inline("services:\n  web:\n    image: web\n    env_file: .env\n"), want: []string{"services.web.env_file: not supported"}},
		{name: "external volume", config: inline("services:\n  web:\n    image: web\n    volumes: [data:/d]\nvolumes:\n  data: {external: true}\n"),
			want: []string{"volumes.data.external: not supported"}},
		{name: "healthcheck start_interval", config: inline("services:\n  web:\n    image: web\n    healthcheck: {test: [CMD, x], start_interval: 1s}\n"),
			want: []string{"services.web.healthcheck.start_interval: not supported"}},
		{name: "a one-shot service that restarts", config: inline("services:\n  job: {image: j, restart: always}\n  web:\n    image: web\n    depends_on:\n      job: {condition: service_completed_successfully}\n"),
			want: []string{`services.job.restart: "always": service web waits for it to complete`}},
		{name: "restart dependants", config: inline("services:\n  db: {image: db}\n  web:\n    image: web\n    depends_on:\n      db: {condition: service_started, restart: true}\n"),
			want: []string{"services.web.depends_on.db.restart: true is not supported"}},
		{name: "pull_policy build", config: inline("services:\n  web:\n    image: web\n    pull_policy: build\n"), want: []string{`services.web.pull_policy: "build" is not supported`}},
		{name: "network driver", config: inline(webDoc + "networks:\n  default: {driver: host}\n"), want: []string{`networks.default.driver: "host" is not supported`}},

		{name: "invalid YAML", config: inline("services: ["), want: []string{"spec.source.config.compose: Invalid value: failed to parse"}},
		{name: "not a mapping", config: inline("- a\n- b\n"), want: []string{"spec.source.config.compose: Invalid value"}},
		{name: "no image", config: inline("services:\n  web:\n    command: [x]\n"), want: []string{`service "web" has neither an image nor a build context`}},
		{name: "unknown dependency", config: inline("services:\n  web:\n    image: web\n    depends_on: [db]\n"), want: []string{`depends on undefined service "db"`}},
		{name: "dependency cycle", config: inline("services:\n  a:\n    image: a\n    depends_on: [b]\n  b:\n    image: b\n    depends_on: [a]\n"),
			want: []string{"cycle"}},
		{name: "values TinyForge cannot honour", config: inline(`
services:
  web:
    image: web
    volumes: ["./data:/data", "/anon"]
    labels: {com.docker.compose.project: other, tinyforge.dev/x: y}
    restart: sometimes
    command: []
`), want: []string{
			`services.web.volumes[0].source: "./data": bind mounts need an absolute host path`,
			"services.web.volumes[1]: anonymous volumes are not supported",
			"services.web.labels.com.docker.compose.project: label keys under",
			"services.web.labels.tinyforge.dev/x: label keys under",
			`services.web.restart: "sometimes" is not a restart policy`,
			"services.web.command: an empty command is not supported"}},
	}
	src := &Source{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			errs := src.Validate(testPath, []byte(tt.config))
			for _, e := range errs {
				if !strings.HasPrefix(e.Field, testPath.String()) {
					t.Errorf("error outside the config's path: %v", e)
				}
			}
			if len(tt.want) == 0 && len(errs) > 0 {
				t.Fatalf("Validate() = %v, want no error", errs)
			}
			for _, w := range tt.want {
				found := false
				for _, e := range errs {
					found = found || strings.Contains(e.Error(), w)
				}
				if !found {
					t.Errorf("no error contains %q; got %v", w, errs)
				}
			}
		})
	}
}

// Deploy's load sees interpolated values: what admission had to let
// through is refused then, by name, and spec.env values are redacted.
func TestLoadWorkload(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		env  []plugins.EnvVar
		want string
	}{
		{name: "interpolated network_mode", doc: "services:\n  web:\n    image: web\n    network_mode: ${MODE}\n",
			env: []plugins.EnvVar{{Name: "MODE", Value: "host"}}, want: `services.web.network_mode: "host" is not supported`},
		{name: "interpolated replicas", doc: "services:\n  web:\n    image: web\n    deploy: {replicas: '${N}'}\n",
			env: []plugins.EnvVar{{Name: "N", Value: "3"}}, want: `services.web.deploy.replicas: "3" is not supported`},
		{name: "required variable", doc: "services:\n  web:\n    image: web:${TAG:?the app's tag}\n",
			want: "required variable TAG is missing a value: the app's tag"},
		{name: "secret redacted", doc: "services:\n  web:\n    image: web\n    mem_limit: ${PASSWORD}\n",
			env: []plugins.EnvVar{{Name: "PASSWORD", Value: "hunter2-hunter2"}}, want: "***"},
		{name: "no service enabled", doc: "services:\n  web:\n    image: web\n    profiles: [x]\n", want: "no service is enabled"},
		{name: "fine", doc: "services:\n  web:\n    image: web:${TAG}\n    environment: [TAG]\n",
			env: []plugins.EnvVar{{Name: "TAG", Value: "1.2"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := plugins.Workload{Namespace: "ns", Name: "app", Env: tt.env, Config: []byte(inline(tt.doc))}
			set, errs := parseConfig(testPath, w.Config)
			if len(errs) > 0 {
				t.Fatal(errs)
			}
			proj, err := loadWorkload(context.Background(), w, set, inlineDocument(w, set))
			if tt.want == "" {
				if err != nil {
					t.Fatalf("loadWorkload: %v", err)
				}
				if got := *proj.Services["web"].Environment["TAG"]; got != "1.2" || proj.Services["web"].Image != "web:1.2" {
					t.Errorf("interpolated image %q, env TAG=%q", proj.Services["web"].Image, got)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("loadWorkload() = %v, want an error containing %q", err, tt.want)
			}
			for _, e := range tt.env {
				if strings.Contains(err.Error(), e.Value) && len(e.Value) >= minRedacted {
					t.Errorf("error %q shows the value of %s", err, e.Name)
				}
			}
		})
	}
}

// No OS environment leaks into interpolation.
func TestNoOSEnvironment(t *testing.T) {
	t.Setenv("TINYFORGE_COMPOSE_LEAK", "leaked")
	w := plugins.Workload{Namespace: "ns", Name: "app", Config: []byte(inline(
		"services:\n  web:\n    image: web:${TINYFORGE_COMPOSE_LEAK:-kept}\n    environment: [TINYFORGE_COMPOSE_LEAK]\n"))}
	set, _ := parseConfig(testPath, w.Config)
	proj, err := loadWorkload(context.Background(), w, set, inlineDocument(w, set))
	if err != nil {
		t.Fatal(err)
	}
	if img := proj.Services["web"].Image; img != "web:kept" {
		t.Errorf("image = %q, want web:kept", img)
	}
	if v, ok := proj.Services["web"].Environment["TINYFORGE_COMPOSE_LEAK"]; ok && v != nil {
		t.Errorf("environment took %q from the OS", *v)
	}
}

func FuzzValidate(f *testing.F) {
	for _, seed := range []string{
		``, `{}`, `null`, `[]`, sampleJSON, inline(webDoc), inline("services: ["),
		inline("services:\n  web:\n    image: web\n    build: .\n    ports: ['8080:80/udp']\n"),
		`{"git":{"url":"https://x","path":"a/../b"}}`, inline(webDoc, "profiles", []string{"*"}),
	} {
		f.Add([]byte(seed))
	}
	src := &Source{}
	f.Fuzz(func(t *testing.T, config []byte) {
		for _, e := range src.Validate(testPath, config) {
			if !strings.HasPrefix(e.Field, testPath.String()) {
				t.Errorf("error outside the config's path: %v", e)
			}
		}
	})
}

// FuzzCompose feeds compose files to Validate; one that passes and holds
// no variable must load and convert to Docker's create options.
func FuzzCompose(f *testing.F) {
	for _, seed := range []string{
		webDoc, "services:\n  web:\n    image: web\n    ports: ['8080:80', '81']\n    volumes: [data:/d, /h:/h:ro]\nvolumes:\n  data: {}\n",
		"services:\n  a:\n    image: a\n    depends_on: {b: {condition: service_healthy}}\n  b:\n    image: b\n    healthcheck: {test: [CMD, x]}\n",
		"services:\n  web:\n    image: web\n    network_mode: none\n    tmpfs: [/run]\n    restart: on-failure:2\n",
		"x-a: &a {image: a}\nservices:\n  web: *a\n", "services:\n  web:\n    image: web\n    extends: {service: base}\n  base:\n    image: b\n",
	} {
		f.Add(seed)
	}
	src := &Source{}
	f.Fuzz(func(t *testing.T, doc string) {
		config := []byte(inline(doc))
		if errs := src.Validate(testPath, config); len(errs) > 0 || strings.Contains(doc, "$") {
			return
		}
		w := plugins.Workload{Namespace: "ns", Name: "app", Config: config,
			Routes: []plugins.Route{{PathPrefix: "/", Port: 80}}, HealthCheck: plugins.HealthCheck{Path: "/healthz"}}
		set, _ := parseConfig(testPath, config)
		proj, err := loadWorkload(context.Background(), w, set, inlineDocument(w, set))
		if err != nil {
			t.Fatalf("Validate passed, loadWorkload failed: %v", err)
		}
		if len(proj.Services) != 1 {
			w.Routes = nil
		}
		st, err := newStack(w, proj)
		if err != nil {
			if len(proj.Services) == 1 && strings.Contains(err.Error(), "network_mode none") {
				return
			}
			t.Fatalf("newStack: %v", err)
		}
		for _, s := range st.services {
			s.image = resolvedImage{id: "sha256:" + strings.Repeat("0", 64)}
			if _, err := st.containerSpec(s); err != nil {
				t.Fatalf("containerSpec(%s): %v", s.name, err)
			}
		}
		st.setRevision()
	})
}
