package git

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// symlinkTree makes, under a temporary directory:
//
//	root/site/index.html
//	root/site/inner -> ../assets
//	root/assets/logo.png
//	root/up -> ..              (the directory holding root)
//	root/out -> ../outside     (a sibling of root)
//	root/abs-out -> <tmp>/outside
//	root/abs-in -> <root>/assets
//	root/loop1 -> loop2, root/loop2 -> loop1
//	root/sneaky -> site/../../outside
//	root/chain -> site/inner   (a link to a link inside)
//	outside/secret
//
// and returns the real path of root and of outside.
func symlinkTree(t testing.TB) (root, outside string) {
	t.Helper()
	tmp, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	root, outside = filepath.Join(tmp, "root"), filepath.Join(tmp, "outside")
	for _, d := range []string{"site", "assets"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(outside, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, content := range map[string]string{
		filepath.Join(root, "site", "index.html"): "hi",
		filepath.Join(root, "assets", "logo.png"): "png",
		filepath.Join(outside, "secret"):          "secret",
	} {
		if err := os.WriteFile(name, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	links := [][2]string{
		{"site/inner", "../assets"},
		{"up", ".."},
		{"out", "../outside"},
		{"abs-out", outside},
		{"abs-in", filepath.Join(root, "assets")},
		{"loop1", "loop2"},
		{"loop2", "loop1"},
		{"sneaky", "site/../../outside"},
		{"chain", "site/inner"},
	}
	for _, l := range links {
		if err := os.Symlink(l[1], filepath.Join(root, filepath.FromSlash(l[0]))); err != nil {
			t.Fatal(err)
		}
	}
	return root, outside
}

func TestSafeJoin(t *testing.T) {
	t.Parallel()
	root, _ := symlinkTree(t)
	tests := []struct {
		name string
		rel  string
		// want is relative to root; empty with wantErr.
		want    string
		wantErr string
	}{
		{name: "empty is root", rel: "", want: "."},
		{name: "dot is root", rel: ".", want: "."},
		{name: "folder", rel: "site", want: "site"},
		{name: "trailing slash", rel: "site/", want: "site"},
		{name: "dot-dot inside", rel: "site/../assets", want: "assets"},
		{name: "missing tail is joined", rel: "site/new/dir", want: "site/new/dir"},
		{name: "below a file", rel: "site/index.html/x", want: "site/index.html/x"},
		{name: "link inside", rel: "site/inner/logo.png", want: "assets/logo.png"},
		{name: "link to a link inside", rel: "chain", want: "assets"},
		{name: "absolute link inside", rel: "abs-in/logo.png", want: "assets/logo.png"},
		{name: "absolute", rel: "/etc/passwd", wantErr: "absolute"},
		{name: "dot-dot out", rel: "../outside/secret", wantErr: "climbs out"},
		{name: "dot-dot out after a folder", rel: "site/../../outside", wantErr: "climbs out"},
		{name: "bare dot-dot", rel: "..", wantErr: "climbs out"},
		{name: "link to the parent", rel: "up", wantErr: "leads out"},
		{name: "link to a sibling", rel: "out/secret", wantErr: "leads out"},
		{name: "absolute link outside", rel: "abs-out", wantErr: "outside the checkout"},
		{name: "absolute link outside, below it", rel: "abs-out/secret", wantErr: "outside the checkout"},
		{name: "link climbing through a folder", rel: "sneaky", wantErr: "leads out"},
		{name: "loop", rel: "loop1", wantErr: "too many levels"},
		{name: "NUL", rel: "site\x00x", wantErr: "NUL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := SafeJoin(root, tt.rel)
			if tt.wantErr != "" {
				if !errors.Is(err, ErrUnsafePath) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("SafeJoin(%q) = %q, %v; want ErrUnsafePath mentioning %q", tt.rel, got, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("SafeJoin(%q): %v", tt.rel, err)
			}
			if want := filepath.Join(root, filepath.FromSlash(tt.want)); got != want {
				t.Errorf("SafeJoin(%q) = %q, want %q", tt.rel, got, want)
			}
		})
	}

	// A root reached through a symlink is resolved first.
	alias := filepath.Join(filepath.Dir(root), "alias")
	if err := os.Symlink(root, alias); err != nil {
		t.Fatal(err)
	}
	if got, err := SafeJoin(alias, "site"); err != nil || got != filepath.Join(root, "site") {
		t.Errorf("SafeJoin(alias, site) = %q, %v; want %q", got, err, filepath.Join(root, "site"))
	}
	if _, err := SafeJoin(filepath.Join(root, "missing"), "x"); err == nil {
		t.Error("SafeJoin accepted a root that does not exist")
	}
}

// Whatever rel is, SafeJoin's answer is root or a path under it, and it
// never panics.
func FuzzSafeJoin(f *testing.F) {
	for _, seed := range []string{
		"", ".", "site", "site/../assets", "../x", "/etc", "up/x", "out/secret", "abs-out",
		"abs-in/logo.png", "site/inner/../../up", "loop1/x", "sneaky/secret", "chain/../..", "a\x00b", `..\..`,
	} {
		f.Add(seed)
	}
	root, _ := symlinkTree(f)
	f.Fuzz(func(t *testing.T, rel string) {
		got, err := SafeJoin(root, rel)
		if err != nil {
			return
		}
		if !within(root, got) {
			t.Fatalf("SafeJoin(%q) = %q, outside %q", rel, got, root)
		}
		// What it names resolves inside root as far as it exists.
		if real, err := filepath.EvalSymlinks(got); err == nil && !within(root, real) {
			t.Fatalf("SafeJoin(%q) = %q, which resolves to %q outside %q", rel, got, real, root)
		}
	})
}
