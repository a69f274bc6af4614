package git

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// Why a URL, ref or path is refused; match them with errors.Is.
var (
	// ErrInvalidURL: the repository URL is not one git may fetch from.
	ErrInvalidURL = errors.New("invalid repository URL")
	// ErrInvalidRef: the ref is neither a ref name nor a full commit ID.
	ErrInvalidRef = errors.New("invalid ref")
	// ErrNotFound: the repository has no such ref or commit.
	ErrNotFound = errors.New("not found in the repository")
)

const (
	// MaxURLLength matches the API's limit on a Rollout's git URL.
	MaxURLLength = 2048
	// MaxRefLength matches the API's limit on a Rollout's git ref.
	MaxRefLength = 256
)

// Schemes lists the URL schemes a repository URL may have. Besides them,
// scp-like addresses (git@host:path, which git reaches over ssh) and
// absolute local paths are accepted.
var Schemes = []string{"https", "http", "ssh", "git", "file", "git+ssh", "ssh+git"}

// ValidateURL checks that rawURL is a repository URL git may fetch from:
// scheme://[user@]host/path with one of Schemes (file:///path has no host),
// an scp-like [user@]host:path, or an absolute local path (/srv/git/site.git,
// which git reads as it is, with no escapes). It refuses remote-helper addresses
// (ext::…, which run commands), anything that git could read as an option,
// whitespace, and passwords written into the URL (credentials belong in a
// Secret). The error never quotes the URL's user information.
func ValidateURL(rawURL string) error {
	switch {
	case rawURL == "":
		return fmt.Errorf("%w: empty", ErrInvalidURL)
	case len(rawURL) > MaxURLLength:
		return fmt.Errorf("%w: longer than %d characters", ErrInvalidURL, MaxURLLength)
	case strings.IndexFunc(rawURL, isSpaceOrControl) >= 0:
		return fmt.Errorf("%w: contains whitespace or control characters", ErrInvalidURL)
	case strings.HasPrefix(rawURL, "-"):
		return fmt.Errorf("%w: starts with '-'", ErrInvalidURL)
	case isHelperAddress(rawURL):
		return fmt.Errorf("%w: remote helper addresses (<transport>::<address>) are not allowed", ErrInvalidURL)
	}
	if strings.HasPrefix(rawURL, "/") {
		return nil
	}
	if strings.Contains(rawURL, "://") {
		return validateSchemeURL(rawURL)
	}
	// scp-like: [user@]host:path, with no slash before the colon.
	colon := strings.IndexByte(rawURL, ':')
	if colon < 0 || strings.Contains(rawURL[:colon], "/") {
		return fmt.Errorf("%w: must be scheme://host/path (%s), user@host:path or an absolute local path",
			ErrInvalidURL, strings.Join(Schemes, ", "))
	}
	host := rawURL[:colon]
	if at := strings.LastIndexByte(host, '@'); at >= 0 {
		host = host[at+1:]
	}
	switch {
	case host == "":
		return fmt.Errorf("%w: user@host:path has no host", ErrInvalidURL)
	case strings.HasPrefix(host, "-"):
		return fmt.Errorf("%w: host starts with '-'", ErrInvalidURL)
	case rawURL[colon+1:] == "":
		return fmt.Errorf("%w: user@host:path has no path", ErrInvalidURL)
	}
	return nil
}

// remoteURL is rawURL, which ValidateURL accepted, as git is given it: the
// git+ssh:// and ssh+git:// schemes, which git deprecates and reads case
// sensitively, become ssh://, the same transport.
func remoteURL(rawURL string) string {
	if scheme, rest, ok := strings.Cut(rawURL, "://"); ok && (strings.EqualFold(scheme, "git+ssh") || strings.EqualFold(scheme, "ssh+git")) {
		return "ssh://" + rest
	}
	return rawURL
}

