package image

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/tinyforge/tinyforge/plugins"
)

var testPath = field.NewPath("spec", "source", "config")

func TestValidate(t *testing.T) {
	manyPorts := make([]string, maxItems+1)
	for i := range manyPorts {
		manyPorts[i] = fmt.Sprintf(`{"containerPort":%d}`, i+1)
	}
	tests := []struct {
		name   string
		config string
		// want lists "<field> <type>" of every error, in order.
		want []string
	}{
		{name: "minimal", config: `{"image":"web:1"}`},
		{name: "sample", config: sampleJSON},
		{
			name: "every field",
			config: `{"image":"registry.example:5000/team/web:1.4@sha256:` + strings.Repeat("a", 64) + `",
				"pullPolicy":"Always","registryAuthSecret":"regcred","command":["/web"],"args":["-v",""],
				"ports":[{"containerPort":8080},{"containerPort":8080,"protocol":"udp"}],
				"volumes":[{"name":"data","mountPath":"/data"},{"hostPath":"/srv/x","mountPath":"/x","readOnly":true}],
				"resources":{"memory":67108864,"cpus":0.5},"restartPolicy":"no",
				"labels":{"com.example/team":"shop","tinyforge.devx":"ok"},"stopTimeout":"1m30s"}`,
		},
		{name: "digest only", config: `{"image":"web@sha256:` + strings.Repeat("0", 64) + `"}`},
		{name: "empty config", config: ``, want: []string{"spec.source.config.image FieldValueRequired"}},
		{name: "null config", config: `null`, want: []string{"spec.source.config.image FieldValueRequired"}},
		{name: "not an object", config: `["web:1"]`, want: []string{"spec.source.config FieldValueTypeInvalid"}},
		{name: "not JSON", config: `image: web`, want: []string{"spec.source.config FieldValueInvalid"}},
		{name: "empty image", config: `{"image":""}`, want: []string{"spec.source.config.image FieldValueRequired"}},
		{name: "image with capitals", config: `{"image":"Web:1"}`, want: []string{"spec.source.config.image FieldValueInvalid"}},
		{name: "image with a bad digest", config: `{"image":"web@sha256:abc"}`, want: []string{"spec.source.config.image FieldValueInvalid"}},
		{name: "image too long", config: `{"image":"` + strings.Repeat("a", maxImageLength+1) + `"}`, want: []string{"spec.source.config.image FieldValueTooLong"}},
		{name: "image of the wrong type stops there", config: `{"image":3,"pullPolicy":"x"}`, want: []string{"spec.source.config.image FieldValueTypeInvalid"}},
		{
			name:   "unknown keys and missing image are all reported",
			config: `{"imag":"web:1","ports":[{"port":80}]}`,
			want: []string{
				"spec.source.config.imag FieldValueNotSupported",
				"spec.source.config.ports[0].port FieldValueNotSupported",
				"spec.source.config.image FieldValueRequired",
				"spec.source.config.ports[0].containerPort FieldValueInvalid",
			},
		},
		{name: "duplicate key", config: `{"image":"a","image":"b"}`, want: []string{"spec.source.config.image FieldValueDuplicate"}},
		{name: "pull policy", config: `{"image":"web","pullPolicy":"Sometimes"}`, want: []string{"spec.source.config.pullPolicy FieldValueNotSupported"}},
		{name: "auth secret name", config: `{"image":"web","registryAuthSecret":"Reg_Cred"}`, want: []string{"spec.source.config.registryAuthSecret FieldValueInvalid"}},
		{name: "empty executable", config: `{"image":"web","command":[""]}`, want: []string{"spec.source.config.command[0] FieldValueInvalid"}},
		{
			name:   "ports",
			config: `{"image":"web","ports":[{"containerPort":80,"protocol":"sctp"},{"containerPort":0},{"containerPort":70000},{"containerPort":81},{"containerPort":81,"protocol":"tcp"}]}`,
			want: []string{
				"spec.source.config.ports[0].protocol FieldValueNotSupported",
				"spec.source.config.ports[1].containerPort FieldValueInvalid",
				"spec.source.config.ports[2].containerPort FieldValueInvalid",
				"spec.source.config.ports[4] FieldValueDuplicate",
			},
		},
		{name: "port of the wrong type", config: `{"image":"web","ports":[{"containerPort":"80"}]}`, want: []string{"spec.source.config.ports.containerPort FieldValueTypeInvalid"}},
		{name: "too many ports", config: `{"image":"web","ports":[` + strings.Join(manyPorts, ",") + `]}`, want: []string{"spec.source.config.ports FieldValueTooMany"}},
		{
			name: "volumes",
			config: `{"image":"web","volumes":[
				{"name":"a","hostPath":"/a","mountPath":"/a"},
				{"mountPath":"/b"},
				{"name":"Data!","mountPath":"/c"},
				{"hostPath":"srv","mountPath":"/d"},
				{"name":"e"},
				{"name":"f","mountPath":"f"},
				{"name":"g","mountPath":"/"},
				{"name":"h","mountPath":"/a/"}]}`,
			want: []string{
				"spec.source.config.volumes[0] FieldValueInvalid",
				"spec.source.config.volumes[1] FieldValueRequired",
				"spec.source.config.volumes[2].name FieldValueInvalid",
				"spec.source.config.volumes[3].hostPath FieldValueInvalid",
				"spec.source.config.volumes[4].mountPath FieldValueRequired",
				"spec.source.config.volumes[5].mountPath FieldValueInvalid",
				"spec.source.config.volumes[6].mountPath FieldValueInvalid",
				"spec.source.config.volumes[7].mountPath FieldValueDuplicate",
			},
		},
		{
			name:   "resources",
			config: `{"image":"web","resources":{"memory":"lots","cpus":"0.001"}}`,
			want: []string{
				"spec.source.config.resources.memory FieldValueInvalid",
				"spec.source.config.resources.cpus FieldValueInvalid",
			},
		},
		{
			name:   "resources below and above the bounds",
			config: `{"image":"web","resources":{"memory":"1Mi","cpus":"2000000"}}`,
			want: []string{
				"spec.source.config.resources.memory FieldValueInvalid",
				"spec.source.config.resources.cpus FieldValueInvalid",
			},
		},
		{name: "cpus not a number", config: `{"image":"web","resources":{"cpus":"many"}}`, want: []string{"spec.source.config.resources.cpus FieldValueInvalid"}},
		{name: "cpus of the wrong type", config: `{"image":"web","resources":{"cpus":true}}`, want: []string{"spec.source.config.resources.cpus FieldValueTypeInvalid"}},
		{name: "restart policy", config: `{"image":"web","restartPolicy":"sometimes"}`, want: []string{"spec.source.config.restartPolicy FieldValueNotSupported"}},
		{
			name:   "reserved and empty labels",
			config: `{"image":"web","labels":{"tinyforge.dev/revision":"x","app.kubernetes.io/managed-by":"me","":"y","app.kubernetes.io/name":"ok"}}`,
			want: []string{
				"spec.source.config.labels[] FieldValueInvalid",
				"spec.source.config.labels[app.kubernetes.io/managed-by] FieldValueInvalid",
				"spec.source.config.labels[tinyforge.dev/revision] FieldValueInvalid",
			},
		},
		{name: "stop timeout syntax", config: `{"image":"web","stopTimeout":"soon"}`, want: []string{"spec.source.config.stopTimeout FieldValueInvalid"}},
		{name: "negative stop timeout", config: `{"image":"web","stopTimeout":"-1s"}`, want: []string{"spec.source.config.stopTimeout FieldValueInvalid"}},
		{name: "stop timeout too long", config: `{"image":"web","stopTimeout":"2h"}`, want: []string{"spec.source.config.stopTimeout FieldValueInvalid"}},
	}
	src := &Source{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			errs := src.Validate(testPath, []byte(tt.config))
			var got []string
			for _, e := range errs {
				got = append(got, e.Field+" "+string(e.Type))
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("Validate() =\n%s\nwant\n%s\nerrors: %v", strings.Join(got, "\n"), strings.Join(tt.want, "\n"), errs)
			}
		})
	}
}

