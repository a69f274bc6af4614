package git

import (
	"context"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tinyforge/tinyforge/internal/git/gittest"
)

// Checkout fetches exactly the commit a branch, tag, full ref, commit ID or
// the remote HEAD names, shallowly, from a bare repository by local path,
// over file://, git daemon and smart HTTP.
func TestCheckout(t *testing.T) {
	t.Parallel()
	r := newRepo(t)
	first := gitCmd(t, r.work, "rev-parse", "HEAD")
	gitCmd(t, r.work, "tag", "v1")
	r.write("index.html", "v2\n")
	second := r.commit("second")
	gitCmd(t, r.work, "tag", "--annotate", "-m", "release 2", "v2")
	gitCmd(t, r.work, "checkout", "--quiet", "-b", "feature")
	r.write("index.html", "feature\n")
	feature := r.commit("feature")
	gitCmd(t, r.work, "checkout", "--quiet", "main")
	r.write("index.html", "v3\n")
	third := r.commit("third")
	r.push()

	daemon := gitDaemon(t, filepath.Dir(r.bare))
	web := gittest.Serve(t, filepath.Dir(r.bare), gittest.Options{}).URL
	transports := []struct {
		name string
		url  string
	}{
		{"local path", r.bare},
		{"file", r.url()},
		{"git daemon", daemon + "/site.git"},
		{"smart http", web + "/site.git"},
	}
	tests := []struct {
		name       string
		ref        string
		wantCommit string
		wantBody   string
	}{
		{name: "remote HEAD", ref: "", wantCommit: third, wantBody: "v3\n"},
		{name: "branch", ref: "main", wantCommit: third, wantBody: "v3\n"},
		{name: "other branch", ref: "feature", wantCommit: feature, wantBody: "feature\n"},
		{name: "full ref", ref: "refs/heads/feature", wantCommit: feature, wantBody: "feature\n"},
		{name: "lightweight tag", ref: "v1", wantCommit: first, wantBody: "v1\n"},
		{name: "annotated tag", ref: "v2", wantCommit: second, wantBody: "v2\n"},
		{name: "commit that no ref points at", ref: second, wantCommit: second, wantBody: "v2\n"},
	}
	for _, tr := range transports {
		for _, tt := range tests {
			t.Run(tr.name+"/"+tt.name, func(t *testing.T) {
				dir := filepath.Join(t.TempDir(), "checkout")
				commit, err := Checkout(t.Context(), tr.url, tt.ref, dir)
				if err != nil {
					t.Fatalf("Checkout(%q): %v", tt.ref, err)
				}
				if commit != tt.wantCommit {
					t.Errorf("commit = %s, want %s", commit, tt.wantCommit)
				}
				if got := readFile(t, filepath.Join(dir, "index.html")); got != tt.wantBody {
					t.Errorf("index.html = %q, want %q", got, tt.wantBody)
				}
				if got := gitCmd(t, dir, "rev-parse", "HEAD"); got != tt.wantCommit {
					t.Errorf("HEAD = %s, want %s", got, tt.wantCommit)
				}
				if n := gitCmd(t, dir, "rev-list", "--count", "HEAD"); n != "1" {
					t.Errorf("checkout holds %s commits, want 1 (shallow)", n)
				}
				if tags := gitCmd(t, dir, "tag", "--list"); tags != "" {
					t.Errorf("checkout fetched tags %q", tags)
				}
			})
		}
	}
}

