package git

import (
	"errors"
	"strings"
	"testing"
)

func TestValidateURL(t *testing.T) {
	tests := []struct {
		name    string
		url     string
		wantErr string
	}{
		{name: "https", url: "https://github.com/acme/site.git"},
		{name: "https with port and user", url: "https://deploy@git.example:8443/acme/site"},
		{name: "http", url: "http://git.example/acme/site.git"},
		{name: "ssh", url: "ssh://git@github.com/acme/site.git"},
		{name: "git daemon", url: "git://127.0.0.1:9418/site.git"},
		{name: "file", url: "file:///srv/git/site.git"},
		{name: "scp-like", url: "git@github.com:acme/site.git"},
		{name: "local path", url: "/srv/git/site.git"},
		{name: "local path with a colon", url: "/srv/git/a:b"},
		{name: "git+ssh", url: "git+ssh://git@github.com/acme/site.git"},
		{name: "ssh+git", url: "SSH+GIT://git@github.com/acme/site.git"},
		{name: "empty", url: "", wantErr: "empty"},
		{name: "password", url: "https://user:hunter2@github.com/acme/site.git", wantErr: "password"},
		{name: "unknown scheme", url: "ftp://example.com/site.git", wantErr: "scheme"},
		{name: "remote helper", url: "ext::sh -c id", wantErr: "whitespace"},
		{name: "remote helper without space", url: "ext::nc%20evil", wantErr: "remote helper"},
		{name: "fd helper", url: "fd::3", wantErr: "remote helper"},
		{name: "option", url: "-uhttps://x", wantErr: "starts with '-'"},
		{name: "ssh host as option", url: "ssh://-oProxyCommand=id/x", wantErr: "host starts with '-'"},
		{name: "scp host as option", url: "-oProxyCommand=id:x", wantErr: "starts with '-'"},
		{name: "scp user and host as option", url: "git@-oProxyCommand=id:x", wantErr: "host starts with '-'"},
		{name: "relative path", url: "site.git", wantErr: "absolute local path"},
		{name: "relative path with a slash", url: "git/site.git", wantErr: "absolute local path"},
		{name: "no host", url: "https:///acme/site", wantErr: "no host"},
		{name: "file with host", url: "file://server/site.git", wantErr: "no host"},
		{name: "file without path", url: "file://", wantErr: "no path"},
		{name: "newline", url: "https://github.com/acme\n/site", wantErr: "whitespace"},
		{name: "query", url: "https://github.com/acme/site?x=1", wantErr: "query"},
		{name: "too long", url: "https://github.com/" + strings.Repeat("a", MaxURLLength), wantErr: "longer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidateURL(tt.url)
			if tt.wantErr == "" {
				if err != nil {
					t.Errorf("ValidateURL(%q) = %v", tt.url, err)
				}
				return
			}
			if !errors.Is(err, ErrInvalidURL) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ValidateURL(%q) = %v, want ErrInvalidURL mentioning %q", tt.url, err, tt.wantErr)
			}
			if err != nil && strings.Contains(err.Error(), "hunter2") {
				t.Errorf("error shows the password: %v", err)
			}
		})
	}
}

// The schemes git deprecates reach git as ssh://; every other URL as it is.
func TestRemoteURL(t *testing.T) {
	for raw, want := range map[string]string{
		"git+ssh://git@example.com/mike/diaspora": "ssh://git@example.com/mike/diaspora",
		"Ssh+Git://example.com:2222/a/b.git":      "ssh://example.com:2222/a/b.git",
		"ssh://git@example.com/a/b.git":           "ssh://git@example.com/a/b.git",
		"https://example.com/git+ssh://x":         "https://example.com/git+ssh://x",
		"/srv/git/a#b%c?d":                        "/srv/git/a#b%c?d",
		"git@example.com:a/b.git":                 "git@example.com:a/b.git",
	} {
		if got := remoteURL(raw); got != want {
			t.Errorf("remoteURL(%q) = %q, want %q", raw, got, want)
		}
	}
}

