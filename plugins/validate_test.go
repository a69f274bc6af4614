package plugins

import (
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

type testPort struct {
	Name string `json:"name"`
	Port int32  `json:"port"`
}

type testCommon struct {
	Labels map[string]string `json:"labels,omitempty"`
}

type testConfig struct {
	testCommon `json:",inline"`

	Image   string              `json:"image"`
	Ports   []testPort          `json:"ports,omitempty"`
	Env     map[string]testPort `json:"env,omitempty"`
	Timeout *metav1.Duration    `json:"timeout,omitempty"`
	Secret  []byte              `json:"secret,omitempty"`
	Ignored string              `json:"-"`
	hidden  string
}

func TestDecodeStrict(t *testing.T) {
	path := field.NewPath("spec", "source", "config")
	tests := []struct {
		name     string
		config   string
		want     testConfig
		wantErrs []string
	}{
		{name: "nil config is {}", config: "", want: testConfig{Image: "preset"}},
		{name: "null config is {}", config: " null ", want: testConfig{Image: "preset"}},
		{name: "empty object keeps presets", config: `{}`, want: testConfig{Image: "preset"}},
		{
			name:   "all fields",
			config: `{"image":"web:1","ports":[{"name":"http","port":8080}],"labels":{"a":"b"},"timeout":"5s"}`,
			want: testConfig{
				testCommon: testCommon{Labels: map[string]string{"a": "b"}},
				Image:      "web:1",
				Ports:      []testPort{{Name: "http", Port: 8080}},
				Timeout:    &metav1.Duration{Duration: 5e9},
			},
		},
		{
			name:     "unknown top-level key lists the known ones",
			config:   `{"imag":"web:1"}`,
			wantErrs: []string{`spec.source.config.imag: Unsupported value: "imag": supported values: "env", "image", "labels", "ports", "secret", "timeout"`},
		},
		{
			name:     "keys are case-sensitive",
			config:   `{"Image":"web:1"}`,
			wantErrs: []string{`spec.source.config.Image: Unsupported value: "Image": supported values: "env", "image"`},
		},
		{
			name:     "unknown key in a list item",
			config:   `{"ports":[{"name":"a"},{"name":"b","prot":1}]}`,
			wantErrs: []string{`spec.source.config.ports[1].prot: Unsupported value: "prot": supported values: "name", "port"`},
		},
		{
			name:     "unknown key in a map value",
			config:   `{"env":{"x":{"nam":"a"}}}`,
			wantErrs: []string{`spec.source.config.env.x.nam: Unsupported value: "nam": supported values: "name", "port"`},
		},
		{
			name:     "unknown key under a map key with a dot",
			config:   `{"env":{"a.b":{"nam":"a"}}}`,
			wantErrs: []string{`spec.source.config.env.a.b.nam: Invalid value: "nam": unknown field`},
		},
		{
			name:   "every unknown key is reported",
			config: `{"a":1,"b":2}`,
			wantErrs: []string{
				`spec.source.config.a: Unsupported value: "a"`,
				`spec.source.config.b: Unsupported value: "b"`,
			},
		},
		{
			name:     "ignored and unexported fields are unknown",
			config:   `{"Ignored":"x","hidden":"y"}`,
			wantErrs: []string{`spec.source.config.Ignored: Unsupported`, `spec.source.config.hidden: Unsupported`},
		},
		{
			name:     "duplicate key",
			config:   `{"image":"a","image":"b"}`,
			wantErrs: []string{`spec.source.config.image: Duplicate value: "image"`},
		},
		{
			name:     "wrong type",
			config:   `{"image":3}`,
			wantErrs: []string{`spec.source.config.image: Invalid value: must be a string, not a JSON number`},
		},
		{
			name:     "wrong type in a list item",
			config:   `{"ports":[{"port":"http"}]}`,
			wantErrs: []string{`spec.source.config.ports.port: Invalid value: must be an integer, not a JSON string`},
		},
		{
			name:     "list expected",
			config:   `{"ports":{"port":1}}`,
			wantErrs: []string{`spec.source.config.ports: Invalid value: must be a list, not a JSON object`},
		},
		{
			name:     "number out of range",
			config:   `{"ports":[{"port":4294967296}]}`,
			wantErrs: []string{`spec.source.config.ports.port: Invalid value: must be an integer, not a JSON number 4294967296`},
		},
		{
			name:     "bytes expected",
			config:   `{"secret":1}`,
			wantErrs: []string{`spec.source.config.secret: Invalid value: must be a base64 string, not a JSON number`},
		},
		{
			name:     "a field's own decoder refuses the value",
			config:   `{"timeout":"soon"}`,
			wantErrs: []string{`spec.source.config: Invalid value: time: invalid duration "soon"`},
		},
		{
			name:     "syntax error",
			config:   `{"image":"a",}`,
			wantErrs: []string{`spec.source.config: Invalid value: invalid JSON at byte 14: invalid character '}'`},
		},
		{
			name:     "truncated",
			config:   `{"image":"a"`,
			wantErrs: []string{`spec.source.config: Invalid value: invalid JSON`},
		},
		{
			name:     "not an object",
			config:   `["image"]`,
			wantErrs: []string{`spec.source.config: Invalid value: must be a JSON object, not a JSON array`},
		},
		{
			name:     "not JSON",
			config:   `image: web`,
			wantErrs: []string{`spec.source.config: Invalid value: must be a JSON object, and is not valid JSON`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig{Image: "preset"}
			errs := DecodeStrict(path, []byte(tt.config), &cfg)
			if len(errs) != len(tt.wantErrs) {
				t.Fatalf("DecodeStrict() = %v, want %d errors: %q", errs, len(tt.wantErrs), tt.wantErrs)
			}
			for i, want := range tt.wantErrs {
				if got := errs[i].Error(); !strings.HasPrefix(got, want) {
					t.Errorf("error %d = %q, want prefix %q", i, got, want)
				}
			}
			if len(tt.wantErrs) > 0 {
				return
			}
			if cfg.Image != tt.want.Image || len(cfg.Ports) != len(tt.want.Ports) ||
				(tt.want.Timeout != nil && (cfg.Timeout == nil || *cfg.Timeout != *tt.want.Timeout)) ||
				len(cfg.Labels) != len(tt.want.Labels) {
				t.Errorf("decoded %+v, want %+v", cfg, tt.want)
			}
		})
	}
}

func TestDecodeStrictNotAPointer(t *testing.T) {
	var cfg testConfig
	errs := DecodeStrict(field.NewPath("spec", "config"), []byte(`{"image":"x"}`), cfg)
	if len(errs) != 1 || errs[0].Type != field.ErrorTypeInternal {
		t.Errorf("DecodeStrict(non-pointer) = %v, want one internal error", errs)
	}
}

func TestDecodeStrictNilPath(t *testing.T) {
	var cfg testConfig
	errs := DecodeStrict(nil, []byte(`{"imag":"x"}`), &cfg)
	if len(errs) != 1 || errs[0].Field != "imag" {
		t.Errorf("DecodeStrict(nil path) = %v, want one error on imag", errs)
	}
}
