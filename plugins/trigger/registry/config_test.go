package registry

import (
	"slices"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/validation/field"
)

var testPath = field.NewPath("spec", "config")

var testDigest = "sha256:" + strings.Repeat("ab", 32)

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		config string
		// want lists "<field> <type>" of every error, in order.
		want []string
	}{
		{name: "minimal", config: `{"repository":"registry.example:5000/team/web"}`},
		{name: "sample", config: sampleJSON},
		{name: "docker hub short name", config: `{"repository":"nginx"}`},
		{
			name: "every field",
			config: `{"repository":"127.0.0.1:5000/team/web","tagPolicy":{"regex":"^main-(?P<build>\\d+)$","capture":"build","order":"alphabetical"},
				"digest":"` + testDigest + `","secretRef":{"name":"regcred","key":"config.json"},"insecure":true,"pollInterval":"1m30s"}`,
		},
		{name: "exact", config: `{"repository":"r.example/web","tagPolicy":{"exact":"stable"}}`},
		{name: "glob", config: `{"repository":"r.example/web","tagPolicy":{"glob":"v1.*"}}`},
		{name: "regex alone", config: `{"repository":"r.example/web","tagPolicy":{"regex":"^v"}}`},
		{name: "regex ordered without capture", config: `{"repository":"r.example/web","tagPolicy":{"regex":"^\\d+$","order":"numerical"}}`},
		{name: "semver", config: `{"repository":"r.example/web","tagPolicy":{"semver":">=1.0 <2"}}`},
		{name: "empty config", config: ``, want: []string{"spec.config.repository FieldValueRequired"}},
		{name: "null config", config: `null`, want: []string{"spec.config.repository FieldValueRequired"}},
		{name: "not an object", config: `["web"]`, want: []string{"spec.config FieldValueTypeInvalid"}},
		{name: "not JSON", config: `repository: web`, want: []string{"spec.config FieldValueInvalid"}},
		{name: "repository of the wrong type stops there", config: `{"repository":5,"digest":"x"}`, want: []string{"spec.config.repository FieldValueTypeInvalid"}},
		{name: "repository with capitals", config: `{"repository":"r.example/Web"}`, want: []string{"spec.config.repository FieldValueInvalid"}},
		{name: "repository with a tag", config: `{"repository":"r.example/web:1"}`, want: []string{"spec.config.repository FieldValueInvalid"}},
		{name: "repository with a digest", config: `{"repository":"r.example/web@` + testDigest + `"}`, want: []string{"spec.config.repository FieldValueInvalid"}},
		{name: "repository too long", config: `{"repository":"r.example/` + strings.Repeat("a", 300) + `"}`, want: []string{"spec.config.repository FieldValueInvalid"}},
		{
			name:   "unknown keys and a missing repository are all reported",
			config: `{"repo":"web","tagPolicy":{"tag":"x","exact":"y"},"secretRef":{"nam":"x"}}`,
			want: []string{
				"spec.config.repo FieldValueNotSupported",
				"spec.config.tagPolicy.tag FieldValueNotSupported",
				"spec.config.secretRef.nam FieldValueNotSupported",
				"spec.config.repository FieldValueRequired",
				"spec.config.secretRef.name FieldValueRequired",
			},
		},
		{name: "duplicate key", config: `{"repository":"a","repository":"b"}`, want: []string{"spec.config.repository FieldValueDuplicate"}},
		{name: "empty tag policy", config: `{"repository":"r.example/web","tagPolicy":{}}`, want: []string{"spec.config.tagPolicy FieldValueRequired"}},
		{
			name:   "two policies",
			config: `{"repository":"r.example/web","tagPolicy":{"exact":"latest","semver":"^1"}}`,
			want:   []string{"spec.config.tagPolicy FieldValueInvalid"},
		},
		{
			name:   "capture and order without regex",
			config: `{"repository":"r.example/web","tagPolicy":{"glob":"*","capture":"n","order":"numerical"}}`,
			want:   []string{"spec.config.tagPolicy.capture FieldValueForbidden", "spec.config.tagPolicy.order FieldValueForbidden"},
		},
		{name: "exact is no tag", config: `{"repository":"r.example/web","tagPolicy":{"exact":"a/b"}}`, want: []string{"spec.config.tagPolicy.exact FieldValueInvalid"}},
		{name: "bad glob", config: `{"repository":"r.example/web","tagPolicy":{"glob":"v[1"}}`, want: []string{"spec.config.tagPolicy.glob FieldValueInvalid"}},
		{name: "bad regex", config: `{"repository":"r.example/web","tagPolicy":{"regex":"(x"}}`, want: []string{"spec.config.tagPolicy.regex FieldValueInvalid"}},
		{name: "regex too long", config: `{"repository":"r.example/web","tagPolicy":{"regex":"` + strings.Repeat("a", 513) + `"}}`, want: []string{"spec.config.tagPolicy.regex FieldValueTooLong"}},
		{
			name:   "capture names no group",
			config: `{"repository":"r.example/web","tagPolicy":{"regex":"^(?P<n>\\d+)$","capture":"build"}}`,
			want:   []string{"spec.config.tagPolicy.capture FieldValueInvalid"},
		},
		{
			name:   "unknown order",
			config: `{"repository":"r.example/web","tagPolicy":{"regex":"^(?P<n>\\d+)$","capture":"n","order":"newest"}}`,
			want:   []string{"spec.config.tagPolicy.order FieldValueNotSupported"},
		},
		{name: "bad semver range", config: `{"repository":"r.example/web","tagPolicy":{"semver":">=one"}}`, want: []string{"spec.config.tagPolicy.semver FieldValueInvalid"}},
		{name: "bad digest", config: `{"repository":"r.example/web","digest":"sha256:abc"}`, want: []string{"spec.config.digest FieldValueInvalid"}},
		{name: "secret name", config: `{"repository":"r.example/web","secretRef":{"name":"Reg_Cred"}}`, want: []string{"spec.config.secretRef.name FieldValueInvalid"}},
		{name: "secret key", config: `{"repository":"r.example/web","secretRef":{"name":"regcred","key":"a/b"}}`, want: []string{"spec.config.secretRef.key FieldValueInvalid"}},
		{name: "poll interval is no duration", config: `{"repository":"r.example/web","pollInterval":"often"}`, want: []string{"spec.config.pollInterval FieldValueInvalid"}},
		{name: "poll interval too short", config: `{"repository":"r.example/web","pollInterval":"1s"}`, want: []string{"spec.config.pollInterval FieldValueInvalid"}},
		{name: "insecure of the wrong type", config: `{"repository":"r.example/web","insecure":"yes"}`, want: []string{"spec.config.insecure FieldValueTypeInvalid"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			errs := (&Trigger{}).Validate(testPath, []byte(tt.config))
			var got []string
			for _, e := range errs {
				got = append(got, e.Field+" "+string(e.Type))
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("Validate() =\n  %s\nwant\n  %s\nerrors: %v", strings.Join(got, "\n  "), strings.Join(tt.want, "\n  "), errs)
			}
		})
	}
}

