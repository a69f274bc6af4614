package git

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/util/validation/field"
)

var testPath = field.NewPath("spec", "config")

func TestValidate(t *testing.T) {
	many := make([]string, maxPatterns+1)
	for i := range many {
		many[i] = fmt.Sprintf(`"b%d"`, i)
	}
	tests := []struct {
		name   string
		config string
		// want lists "<field> <type>" of every error, in order.
		want []string
	}{
		{name: "minimal", config: `{"url":"https://github.com/acme/web"}`},
		{name: "sample", config: sampleJSON},
		{name: "scp-like", config: `{"url":"git@github.com:acme/web.git","branches":["main"]}`},
		{name: "local path", config: `{"url":"/srv/git/web.git","tags":["v*"]}`},
		{name: "file URL", config: `{"url":"file:///srv/git/web.git","tagSemver":"^1.4"}`},
		{name: "globs", config: `{"url":"/r","branches":["release/**","feat-[a-z]*"],"paths":["services/*/api","docs/","**/*.go"]}`},
		{name: "secret over https", config: `{"url":"https://h/r","secretRef":{"name":"tok"}}`},
		{name: "empty config", config: ``, want: []string{"spec.config.url FieldValueRequired"}},
		{name: "null config", config: `null`, want: []string{"spec.config.url FieldValueRequired"}},
		{name: "not an object", config: `"https://h/r"`, want: []string{"spec.config FieldValueTypeInvalid"}},
		{name: "not JSON", config: `url: x`, want: []string{"spec.config FieldValueInvalid"}},
		{name: "wrong type stops there", config: `{"url":"/r","branches":"main","tags":[""]}`, want: []string{"spec.config.branches FieldValueTypeInvalid"}},
		{
			name:   "unknown key and missing url",
			config: `{"repo":"https://h/r","branches":["main"]}`,
			want:   []string{"spec.config.repo FieldValueNotSupported", "spec.config.url FieldValueRequired"},
		},
		{name: "duplicate key", config: `{"url":"/a","url":"/b"}`, want: []string{"spec.config.url FieldValueDuplicate"}},
		{name: "relative url", config: `{"url":"web"}`, want: []string{"spec.config.url FieldValueInvalid"}},
		{name: "url scheme", config: `{"url":"ftp://h/r"}`, want: []string{"spec.config.url FieldValueInvalid"}},
		{name: "git+ssh", config: `{"url":"git+ssh://git@github.com/acme/web.git"}`},
		{name: "remote helper address", config: `{"url":"ext::nc%20evil"}`, want: []string{"spec.config.url FieldValueInvalid"}},
		{name: "url too long", config: `{"url":"/` + strings.Repeat("a", maxURLLength) + `"}`, want: []string{"spec.config.url FieldValueTooLong"}},
		{
			name:   "branches",
			config: `{"url":"/r","branches":["main","","refs/heads/x","a b","x..y","a:b","/a","a/","-x","v[","main"]}`,
			want: []string{
				"spec.config.branches[1] FieldValueInvalid",
				"spec.config.branches[2] FieldValueInvalid",
				"spec.config.branches[3] FieldValueInvalid",
				"spec.config.branches[4] FieldValueInvalid",
				"spec.config.branches[5] FieldValueInvalid",
				"spec.config.branches[6] FieldValueInvalid",
				"spec.config.branches[7] FieldValueInvalid",
				"spec.config.branches[8] FieldValueInvalid",
				"spec.config.branches[9] FieldValueInvalid",
				"spec.config.branches[10] FieldValueDuplicate",
			},
		},
		{name: "too many branches", config: `{"url":"/r","branches":[` + strings.Join(many, ",") + `]}`, want: []string{"spec.config.branches FieldValueTooMany"}},
		{name: "branch too long", config: `{"url":"/r","branches":["` + strings.Repeat("b", maxPatternLength+1) + `"]}`, want: []string{"spec.config.branches[0] FieldValueTooLong"}},
		{name: "tags", config: `{"url":"/r","tags":["v*","refs/tags/v1","v~1"]}`, want: []string{"spec.config.tags[1] FieldValueInvalid", "spec.config.tags[2] FieldValueInvalid"}},
		{name: "semver", config: `{"url":"/r","tagSemver":">=banana"}`, want: []string{"spec.config.tagSemver FieldValueInvalid"}},
		{name: "semver too long", config: `{"url":"/r","tagSemver":"` + strings.Repeat("1", maxSemverLength+1) + `"}`, want: []string{"spec.config.tagSemver FieldValueTooLong"}},
		{
			name:   "paths",
			config: `{"url":"/r","paths":["docs","/abs","a//b","../up","./x","a/[","ok/"]}`,
			want: []string{
				"spec.config.paths[1] FieldValueInvalid",
				"spec.config.paths[2] FieldValueInvalid",
				"spec.config.paths[3] FieldValueInvalid",
				"spec.config.paths[4] FieldValueInvalid",
				"spec.config.paths[5] FieldValueInvalid",
			},
		},
		{
			name:   "secret ref",
			config: `{"url":"https://h/r","secretRef":{"key":"a/b"}}`,
			want:   []string{"spec.config.secretRef.name FieldValueRequired", "spec.config.secretRef.key FieldValueInvalid"},
		},
		{name: "secret name", config: `{"url":"https://h/r","secretRef":{"name":"Tok_1"}}`, want: []string{"spec.config.secretRef.name FieldValueInvalid"}},
		{name: "secret over ssh", config: `{"url":"git@h:r","secretRef":{"name":"tok"}}`, want: []string{"spec.config.secretRef FieldValueForbidden"}},
		{name: "secret over http", config: `{"url":"http://h/r","secretRef":{"name":"tok"}}`, want: []string{"spec.config.secretRef FieldValueForbidden"}},
		{name: "secret unknown key", config: `{"url":"https://h/r","secretRef":{"name":"t","optional":true}}`, want: []string{"spec.config.secretRef.optional FieldValueNotSupported"}},
	}
	tr := &Trigger{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			errs := tr.Validate(testPath, []byte(tt.config))
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

// The messages name the field, quote the bad value and say what is wanted,
// except for a URL holding a password, which is never repeated.
func TestValidateMessages(t *testing.T) {
	tests := []struct {
		name    string
		config  string
		want    []string
		wantNot []string
	}{
		{
			name:   "semver",
			config: `{"url":"/r","tagSemver":">=banana"}`,
			want:   []string{`spec.config.tagSemver: Invalid value: ">=banana": must be a semantic version range`},
		},
		{
			name:   "branch pattern",
			config: `{"url":"/r","branches":["release/["]}`,
			want:   []string{`spec.config.branches[0]: Invalid value: "release/[": must be a glob pattern`},
		},
		{
			name:   "refs prefix",
			config: `{"url":"/r","tags":["refs/tags/v1"]}`,
			want:   []string{`spec.config.tags[0]: Invalid value: "refs/tags/v1": must be a branch or tag name`},
		},
		{
			name:    "password in URL",
			config:  `{"url":"https://bot:s3cret@github.com/acme/web.git"}`,
			want:    []string{"spec.config.url: Invalid value: must not carry a password or token: put the token in a Secret"},
			wantNot: []string{"s3cret"},
		},
		{
			name:    "password in scp-like URL",
			config:  `{"url":"bot:s3cret@github.com:acme/web.git"}`,
			want:    []string{"spec.config.url: Invalid value: must not carry a password"},
			wantNot: []string{"s3cret"},
		},
		{
			name:   "unknown key",
			config: `{"url":"/r","branch":"main"}`,
			want:   []string{`spec.config.branch: Unsupported value: "branch": supported values: "branches", "paths", "secretRef", "tagSemver", "tags", "url"`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := (&Trigger{}).Validate(testPath, []byte(tt.config)).ToAggregate().Error()
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("errors %q do not contain %q", got, w)
				}
			}
			for _, w := range tt.wantNot {
				if strings.Contains(got, w) {
					t.Errorf("errors %q contain %q", got, w)
				}
			}
		})
	}
}

