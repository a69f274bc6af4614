package git

import (
	"errors"
	"net/url"
	"strings"
	"testing"
)

func TestParseRepoURL(t *testing.T) {
	tests := []struct {
		name    string
		raw     string
		wantKey string
		wantErr error
	}{
		{name: "https", raw: "https://github.com/acme/web", wantKey: "github.com/acme/web"},
		{name: "https with .git and slash", raw: "https://github.com/acme/web.git/", wantKey: "github.com/acme/web"},
		{name: "host case and user", raw: "https://bot@GitHub.COM/acme/web.git", wantKey: "github.com/acme/web"},
		{name: "path case is kept", raw: "https://github.com/Acme/Web", wantKey: "github.com/Acme/Web"},
		{name: "http with port", raw: "http://localhost:3000/example/example.git", wantKey: "localhost/example/example"},
		{name: "scp-like", raw: "git@github.com:acme/web.git", wantKey: "github.com/acme/web"},
		{name: "scp-like without user", raw: "github.com:acme/web", wantKey: "github.com/acme/web"},
		{name: "scp-like ipv6", raw: "git@[::1]:acme/web.git", wantKey: "::1/acme/web"},
		{name: "ssh URL with port", raw: "ssh://git@example.com:2222/mike/diaspora.git", wantKey: "example.com/mike/diaspora"},
		{name: "git+ssh", raw: "git+ssh://git@example.com/mike/diaspora", wantKey: "example.com/mike/diaspora"},
		{name: "git protocol", raw: "git://example.com/mike/diaspora.git", wantKey: "example.com/mike/diaspora"},
		{name: "double slashes", raw: "https://example.com//a//b//", wantKey: "example.com/a/b"},
		{name: "file URL", raw: "file:///srv/git/web.git", wantKey: "file:///srv/git/web"},
		{name: "file URL on localhost", raw: "file://localhost/srv/git/web/", wantKey: "file:///srv/git/web"},
		{name: "absolute path", raw: "/srv/git/web.git/", wantKey: "file:///srv/git/web"},
		{name: "root path", raw: "/", wantKey: "file:///"},
		{name: "empty", raw: "", wantErr: errNotAURL},
		{name: "relative path", raw: "srv/web", wantErr: errRelativeLocalDir},
		{name: "leading dash", raw: "-uhttps://x/y", wantErr: errURLLeadingDash},
		{name: "space", raw: "https://x/a b", wantErr: errURLControl},
		{name: "newline", raw: "https://x/a\nb", wantErr: errURLControl},
		{name: "ext transport", raw: "ext::sh -c touch% /tmp/pwned", wantErr: errURLControl},
		{name: "unknown scheme", raw: "ftp://example.com/a/b", wantErr: errUnsupportedURL},
		{name: "password", raw: "https://user:s3cret@example.com/a/b", wantErr: errURLPassword},
		{name: "scp-like password", raw: "user:s3cret@example.com:a/b", wantErr: errURLPassword},
		{name: "query", raw: "https://example.com/a/b?x=1", wantErr: errURLQuery},
		{name: "fragment", raw: "https://example.com/a/b#main", wantErr: errURLQuery},
		{name: "no host", raw: "https:///a/b", wantErr: errURLNoHost},
		{name: "no path", raw: "https://example.com/", wantErr: errURLNoPath},
		{name: "only .git", raw: "https://example.com/.git", wantErr: errURLNoPath},
		{name: "scp-like no path", raw: "git@example.com:", wantErr: errURLNoPath},
		{name: "scp-like no host", raw: "git@:a/b", wantErr: errURLNoHost},
		{name: "file URL with host", raw: "file://server/srv/web", wantErr: errFileURLWithHost},
		{name: "bad port", raw: "https://example.com:99999/a/b", wantErr: errNotAURL},
		{name: "bad escape", raw: "https://example.com/a%zz", wantErr: errNotAURL},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := parseRepoURL(tt.raw)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("parseRepoURL(%q) = %+v, %v; want error %v", tt.raw, u, err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "s3cret") {
					t.Errorf("error %q quotes the password", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseRepoURL(%q): %v", tt.raw, err)
			}
			if got := u.key(); got != tt.wantKey {
				t.Errorf("key = %q, want %q", got, tt.wantKey)
			}
		})
	}
}