// Failures are errors that say what git said, and refuse what they should
// before git runs.
func TestCheckoutErrors(t *testing.T) {
	t.Parallel()
	r := newRepo(t)
	marker := filepath.Join(t.TempDir(), "pwned")
	nonEmpty := t.TempDir()
	if err := os.WriteFile(filepath.Join(nonEmpty, "x"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		url     string
		ref     string
		dir     string
		wantIs  error
		wantMsg string
	}{
		{name: "missing branch", url: r.url(), ref: "nope", wantIs: ErrNotFound, wantMsg: "couldn't find remote ref nope"},
		{name: "missing commit", url: r.url(), ref: strings.Repeat("ab", 20), wantIs: ErrNotFound, wantMsg: "git fetch"},
		{name: "missing repository", url: "file://" + filepath.Join(t.TempDir(), "none.git"), ref: "main", wantMsg: "does not appear to be a git repository"},
		{name: "option as ref", url: r.url(), ref: "--upload-pack=touch " + marker, wantIs: ErrInvalidRef},
		{name: "refspec as ref", url: r.url(), ref: "main:refs/heads/x", wantIs: ErrInvalidRef},
		{name: "remote helper", url: "ext::sh -c touch% " + marker, ref: "main", wantIs: ErrInvalidURL},
		{name: "option as URL", url: "--upload-pack=touch " + marker, ref: "main", wantIs: ErrInvalidURL},
		{name: "relative path", url: "site.git", ref: "main", wantIs: ErrInvalidURL},
		{name: "non-empty directory", url: r.url(), ref: "main", dir: nonEmpty, wantMsg: "not empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := tt.dir
			if dir == "" {
				dir = filepath.Join(t.TempDir(), "checkout")
			}
			_, err := Checkout(t.Context(), tt.url, tt.ref, dir)
			if err == nil {
				t.Fatal("Checkout succeeded")
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("error %q does not wrap %v", err, tt.wantIs)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("error %q does not contain %q", err, tt.wantMsg)
			}
			t.Logf("error: %v", err)
		})
	}
	if _, err := os.Stat(marker); err == nil {
		t.Error("a refused URL or ref ran a command")
	}
}

// A token authenticates over HTTP; without it git fails at once instead of
// prompting; neither the token nor a token written into the URL shows in
// errors.
func TestCheckoutToken(t *testing.T) {
	t.Parallel()
	r := newRepo(t)
	const token = "s3cr3t-t0ken-0123456789abcdef"
	web := gittest.Serve(t, filepath.Dir(r.bare), gittest.Options{Token: token}).URL
	url := web + "/site.git"

	commit, err := Checkout(t.Context(), url, "main", filepath.Join(t.TempDir(), "ok"), WithToken(token))
	if err != nil {
		t.Fatalf("Checkout with token: %v", err)
	}
	if want := gitCmd(t, r.work, "rev-parse", "HEAD"); commit != want {
		t.Errorf("commit = %s, want %s", commit, want)
	}
	if c, err := LsRemote(t.Context(), url, "main", WithBasicAuth("someone", token)); err != nil || c != commit {
		t.Errorf("LsRemote with basic auth = %s, %v; want %s", c, err, commit)
	}

	tests := []struct {
		name string
		url  string
		opts []Option
	}{
		{name: "no token", url: url},
		{name: "wrong token", url: url, opts: []Option{WithToken("wrong-" + token)}},
		{name: "token in the URL", url: strings.Replace(url, "://", "://wrong-"+token+"@", 1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			start := time.Now()
			_, err := Checkout(ctx, tt.url, "main", filepath.Join(t.TempDir(), "checkout"), tt.opts...)
			if err == nil {
				t.Fatal("Checkout succeeded")
			}
			if ctx.Err() != nil {
				t.Fatalf("Checkout waited for the deadline (a prompt?): %v", err)
			}
			var ge *Error
			if !errors.As(err, &ge) || ge.Stderr == "" {
				t.Errorf("error %q is not an *Error quoting stderr", err)
			}
			if strings.Contains(err.Error(), token) {
				t.Errorf("error shows the token: %v", err)
			}
			t.Logf("failed after %v: %v", time.Since(start).Round(time.Millisecond), err)
		})
	}
}

// The context bounds a fetch from a server that never answers, helpers
// included.
func TestCheckoutTimeout(t *testing.T) {
	t.Parallel()
	addr := hangingServer(t)
	ctx, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := Checkout(ctx, "git://"+addr+"/site.git", "main", filepath.Join(t.TempDir(), "checkout"))
	took := time.Since(start)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Checkout = %v, want a deadline error", err)
	}
	if took > 5*time.Second {
		t.Errorf("Checkout returned after %v, long after its 500ms deadline", took)
	}
	t.Logf("returned after %v: %v", took.Round(time.Millisecond), err)
}