// Messages name the problem precisely enough to fix it.
func TestValidateMessages(t *testing.T) {
	tests := []struct {
		name   string
		config string
		want   string
	}{
		{
			name:   "the groups a capture may name",
			config: `{"repository":"r.example/web","tagPolicy":{"regex":"^(?P<major>\\d+)\\.(?P<minor>\\d+)$","capture":"build"}}`,
			want:   `spec.config.tagPolicy.capture: Invalid value: "build": must name a group of regex, written (?P<name>…); its groups are major, minor`,
		},
		{
			name:   "which policies are set",
			config: `{"repository":"r.example/web","tagPolicy":{"glob":"*","regex":"x"}}`,
			want:   `spec.config.tagPolicy: Invalid value: "glob, regex": exactly one of exact, glob, regex or semver may be set`,
		},
		{
			name:   "where the tag goes",
			config: `{"repository":"r.example/web:1"}`,
			want:   `the tag goes in tagPolicy, the digest in digest`,
		},
		{
			name:   "the minimum poll interval",
			config: `{"repository":"r.example/web","pollInterval":"4s"}`,
			want:   `spec.config.pollInterval: Invalid value: "4s": must be at least 5s`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			errs := (&Trigger{}).Validate(testPath, []byte(tt.config))
			if len(errs) != 1 || !strings.Contains(errs[0].Error(), tt.want) {
				t.Errorf("Validate() = %v, want one error containing %q", errs, tt.want)
			}
		})
	}
}