func TestParseConfigDefaults(t *testing.T) {
	set, errs := parseConfig(testPath, []byte(`{"image":"web","ports":[{"containerPort":80}],"resources":{"memory":"256Mi","cpus":"500m"}}`))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if set.PullPolicy != PullIfNotPresent || set.RestartPolicy != RestartUnlessStopped || set.Ports[0].Protocol != ProtocolTCP {
		t.Errorf("defaults not applied: %+v", set.Config)
	}
	if set.stopTimeout != DefaultStopTimeout {
		t.Errorf("stopTimeout = %v, want %v", set.stopTimeout, DefaultStopTimeout)
	}
	if set.memory != 256<<20 || set.nanoCPUs != 500_000_000 {
		t.Errorf("memory = %d, nanoCPUs = %d", set.memory, set.nanoCPUs)
	}
	if got := set.named.String(); got != "docker.io/library/web" {
		t.Errorf("named = %q", got)
	}

	set, errs = parseConfig(testPath, []byte(`{"image":"web","resources":{"memory":"1G","cpus":2},"stopTimeout":"0s"}`))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if set.memory != 1_000_000_000 || set.nanoCPUs != 2_000_000_000 || set.stopTimeout != 0 {
		t.Errorf("memory = %d, nanoCPUs = %d, stopTimeout = %v", set.memory, set.nanoCPUs, set.stopTimeout)
	}
}