// refsRepo is a served repository with refs of every kind. At the first
// commit: an annotated tag v1, a lightweight tag light, a branch
// release/1.0 and a branch whose name ends in /refs/heads/main, which
// ls-remote's patterns main and refs/heads/main list too. At the second:
// main.
func refsRepo(t *testing.T) (r *testRepo, first, second string) {
	t.Helper()
	r = newRepo(t)
	first = gitCmd(t, r.work, "rev-parse", "HEAD")
	gitCmd(t, r.work, "tag", "--annotate", "-m", "one", "v1")
	gitCmd(t, r.work, "tag", "light")
	gitCmd(t, r.work, "branch", "release/1.0")
	gitCmd(t, r.work, "branch", "mirror/refs/heads/main")
	r.write("index.html", "v2\n")
	second = r.commit("second")
	r.push()
	return r, first, second
}

func TestLsRemote(t *testing.T) {
	t.Parallel()
	r, first, second := refsRepo(t)
	tests := []struct {
		name   string
		ref    string
		want   string
		wantIs error
	}{
		{name: "remote HEAD", ref: "", want: second},
		{name: "branch", ref: "main", want: second},
		{name: "full ref", ref: "refs/heads/main", want: second},
		{name: "annotated tag is peeled", ref: "v1", want: first},
		{name: "lightweight tag", ref: "light", want: first},
		{name: "commit ID as it is", ref: strings.Repeat("c", 40), want: strings.Repeat("c", 40)},
		{name: "missing", ref: "nope", wantIs: ErrNotFound},
		{name: "invalid", ref: "a..b", wantIs: ErrInvalidRef},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := LsRemote(t.Context(), r.url(), tt.ref)
			if tt.wantIs != nil {
				if !errors.Is(err, tt.wantIs) {
					t.Fatalf("LsRemote = %q, %v; want %v", got, err, tt.wantIs)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("LsRemote = %q, %v; want %s", got, err, tt.want)
			}
		})
	}
	if got, err := LsRemote(t.Context(), r.bare, "main"); err != nil || got != second {
		t.Errorf("LsRemote(local path) = %q, %v; want %s", got, err, second)
	}
}

// LsRemoteRefs resolves several full refs with one ls-remote, exactly, and
// leaves out those the repository does not have.
func TestLsRemoteRefs(t *testing.T) {
	t.Parallel()
	r, first, second := refsRepo(t)
	tests := []struct {
		name   string
		url    string
		refs   []string
		want   map[string]string
		wantIs error
	}{
		{name: "branches", refs: []string{"refs/heads/main", "refs/heads/release/1.0"}, want: map[string]string{"refs/heads/main": second, "refs/heads/release/1.0": first}},
		{name: "annotated tag is peeled", refs: []string{"refs/tags/v1"}, want: map[string]string{"refs/tags/v1": first}},
		{name: "lightweight tag", refs: []string{"refs/tags/light"}, want: map[string]string{"refs/tags/light": first}},
		{name: "remote HEAD", refs: []string{"HEAD"}, want: map[string]string{"HEAD": second}},
		{name: "missing ref is absent", refs: []string{"refs/heads/nope", "refs/heads/main"}, want: map[string]string{"refs/heads/main": second}},
		{name: "only exact refs, not tail matches", refs: []string{"refs/heads/main", "refs/heads/1.0"}, want: map[string]string{"refs/heads/main": second}},
		{name: "no refs: git does not run", url: "file:///nonexistent/site.git", refs: nil, want: map[string]string{}},
		{name: "short name", refs: []string{"main"}, wantIs: ErrInvalidRef},
		{name: "invalid full ref", refs: []string{"refs/heads/a..b"}, wantIs: ErrInvalidRef},
		{name: "invalid URL", url: "ext::sh", refs: []string{"refs/heads/main"}, wantIs: ErrInvalidURL},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			url := tt.url
			if url == "" {
				url = r.url()
			}
			got, err := LsRemoteRefs(t.Context(), url, tt.refs)
			if tt.wantIs != nil {
				if !errors.Is(err, tt.wantIs) {
					t.Fatalf("LsRemoteRefs = %v, %v; want %v", got, err, tt.wantIs)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !maps.Equal(got, tt.want) {
				t.Errorf("LsRemoteRefs = %v, want %v", got, tt.want)
			}
		})
	}

	t.Run("missing repository", func(t *testing.T) {
		_, err := LsRemoteRefs(t.Context(), "file://"+filepath.Join(t.TempDir(), "nothing"), []string{"refs/heads/main"})
		var ge *Error
		if !errors.As(err, &ge) || !strings.Contains(ge.Stderr, "does not appear to be a git repository") {
			t.Errorf("LsRemoteRefs = %v, want an *Error quoting git's stderr", err)
		}
	})
	t.Run("server that never answers", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := LsRemoteRefs(ctx, "git://"+hangingServer(t)+"/site.git", []string{"refs/heads/main"})
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("LsRemoteRefs = %v, want a deadline error", err)
		}
		if took := time.Since(start); took > 10*time.Second {
			t.Errorf("LsRemoteRefs returned after %v, long after its 500ms deadline", took)
		}
	})
}

