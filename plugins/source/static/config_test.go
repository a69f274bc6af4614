package static

import (
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/util/validation/field"
)

var testPath = field.NewPath("spec", "source", "config")

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		config string
		// want lists "<field> <type>" of every error, in order.
		want []string
	}{
		{name: "minimal", config: `{"git":{"url":"https://github.com/acme/site.git"}}`},
		{name: "sample", config: sampleJSON},
		{
			name: "every field",
			config: `{"git":{"url":"file:///srv/git/site.git","ref":"v1.2.0","path":"docs/site"},
				"build":{"image":"node:22-alpine","command":["npm","run","build"],"outputDir":"out/public"},
				"baseImage":"registry.example:5000/web/caddy:2","root":"/srv/www/","port":8080}`,
		},
		{name: "commit ref", config: `{"git":{"url":"git@github.com:acme/site.git","ref":"` + strings.Repeat("a", 40) + `"}}`},
		{name: "empty config", config: ``, want: []string{"spec.source.config.git.url FieldValueRequired"}},
		{name: "not an object", config: `"x"`, want: []string{"spec.source.config FieldValueTypeInvalid"}},
		{name: "git of the wrong type stops there", config: `{"git":"https://x/y","port":"80"}`, want: []string{"spec.source.config.git FieldValueTypeInvalid"}},
		{
			name:   "unknown keys",
			config: `{"git":{"url":"https://h/r","branch":"main"},"image":"x"}`,
			want:   []string{"spec.source.config.git.branch FieldValueNotSupported", "spec.source.config.image FieldValueNotSupported"},
		},
		{name: "password in the URL", config: `{"git":{"url":"https://me:hunter2@github.com/acme/site.git"}}`, want: []string{"spec.source.config.git.url FieldValueInvalid"}},
		{name: "remote helper URL", config: `{"git":{"url":"ext::nc%20x"}}`, want: []string{"spec.source.config.git.url FieldValueInvalid"}},
		{name: "local path URL", config: `{"git":{"url":"/srv/git/site.git"}}`},
		{name: "relative path URL", config: `{"git":{"url":"git/site.git"}}`, want: []string{"spec.source.config.git.url FieldValueInvalid"}},
		{name: "ref as option", config: `{"git":{"url":"https://h/r","ref":"--upload-pack=x"}}`, want: []string{"spec.source.config.git.ref FieldValueInvalid"}},
		{name: "absolute path", config: `{"git":{"url":"https://h/r","path":"/etc"}}`, want: []string{"spec.source.config.git.path FieldValueInvalid"}},
		{name: "dot-dot path", config: `{"git":{"url":"https://h/r","path":"site/../../etc"}}`, want: []string{"spec.source.config.git.path FieldValueInvalid"}},
		{name: "bare dot-dot path", config: `{"git":{"url":"https://h/r","path":".."}}`, want: []string{"spec.source.config.git.path FieldValueInvalid"}},
		{name: "path with a variable", config: `{"git":{"url":"https://h/r","path":"$HOME"}}`, want: []string{"spec.source.config.git.path FieldValueInvalid"}},
		{name: "path with a newline", config: `{"git":{"url":"https://h/r","path":"a\nRUN x"}}`, want: []string{"spec.source.config.git.path FieldValueInvalid"}},
		{
			name:   "build without image or command",
			config: `{"git":{"url":"https://h/r"},"build":{}}`,
			want:   []string{"spec.source.config.build.image FieldValueRequired", "spec.source.config.build.command FieldValueRequired"},
		},
		{
			name:   "build with bad fields",
			config: `{"git":{"url":"https://h/r"},"build":{"image":"Node","command":["","x\u0000"],"outputDir":"../out"}}`,
			want: []string{
				"spec.source.config.build.image FieldValueInvalid",
				"spec.source.config.build.command[0] FieldValueInvalid",
				"spec.source.config.build.command[1] FieldValueInvalid",
				"spec.source.config.build.outputDir FieldValueInvalid",
			},
		},
		{name: "output dir with a glob", config: `{"git":{"url":"https://h/r"},"build":{"image":"n","command":["b"],"outputDir":"dist/*"}}`, want: []string{"spec.source.config.build.outputDir FieldValueInvalid"}},
		{name: "absolute output dir", config: `{"git":{"url":"https://h/r"},"build":{"image":"n","command":["b"],"outputDir":"/dist"}}`, want: []string{"spec.source.config.build.outputDir FieldValueInvalid"}},
		{name: "base image", config: `{"git":{"url":"https://h/r"},"baseImage":"nginx:1 AS x"}`, want: []string{"spec.source.config.baseImage FieldValueInvalid"}},
		{name: "relative root", config: `{"git":{"url":"https://h/r"},"root":"www"}`, want: []string{"spec.source.config.root FieldValueInvalid"}},
		{name: "root is /", config: `{"git":{"url":"https://h/r"},"root":"/"}`, want: []string{"spec.source.config.root FieldValueInvalid"}},
		{name: "root with a variable", config: `{"git":{"url":"https://h/r"},"root":"/www/${X}"}`, want: []string{"spec.source.config.root FieldValueInvalid"}},
		{name: "port", config: `{"git":{"url":"https://h/r"},"port":70000}`, want: []string{"spec.source.config.port FieldValueInvalid"}},
		{name: "negative port", config: `{"git":{"url":"https://h/r"},"port":-1}`, want: []string{"spec.source.config.port FieldValueInvalid"}},
		{name: "token", config: `{"git":{"url":"https://h/r"},"secretRef":{"name":"git-token","key":"pat","username":"me"}}`},
		{
			name:   "token secret without a name",
			config: `{"git":{"url":"https://h/r"},"secretRef":{"key":"a/b"}}`,
			want:   []string{"spec.source.config.secretRef.name FieldValueRequired", "spec.source.config.secretRef.key FieldValueInvalid"},
		},
		{name: "token over ssh", config: `{"git":{"url":"git@h:r"},"secretRef":{"name":"t"}}`, want: []string{"spec.source.config.secretRef FieldValueInvalid"}},
		{name: "token over http", config: `{"git":{"url":"http://h/r"},"secretRef":{"name":"t"}}`, want: []string{"spec.source.config.secretRef FieldValueInvalid"}},
		{name: "user name with a colon", config: `{"git":{"url":"https://h/r"},"secretRef":{"name":"t","username":"a:b"}}`, want: []string{"spec.source.config.secretRef.username FieldValueInvalid"}},
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
				t.Errorf("Validate() =\n  %v\nwant\n  %v\nerrors: %v", got, tt.want, errs)
			}
			for _, e := range errs {
				if strings.Contains(e.Error(), "hunter2") {
					t.Errorf("error shows the password: %v", e)
				}
			}
		})
	}
}