// The messages name the field and say what is wanted.
func TestValidateMessages(t *testing.T) {
	errs := (&Source{}).Validate(testPath, []byte(`{"image":"web","resources":{"cpus":[1]},"x":1}`))
	got := errs.ToAggregate().Error()
	for _, want := range []string{
		"spec.source.config.resources.cpus: Invalid value: must be a string, not a JSON array",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("errors %q do not contain %q", got, want)
		}
	}
	errs = (&Source{}).Validate(testPath, []byte(`{"image":"web","labels":{"tinyforge.dev/x":""},"x":1}`))
	got = errs.ToAggregate().Error()
	for _, want := range []string{
		`spec.source.config.x: Unsupported value: "x": supported values: "args", "command"`,
		`spec.source.config.labels[tinyforge.dev/x]: Invalid value: "tinyforge.dev/x": label keys under tinyforge.dev/ are reserved`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("errors %q do not contain %q", got, want)
		}
	}
}

func FuzzValidate(f *testing.F) {
	for _, seed := range []string{
		``, `{}`, `null`, `[]`, `{"image":"web:1"}`, sampleJSON,
		`{"image":"web","ports":[{"containerPort":80,"protocol":"udp"}],"resources":{"cpus":0.5,"memory":"1Gi"}}`,
		`{"image":"a/b/c:d@sha256:` + strings.Repeat("f", 64) + `","volumes":[{"name":"x","mountPath":"/x"}]}`,
		`{"image":"web","labels":{"":""},"stopTimeout":"1h"}`,
	} {
		f.Add([]byte(seed))
	}
	src := &Source{}
	f.Fuzz(func(t *testing.T, config []byte) {
		errs := src.Validate(testPath, config)
		for _, e := range errs {
			if !strings.HasPrefix(e.Field, testPath.String()) {
				t.Errorf("error outside the config's path: %v", e)
			}
		}
		if len(errs) > 0 {
			return
		}
		// What passes Validate must be deployable as far as Docker is not
		// involved.
		set, errs := parseConfig(testPath, config)
		if len(errs) > 0 || set.named == nil {
			t.Fatalf("parseConfig disagrees with Validate: %v", errs)
		}
		w := plugins.Workload{Namespace: "ns", Name: "web", Routes: []plugins.Route{{PathPrefix: "/", Port: 80}},
			HealthCheck: plugins.HealthCheck{Path: "/healthz", Interval: time.Second}}
		sp, err := newRunSpec(w, set, resolvedImage{revision: "sha256:" + strings.Repeat("0", 64)})
		if err != nil {
			t.Fatalf("newRunSpec: %v", err)
		}
		if len(sp.hash) != 16 || sp.probe == "" {
			t.Fatalf("runSpec = %+v", sp)
		}
	})
}