func TestExactRefs(t *testing.T) {
	c1, c2 := strings.Repeat("1", 40), strings.Repeat("2", 40)
	tests := []struct {
		name string
		out  string
		want map[string]string
	}{
		{name: "empty", out: "", want: map[string]string{}},
		{name: "peeled after", out: c1 + "\trefs/tags/v1\n" + c2 + "\trefs/tags/v1^{}\n", want: map[string]string{"refs/tags/v1": c2}},
		{name: "peeled before", out: c2 + "\trefs/tags/v1^{}\n" + c1 + "\trefs/tags/v1\n", want: map[string]string{"refs/tags/v1": c2}},
		{name: "peeled without the tag", out: c2 + "\trefs/tags/v1^{}\n", want: map[string]string{}},
		{name: "refs not asked for", out: c1 + "\trefs/heads/x/refs/tags/v1\n", want: map[string]string{}},
		{name: "lines that are no ref are ignored", out: "warning: something\nxyz\trefs/tags/v1\n", want: map[string]string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := exactRefs(parseLsRemote(tt.out), []string{"refs/tags/v1"}); !maps.Equal(got, tt.want) {
				t.Errorf("exactRefs = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestFindCommit(t *testing.T) {
	t.Parallel()
	r := newRepo(t)
	first := gitCmd(t, r.work, "rev-parse", "HEAD")
	r.write("index.html", "v2\n")
	second := r.commit("second")
	r.write("index.html", "v3\n")
	r.commit("third")
	r.push()
	tests := []struct {
		name   string
		ref    string
		prefix string
		want   string
		wantIs error
	}{
		{name: "oldest commit", ref: "main", prefix: first[:12], want: first},
		{name: "middle commit from HEAD", ref: "", prefix: second[:12], want: second},
		{name: "unknown", ref: "main", prefix: "000000000000", wantIs: ErrNotFound},
		{name: "commit ref", ref: second, prefix: second[:12], want: second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := FindCommit(t.Context(), r.url(), tt.ref, tt.prefix)
			if tt.wantIs != nil {
				if !errors.Is(err, tt.wantIs) {
					t.Fatalf("FindCommit = %q, %v; want %v", got, err, tt.wantIs)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("FindCommit = %q, %v; want %s", got, err, tt.want)
			}
		})
	}
	if got, err := FindCommit(t.Context(), r.bare, "main", first[:12]); err != nil || got != first {
		t.Errorf("FindCommit(local path) = %q, %v; want %s", got, err, first)
	}
	if _, err := FindCommit(t.Context(), r.url(), "main", "ab"); err == nil {
		t.Error("FindCommit accepted a 2-digit prefix")
	}
}

func TestCommitTime(t *testing.T) {
	t.Parallel()
	r := newRepo(t)
	dir := filepath.Join(t.TempDir(), "checkout")
	if _, err := Checkout(t.Context(), r.url(), "", dir); err != nil {
		t.Fatal(err)
	}
	got, err := CommitTime(t.Context(), dir)
	if err != nil {
		t.Fatal(err)
	}
	want := gitCmd(t, r.work, "log", "-1", "--format=%ct")
	if ts, _ := parseUnix(want); !got.Equal(ts) {
		t.Errorf("CommitTime = %v, want %v", got, ts)
	}
}