func TestSameRepository(t *testing.T) {
	tests := []struct {
		name string
		a, b string
		same bool
	}{
		{name: "https and scp-like", a: "https://github.com/a/b", b: "git@github.com:a/b.git", same: true},
		{name: "https and ssh URL", a: "https://github.com/a/b.git", b: "ssh://git@github.com:22/a/b/", same: true},
		{name: "clone and html URLs of a gitea push", a: "http://localhost:3000/example/example.git", b: "git@localhost:example/example.git", same: true},
		{name: "host case", a: "https://GITHUB.com/a/b", b: "https://github.com/a/b", same: true},
		{name: "git and http", a: "git://example.com/a/b", b: "http://example.com/a/b.git", same: true},
		{name: "file URL and path", a: "file:///srv/web.git", b: "/srv/web", same: true},
		{name: "other repository", a: "https://github.com/a/b", b: "https://github.com/a/c", same: false},
		{name: "other owner", a: "https://github.com/a/b", b: "https://github.com/x/b", same: false},
		{name: "other host", a: "https://github.com/a/b", b: "https://gitlab.com/a/b", same: false},
		{name: "path case", a: "https://github.com/a/b", b: "https://github.com/A/b", same: false},
		{name: "nested group", a: "https://gitlab.com/g/a/b", b: "https://gitlab.com/a/b", same: false},
		{name: "file and remote", a: "file:///github.com/a/b", b: "https://github.com/a/b", same: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ua, err := parseRepoURL(tt.a)
			if err != nil {
				t.Fatal(err)
			}
			ub, err := parseEventURL(tt.b)
			if err != nil {
				t.Fatal(err)
			}
			if got := ua.key() == ub.key(); got != tt.same {
				t.Errorf("same(%q, %q) = %v (keys %q, %q)", tt.a, tt.b, got, ua.key(), ub.key())
			}
		})
	}
}

// An event's URL may carry credentials (not ours to judge); they are
// ignored for matching and never appear in the key.
func TestParseEventURLIgnoresPasswords(t *testing.T) {
	for _, raw := range []string{"https://u:s3cret@example.com/a/b.git", "u:s3cret@example.com:a/b.git"} {
		u, err := parseEventURL(raw)
		if err != nil {
			t.Fatalf("parseEventURL(%q): %v", raw, err)
		}
		if got := u.key(); got != "example.com/a/b" {
			t.Errorf("key(%q) = %q", raw, got)
		}
	}
}

func FuzzNormalizeURL(f *testing.F) {
	for _, seed := range []string{
		"https://github.com/a/b.git", "git@github.com:a/b.git", "ssh://git@host:22/a/b/", "file:///srv/x.git",
		"/srv/x", "git@[::1]:a", "u:p@h:x/y", "https://u:p@h/x?y#z", "", "-", "http://h:0/x", "::", "a:b",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		u, err := parseRepoURL(raw)
		ev, evErr := parseEventURL(raw)
		if err == nil && (evErr != nil || ev != u) {
			t.Fatalf("config and event parsing disagree on %q: %+v %v / %+v %v", raw, u, err, ev, evErr)
		}
		if evErr != nil {
			return
		}
		u = ev
		key := u.key()
		if u.host != strings.ToLower(u.host) {
			t.Errorf("host %q of %q is not lowercase", u.host, raw)
		}
		if u.scheme != schemeFile && (u.path == "" || strings.HasSuffix(u.path, "/") || strings.HasPrefix(u.path, "/")) {
			t.Errorf("path %q of %q is not trimmed", u.path, raw)
		}
		if err == nil && strings.Contains(key, "@") && strings.Count(raw, "@") == 0 {
			t.Errorf("key %q of %q grew an @", key, raw)
		}
		// Normalizing is idempotent: the key, written back as a URL, is the
		// same repository.
		var again string
		if u.scheme == schemeFile {
			again = (&url.URL{Scheme: "file", Path: u.path}).String()
		} else {
			again = (&url.URL{Scheme: "https", Host: bracketIPv6(u.host), Path: "/" + u.path}).String()
		}
		u2, err := parseEventURL(again)
		if err != nil {
			// Some hosts parse only in scp-like form (an IPv6 zone,
			// characters url.Parse refuses in a host).
			return
		}
		if u2.key() != key {
			t.Errorf("key of %q is %q, but of %q is %q", raw, key, again, u2.key())
		}
	})
}

func bracketIPv6(h string) string {
	if strings.Contains(h, ":") {
		return "[" + h + "]"
	}
	return h
}