func TestPollInterval(t *testing.T) {
	tests := []struct {
		name   string
		config string
		want   time.Duration
	}{
		{name: "absent", config: `{"repository":"r.example/web"}`, want: 0},
		{name: "set", config: `{"repository":"r.example/web","pollInterval":"1m"}`, want: time.Minute},
		{name: "minimum", config: `{"repository":"r.example/web","pollInterval":"5s"}`, want: 5 * time.Second},
		{name: "invalid config does not poll", config: `{"pollInterval":"1m"}`, want: 0},
		{name: "too short does not poll", config: `{"repository":"r.example/web","pollInterval":"1s"}`, want: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := (&Trigger{}).PollInterval([]byte(tt.config)); got != tt.want {
				t.Errorf("PollInterval = %v, want %v", got, tt.want)
			}
		})
	}
}

// Repositories compare after Docker's normalization.
func TestParseRepository(t *testing.T) {
	tests := []struct {
		name, repo, want string
	}{
		{name: "library", repo: "nginx", want: "docker.io/library/nginx"},
		{name: "docker hub user", repo: "acme/web", want: "docker.io/acme/web"},
		{name: "docker hub in full", repo: "docker.io/library/nginx", want: "docker.io/library/nginx"},
		{name: "index host", repo: "index.docker.io/library/nginx", want: "docker.io/library/nginx"},
		{name: "registry-1 host", repo: "registry-1.docker.io/acme/web", want: "docker.io/acme/web"},
		{name: "other registry", repo: "127.0.0.1:5000/team/web", want: "127.0.0.1:5000/team/web"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseRepository(tt.repo)
			if err != nil || got.Name() != tt.want {
				t.Errorf("parseRepository(%q) = %v, %v; want %s", tt.repo, got, err, tt.want)
			}
		})
	}
}

func FuzzValidate(f *testing.F) {
	for _, seed := range []string{
		``, `{}`, `null`, `[]`, sampleJSON,
		`{"repository":"127.0.0.1:5000/team/web","tagPolicy":{"regex":"^main-(?P<build>\\d+)$","capture":"build"}}`,
		`{"repository":"nginx","tagPolicy":{"glob":"1.*"},"digest":"` + testDigest + `","pollInterval":"5s"}`,
		`{"repository":"r/x","tagPolicy":{"semver":"~1.2 || >=3"},"secretRef":{"name":"a","key":".dockerconfigjson"}}`,
		`{"repository":"r/x","tagPolicy":{"exact":"latest","capture":"x"}}`,
	} {
		f.Add([]byte(seed))
	}
	trig := &Trigger{}
	f.Fuzz(func(t *testing.T, config []byte) {
		errs := trig.Validate(testPath, config)
		for _, e := range errs {
			if !strings.HasPrefix(e.Field, testPath.String()) {
				t.Errorf("error outside the config's path: %v", e)
			}
		}
		if len(errs) > 0 {
			return
		}
		// What passes Validate is usable by Match and Poll.
		set, errs := parseConfig(testPath, config)
		if len(errs) > 0 || set.repo == nil || set.policy == nil {
			t.Fatalf("parseConfig disagrees with Validate: %v", errs)
		}
		if set.PollInterval != "" && trig.PollInterval(config) < MinPollInterval {
			t.Fatalf("pollInterval %q gives %v", set.PollInterval, trig.PollInterval(config))
		}
		if _, err := parseRepository(set.Repository); err != nil {
			t.Fatalf("repository %q: %v", set.Repository, err)
		}
		for _, tag := range []string{"latest", "1.2.3", "v2.0.0-rc1", "main-10", ""} {
			set.policy.admit(tag)
		}
		_ = set.policy.String()
	})
}