func TestValidateRef(t *testing.T) {
	tests := []struct {
		name    string
		ref     string
		wantErr bool
	}{
		{name: "empty", ref: ""},
		{name: "branch", ref: "main"},
		{name: "nested branch", ref: "feature/new-site"},
		{name: "tag", ref: "v1.2.0"},
		{name: "full ref", ref: "refs/heads/main"},
		{name: "HEAD", ref: "HEAD"},
		{name: "sha1", ref: strings.Repeat("a1", 20)},
		{name: "sha256", ref: strings.Repeat("b2", 32)},
		{name: "short hex is a name", ref: "abc1234"},
		{name: "option", ref: "--upload-pack=id", wantErr: true},
		{name: "forced refspec", ref: "+main", wantErr: true},
		{name: "refspec", ref: "main:other", wantErr: true},
		{name: "dot-dot", ref: "a..b", wantErr: true},
		{name: "reflog", ref: "main@{1}", wantErr: true},
		{name: "at", ref: "@", wantErr: true},
		{name: "space", ref: "my branch", wantErr: true},
		{name: "glob", ref: "v*", wantErr: true},
		{name: "caret", ref: "main^", wantErr: true},
		{name: "lock", ref: "main.lock", wantErr: true},
		{name: "dot component", ref: "a/.b", wantErr: true},
		{name: "trailing slash", ref: "a/", wantErr: true},
		{name: "double slash", ref: "a//b", wantErr: true},
		{name: "trailing dot", ref: "a.", wantErr: true},
		{name: "control", ref: "a\x7fb", wantErr: true},
		{name: "too long", ref: strings.Repeat("a", MaxRefLength+1), wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidateRef(tt.ref)
			if (err != nil) != tt.wantErr {
				t.Errorf("ValidateRef(%q) = %v, want error %v", tt.ref, err, tt.wantErr)
			}
			if err != nil && !errors.Is(err, ErrInvalidRef) {
				t.Errorf("error %v does not wrap ErrInvalidRef", err)
			}
		})
	}
}

func TestRedactURLs(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{name: "no URL", in: "fatal: nope", want: "fatal: nope"},
		{name: "no user", in: "fatal: repository 'https://h/r' not found", want: "fatal: repository 'https://h/r' not found"},
		{name: "user and password", in: "fetch https://u:p@h/r main", want: "fetch https://***@h/r main"},
		{name: "token as user", in: "'https://ghp_abc@h:8443/r'", want: "'https://***@h:8443/r'"},
		{name: "two URLs", in: "a https://x@h b http://y:z@k/", want: "a https://***@h b http://***@k/"},
		{name: "scp-like kept", in: "git@github.com:acme/site", want: "git@github.com:acme/site"},
		{name: "at in path kept", in: "https://h/r@x", want: "https://h/r@x"},
		{name: "URL at the end", in: "x https://u:p@h", want: "x https://***@h"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := RedactURLs(tt.in); got != tt.want {
				t.Errorf("RedactURLs(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

// Validation never panics, and never quotes a password of the URL.
func FuzzValidateURL(f *testing.F) {
	for _, seed := range []string{
		"https://github.com/a/b", "https://u:pw@h/x", "git@h:p", "file:///x", "ext::x", "ssh://-o/x",
		"http://[::1]:80/x", "https://%zz", "a:b", "::", "-", "", "/srv/x", "git+ssh://h/x", "SSH+GIT://-x/y",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, url string) {
		err := ValidateURL(url)
		if err == nil {
			// What git is given cannot be read as an option or a helper.
			if r := remoteURL(url); strings.HasPrefix(r, "-") || isHelperAddress(r) || strings.IndexFunc(r, isSpaceOrControl) >= 0 {
				t.Fatalf("ValidateURL accepted %q, which reaches git as %q", url, r)
			}
			return
		}
		if !errors.Is(err, ErrInvalidURL) {
			t.Fatalf("ValidateURL(%q) = %v, not ErrInvalidURL", url, err)
		}
		if _, rest, ok := strings.Cut(url, "://"); ok {
			if userinfo, _, ok := strings.Cut(rest, "@"); ok && len(userinfo) >= 8 && strings.Contains(err.Error(), userinfo) {
				t.Fatalf("ValidateURL(%q) = %v, which quotes the user information", url, err)
			}
		}
	})
}

// A ref ValidateRef accepts cannot be read by git as an option or refspec.
func FuzzValidateRef(f *testing.F) {
	for _, seed := range []string{"main", "refs/heads/x", "v1.0", "-x", "+x", "a:b", "a..b", strings.Repeat("f", 40), ""} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, ref string) {
		if ValidateRef(ref) != nil {
			return
		}
		if strings.HasPrefix(ref, "-") || strings.HasPrefix(ref, "+") || strings.ContainsAny(ref, ": \t\n\x00") {
			t.Fatalf("ValidateRef accepted %q", ref)
		}
	})
}

// Redaction never panics and leaves no user information in a URL.
func FuzzRedactURLs(f *testing.F) {
	for _, seed := range []string{"https://u:p@h/x", "a://@", "://", "x https://a@b@c/d", ""} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := RedactURLs(s)
		if strings.Contains(s, "://") && !strings.Contains(s, "@") && out != s {
			t.Fatalf("RedactURLs(%q) = %q changed a string without user information", s, out)
		}
	})
}