func TestDefaultsAndHash(t *testing.T) {
	set, errs := parseConfig(testPath, []byte(`{"git":{"url":"https://h/r"},"build":{"image":"n","command":["b"]},"secretRef":{"name":"t"}}`))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if set.BaseImage != DefaultBaseImage || set.Root != DefaultRoot || set.Port != DefaultPort ||
		set.Git.Path != "." || set.Build.OutputDir != "dist" || set.SecretRef.Key != "token" {
		t.Errorf("defaults not applied: %+v, build %+v", set.Config, set.Build)
	}

	hash := func(config string) string {
		t.Helper()
		s, errs := parseConfig(testPath, []byte(config))
		if len(errs) > 0 {
			t.Fatal(errs)
		}
		return s.hash
	}
	base := hash(`{"git":{"url":"https://h/r"}}`)
	tests := []struct {
		name   string
		config string
		same   bool
	}{
		{name: "defaults spelled out", config: `{"git":{"url":"https://h/r","path":"."},"baseImage":"nginx:1-alpine","root":"/usr/share/nginx/html/","port":80}`, same: true},
		{name: "other repository and ref", config: `{"git":{"url":"https://other/r","ref":"dev"}}`, same: true},
		{name: "token", config: `{"git":{"url":"https://h/r"},"secretRef":{"name":"t"}}`, same: true},
		{name: "path", config: `{"git":{"url":"https://h/r","path":"site"}}`},
		{name: "base image", config: `{"git":{"url":"https://h/r"},"baseImage":"caddy:2"}`},
		{name: "root", config: `{"git":{"url":"https://h/r"},"root":"/srv"}`},
		{name: "port", config: `{"git":{"url":"https://h/r"},"port":8080}`},
		{name: "build", config: `{"git":{"url":"https://h/r"},"build":{"image":"n","command":["b"]}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := hash(tt.config); (got == base) != tt.same {
				t.Errorf("hash %s vs %s; want same=%v", got, base, tt.same)
			}
		})
	}
}

func TestRevision(t *testing.T) {
	commit := strings.Repeat("0123456789", 4)
	rev := revisionOf(commit, strings.Repeat("abcdef", 10))
	if rev != "012345678901-abcdefab" {
		t.Fatalf("revisionOf = %q", rev)
	}
	tests := []struct {
		name       string
		rev        string
		wantPrefix string
		wantHash   string
		wantOK     bool
	}{
		{name: "own", rev: rev, wantPrefix: "012345678901", wantHash: "abcdefab", wantOK: true},
		{name: "commit", rev: commit},
		{name: "digest", rev: "sha256:" + strings.Repeat("a", 64)},
		{name: "short", rev: "0123-abcd"},
		{name: "upper case", rev: "012345678901-ABCDEFAB"},
		{name: "empty", rev: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, h, ok := parseRevision(tt.rev)
			if c != tt.wantPrefix || h != tt.wantHash || ok != tt.wantOK {
				t.Errorf("parseRevision(%q) = %q, %q, %v", tt.rev, c, h, ok)
			}
		})
	}
}

func FuzzValidate(f *testing.F) {
	for _, seed := range []string{
		``, `{}`, `null`, `[]`, sampleJSON,
		`{"git":{"url":"https://h/r","path":"../x"}}`,
		`{"git":{"url":"file:///x","ref":"v1"},"build":{"image":"n","command":["b"],"outputDir":"."},"root":"/www","port":8080}`,
		`{"git":{"url":"https://u:p@h/r"},"secretRef":{"name":"x","key":""}}`,
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
		// What passes Validate renders a Dockerfile whose every line is
		// one instruction, and a revision that parses back.
		set, errs := parseConfig(testPath, config)
		if len(errs) > 0 {
			t.Fatalf("parseConfig disagrees with Validate: %v", errs)
		}
		for line := range strings.Lines(dockerfile(set, map[string]string{"k": set.Git.URL})) {
			word, _, _ := strings.Cut(line, " ")
			if !slices.Contains([]string{"FROM", "COPY", "WORKDIR", "RUN", "LABEL"}, word) {
				t.Fatalf("Dockerfile line %q starts with %q", line, word)
			}
		}
		if _, _, ok := parseRevision(revisionOf(strings.Repeat("a", 40), set.hash)); !ok {
			t.Fatalf("revision of hash %q does not parse", set.hash)
		}
	})
}