func validateSchemeURL(rawURL string) error {
	u, err := url.Parse(rawURL)
	if err != nil {
		// url's errors quote the whole URL, credentials included.
		return fmt.Errorf("%w: does not parse as a URL", ErrInvalidURL)
	}
	scheme := strings.ToLower(u.Scheme)
	known := false
	for _, s := range Schemes {
		known = known || scheme == s
	}
	if !known {
		return fmt.Errorf("%w: scheme %q is not one of %s", ErrInvalidURL, u.Scheme, strings.Join(Schemes, ", "))
	}
	if u.User != nil {
		if _, ok := u.User.Password(); ok {
			return fmt.Errorf("%w: holds a password; put credentials in a Secret instead", ErrInvalidURL)
		}
	}
	switch {
	case scheme == "file":
		if u.Host != "" && u.Host != "localhost" {
			return fmt.Errorf("%w: file URLs name no host (file:///path)", ErrInvalidURL)
		}
		if u.Path == "" || u.Path == "/" {
			return fmt.Errorf("%w: file URL has no path", ErrInvalidURL)
		}
	case u.Hostname() == "":
		return fmt.Errorf("%w: %s URL has no host", ErrInvalidURL, scheme)
	case strings.HasPrefix(u.Hostname(), "-"):
		return fmt.Errorf("%w: host starts with '-'", ErrInvalidURL)
	case u.RawQuery != "" || u.Fragment != "":
		return fmt.Errorf("%w: has a query or fragment", ErrInvalidURL)
	}
	return nil
}

// isHelperAddress reports whether s is <transport>::<address>, which makes
// git run git-remote-<transport>.
func isHelperAddress(s string) bool {
	i := strings.Index(s, "::")
	if i <= 0 {
		return false
	}
	for _, c := range s[:i] {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '+' || c == '.' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// ValidateRef checks that ref names what Checkout can fetch: empty (the
// remote's HEAD), a full commit ID (40 or 64 lowercase hex digits), or a
// ref name as git check-ref-format --allow-onelevel accepts it (a branch
// such as main, a tag such as v1.2.0, or a full name such as
// refs/heads/main). It also refuses what git would read as an option or a
// refspec ('-' or '+' first).
func ValidateRef(ref string) error {
	switch {
	case ref == "" || IsCommitID(ref):
		return nil
	case len(ref) > MaxRefLength:
		return fmt.Errorf("%w: longer than %d characters", ErrInvalidRef, MaxRefLength)
	case strings.HasPrefix(ref, "-"), strings.HasPrefix(ref, "+"):
		return fmt.Errorf("%w: %q starts with %q", ErrInvalidRef, ref, ref[:1])
	case ref == "@":
		return fmt.Errorf("%w: %q", ErrInvalidRef, ref)
	case strings.IndexFunc(ref, isSpaceOrControl) >= 0:
		return fmt.Errorf("%w: %q contains whitespace or control characters", ErrInvalidRef, ref)
	case strings.ContainsAny(ref, "~^:?*[\\"):
		return fmt.Errorf("%w: %q contains one of ~ ^ : ? * [ \\", ErrInvalidRef, ref)
	case strings.Contains(ref, ".."), strings.Contains(ref, "@{"), strings.Contains(ref, "//"):
		return fmt.Errorf("%w: %q contains '..', '@{' or '//'", ErrInvalidRef, ref)
	case strings.HasPrefix(ref, "/"), strings.HasSuffix(ref, "/"), strings.HasSuffix(ref, "."):
		return fmt.Errorf("%w: %q starts with '/' or ends with '/' or '.'", ErrInvalidRef, ref)
	}
	for c := range strings.SplitSeq(ref, "/") {
		if strings.HasPrefix(c, ".") || strings.HasSuffix(c, ".lock") {
			return fmt.Errorf("%w: %q has a component starting with '.' or ending with '.lock'", ErrInvalidRef, ref)
		}
	}
	return nil
}

// IsCommitID reports whether s is a full commit ID: 40 (SHA-1) or 64
// (SHA-256) lowercase hexadecimal digits.
func IsCommitID(s string) bool {
	return (len(s) == 40 || len(s) == 64) && isLowerHex(s)
}

func isLowerHex(s string) bool {
	if s == "" {
		return false
	}
	for i := range len(s) {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

func isSpaceOrControl(r rune) bool {
	return r <= ' ' || r == 0x7f || r == '\u0085' || r == '\u00a0' || r == '\u2028' || r == '\u2029' || r == '\ufeff'
}