func TestParseConfigDefaults(t *testing.T) {
	tests := []struct {
		name         string
		config       string
		wantBranches []string
		wantKey      string
	}{
		{name: "no filters watch the default branches", config: `{"url":"/r"}`, wantBranches: []string{"main", "master"}, wantKey: DefaultSecretKey},
		{name: "tags only watch no branch", config: `{"url":"/r","tags":["v*"]}`, wantBranches: nil, wantKey: DefaultSecretKey},
		{name: "semver only watch no branch", config: `{"url":"/r","tagSemver":">=1"}`, wantBranches: nil, wantKey: DefaultSecretKey},
		{name: "branches as given", config: `{"url":"/r","branches":["dev"],"tags":["v*"]}`, wantBranches: []string{"dev"}, wantKey: DefaultSecretKey},
		{name: "empty branches mean unset", config: `{"url":"/r","branches":[]}`, wantBranches: []string{"main", "master"}, wantKey: DefaultSecretKey},
		{name: "secret key", config: `{"url":"https://h/r","secretRef":{"name":"s","key":"pat"}}`, wantBranches: []string{"main", "master"}, wantKey: "pat"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, errs := parseConfig(testPath, []byte(tt.config))
			if len(errs) > 0 {
				t.Fatal(errs)
			}
			if !slices.Equal(s.Branches, tt.wantBranches) || s.secretKey != tt.wantKey {
				t.Errorf("branches = %q, secret key = %q; want %q, %q", s.Branches, s.secretKey, tt.wantBranches, tt.wantKey)
			}
		})
	}
}

func FuzzValidate(f *testing.F) {
	for _, seed := range []string{
		``, `{}`, `null`, `[]`, sampleJSON, `{"url":"/r"}`, `{"url":"git@h:a/b","branches":["**"],"paths":["a/**/b"]}`,
		`{"url":"https://u:p@h/r"}`, `{"url":"https://h/r","tagSemver":"~1.2 || >=3.0.0-0","secretRef":{"name":"x","key":"y"}}`,
		`{"url":"file:///r","tags":["v[0-9]*"],"branches":["a\\*"]}`,
	} {
		f.Add([]byte(seed))
	}
	tr := &Trigger{}
	f.Fuzz(func(t *testing.T, config []byte) {
		errs := tr.Validate(testPath, config)
		for _, e := range errs {
			if !strings.HasPrefix(e.Field, testPath.String()) {
				t.Errorf("error outside the config's path: %v", e)
			}
		}
		if len(errs) > 0 {
			return
		}
		s, errs := parseConfig(testPath, config)
		if len(errs) > 0 || s.repo.key() == "" {
			t.Fatalf("parseConfig disagrees with Validate: %v", errs)
		}
		if len(s.Branches) == 0 && len(s.Tags) == 0 && s.semver == nil {
			t.Fatalf("a valid config watches nothing: %s", config)
		}
		for _, p := range append(append(slices.Clone(s.Branches), s.Tags...), s.Paths...) {
			if err := validGlob(p); err != nil {
				t.Fatalf("valid config holds a bad pattern %q: %v", p, err)
			}
		}
		if s.TagSemver != "" && s.semver == nil {
			t.Fatalf("tagSemver %q passed but was not parsed", s.TagSemver)
		}
	})
}
