package git

import (
	"strings"
	"testing"
)

func TestMatchGlob(t *testing.T) {
	tests := []struct {
		name    string
		pattern string
		subject string
		want    bool
	}{
		{name: "literal", pattern: "main", subject: "main", want: true},
		{name: "literal mismatch", pattern: "main", subject: "mainline", want: false},
		{name: "star in a segment", pattern: "release/*", subject: "release/1.0", want: true},
		{name: "star does not cross slash", pattern: "release/*", subject: "release/1.0/hotfix", want: false},
		{name: "star needs the folder", pattern: "release/*", subject: "release", want: false},
		{name: "double star", pattern: "release/**", subject: "release/1.0/hotfix", want: true},
		{name: "double star matches zero segments", pattern: "release/**", subject: "release", want: true},
		{name: "double star in the middle", pattern: "a/**/z", subject: "a/b/c/z", want: true},
		{name: "double star in the middle, zero", pattern: "a/**/z", subject: "a/z", want: true},
		{name: "leading double star", pattern: "**/*.go", subject: "cmd/x/main.go", want: true},
		{name: "leading double star, top level", pattern: "**/*.go", subject: "main.go", want: true},
		{name: "prefix star", pattern: "v*", subject: "v1.2.0", want: true},
		{name: "prefix star mismatch", pattern: "v*", subject: "1.2.0", want: false},
		{name: "question mark", pattern: "v?", subject: "v1", want: true},
		{name: "class", pattern: "v[0-9]*", subject: "v2.0", want: true},
		{name: "class mismatch", pattern: "v[0-9]*", subject: "vx", want: false},
		{name: "escape", pattern: `a\*`, subject: "a*", want: true},
		{name: "malformed matches nothing", pattern: "v[", subject: "v[", want: false},
		{name: "many double stars", pattern: strings.Repeat("**/", 30) + "x", subject: strings.Repeat("a/", 50) + "y", want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := matchGlob(tt.pattern, tt.subject); got != tt.want {
				t.Errorf("matchGlob(%q, %q) = %v, want %v", tt.pattern, tt.subject, got, tt.want)
			}
		})
	}
}

func TestMatchGlobOrParent(t *testing.T) {
	tests := []struct {
		name    string
		pattern string
		path    string
		want    bool
	}{
		{name: "folder prefix", pattern: "docs", path: "docs/guide/intro.md", want: true},
		{name: "the file itself", pattern: "go.mod", path: "go.mod", want: true},
		{name: "not a segment prefix", pattern: "doc", path: "docs/x.md", want: false},
		{name: "nested folder", pattern: "services/web", path: "services/web/main.go", want: true},
		{name: "sibling folder", pattern: "services/web", path: "services/api/main.go", want: false},
		{name: "glob folder", pattern: "services/*/api", path: "services/web/api/main.go", want: true},
		{name: "glob file", pattern: "**/*.go", path: "a/b/c.go", want: true},
		{name: "glob file mismatch", pattern: "**/*.go", path: "a/b/c.md", want: false},
		{name: "top-level glob", pattern: "*.md", path: "README.md", want: true},
		{name: "top-level glob stays at the top", pattern: "*.md", path: "docs/README.md", want: false},
		{name: "top-level glob matches a folder", pattern: "d*", path: "docs/README.md", want: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := matchGlobOrParent(tt.pattern, tt.path); got != tt.want {
				t.Errorf("matchGlobOrParent(%q, %q) = %v, want %v", tt.pattern, tt.path, got, tt.want)
			}
		})
	}
}

func FuzzGlob(f *testing.F) {
	for _, seed := range [][2]string{
		{"main", "main"}, {"release/*", "release/1"}, {"**/*.go", "a/b.go"}, {"v[", "v["}, {"a/**/**/b", "a/b"},
		{`\`, `\`}, {"", ""}, {"**", ""},
	} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, pattern, name string) {
		whole := matchGlob(pattern, name)
		parent := matchGlobOrParent(pattern, name)
		if whole && !parent && name != "" {
			t.Errorf("%q matches %q whole but not as a path", pattern, name)
		}
		if validGlob(pattern) != nil && whole {
			t.Errorf("malformed pattern %q matches %q", pattern, name)
		}
		// A pattern without metacharacters matches only itself.
		if !hasGlobMeta(pattern) && whole != (pattern == name) {
			t.Errorf("literal %q vs %q: match = %v", pattern, name, whole)
		}
	})
}
