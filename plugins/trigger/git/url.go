package git

import (
	"errors"
	"fmt"
	"net/url"
	"path"
	"strconv"
	"strings"
	"unicode"
)

// Errors of parseRepoURL, for messages and tests.
var (
	errNotAURL          = errors.New("must be an https://, http://, ssh://, git:// or file:// URL, an scp-like user@host:path, or an absolute local path")
	errUnsupportedURL   = errors.New("unsupported URL scheme")
	errURLPassword      = errors.New("must not carry a password or token: put the token in a Secret and name it in secretRef")
	errURLNoHost        = errors.New("names no host")
	errURLNoPath        = errors.New("names no repository path")
	errURLQuery         = errors.New("must not have a query or fragment")
	errURLControl       = errors.New("must not contain spaces or control characters")
	errURLLeadingDash   = errors.New("must not start with '-'")
	errFileURLWithHost  = errors.New("file:// URLs name a path on this host: use file:///path")
	errRelativeLocalDir = errors.New("a local path must be absolute")
)

// Schemes a repository URL may use.
const (
	schemeHTTPS = "https"
	schemeHTTP  = "http"
	schemeSSH   = "ssh"
	schemeGit   = "git"
	schemeFile  = "file"
)

// maxURLLength bounds a repository URL.
const maxURLLength = 2048

// repoURL is a parsed repository URL.
type repoURL struct {
	// scheme is one of the scheme constants; scp-like URLs are ssh and
	// absolute paths are file.
	scheme string
	// host is lowercase, without user or port; empty for file.
	host string
	// path is the repository path, without leading or trailing slashes
	// and without a trailing .git; for file, the cleaned absolute path
	// (also without .git).
	path string
}

// key identifies the repository: two URLs with equal keys name the same
// repository. The scheme, user and port do not count, because one server
// offers one repository over https and ssh on different ports and with
// different users (https://github.com/a/b and git@github.com:a/b.git are
// the same repository). The host's case does not count; the path's does.
func (u repoURL) key() string {
	if u.scheme == schemeFile {
		return "file://" + u.path
	}
	return u.host + "/" + u.path
}

// parseRepoURL parses a repository URL as git clone takes it, refusing
// URLs that carry a password. Its errors never quote raw, which may hold
// one.
func parseRepoURL(raw string) (repoURL, error) {
	return parseURL(raw, false)
}

// parseEventURL parses the repository URL of an event, which may carry a
// password (a provider's business, not the config's): it is ignored.
func parseEventURL(raw string) (repoURL, error) {
	return parseURL(raw, true)
}

func parseURL(raw string, allowPassword bool) (repoURL, error) {
	switch {
	case raw == "":
		return repoURL{}, errNotAURL
	case strings.IndexFunc(raw, func(r rune) bool { return unicode.IsSpace(r) || !unicode.IsPrint(r) }) >= 0:
		return repoURL{}, errURLControl
	case strings.HasPrefix(raw, "-"):
		return repoURL{}, errURLLeadingDash
	case strings.Contains(raw, "://"):
		return parseSchemeURL(raw, allowPassword)
	case strings.HasPrefix(raw, "/"):
		return repoURL{scheme: schemeFile, path: cleanLocalPath(raw)}, nil
	}
	if u, ok, err := parseSCPLike(raw, allowPassword); ok {
		return u, err
	}
	if !strings.Contains(raw, ":") {
		return repoURL{}, errRelativeLocalDir
	}
	return repoURL{}, errNotAURL
}

func parseSchemeURL(raw string, allowPassword bool) (repoURL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return repoURL{}, fmt.Errorf("%w: %s", errNotAURL, redactURLError(err))
	}
	if u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		return repoURL{}, errURLQuery
	}
	if _, ok := u.User.Password(); ok && !allowPassword {
		return repoURL{}, errURLPassword
	}
	scheme := strings.ToLower(u.Scheme)
	switch scheme {
	case "git+ssh", "ssh+git":
		scheme = schemeSSH
	case schemeHTTPS, schemeHTTP, schemeSSH, schemeGit:
	case schemeFile:
		if u.Host != "" && !strings.EqualFold(u.Host, "localhost") {
			return repoURL{}, errFileURLWithHost
		}
		if u.Path == "" || !strings.HasPrefix(u.Path, "/") {
			return repoURL{}, errURLNoPath
		}
		return repoURL{scheme: schemeFile, path: cleanLocalPath(u.Path)}, nil
	default:
		return repoURL{}, fmt.Errorf("%w %q", errUnsupportedURL, u.Scheme)
	}
	host := strings.ToLower(u.Hostname())
	if host == "" {
		return repoURL{}, errURLNoHost
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.ParseUint(p, 10, 16); err != nil || n == 0 {
			return repoURL{}, fmt.Errorf("%w: bad port %q", errNotAURL, p)
		}
	}
	p := cleanRepoPath(u.Path)
	if p == "" {
		return repoURL{}, errURLNoPath
	}
	return repoURL{scheme: scheme, host: host, path: p}, nil
}

// parseSCPLike parses git's scp-like syntax, [user@]host:path, which git
// recognizes when a colon comes before any slash. ok is false when raw is
// not of that form.
func parseSCPLike(raw string, allowPassword bool) (u repoURL, ok bool, err error) {
	hostPart, p, found := strings.Cut(raw, ":")
	if bracket := strings.Index(raw, "]:"); strings.Contains(hostPart, "[") && bracket >= 0 {
		// [user@][::1]:path
		hostPart, p = raw[:bracket+1], raw[bracket+2:]
		found = true
	}
	if !found || strings.Contains(hostPart, "/") {
		return repoURL{}, false, nil
	}
	if i := strings.LastIndexByte(hostPart, '@'); i >= 0 {
		hostPart = hostPart[i+1:]
	} else if first, _, _ := strings.Cut(p, "/"); strings.Contains(first, "@") {
		// user:password@host:path: the first colon ended the user, not
		// the host.
		if !allowPassword {
			return repoURL{}, true, errURLPassword
		}
		at := strings.LastIndexByte(first, '@')
		hostPart, p, found = strings.Cut(p[at+1:], ":")
		if !found || strings.Contains(hostPart, "/") {
			return repoURL{}, true, errNotAURL
		}
	}
	host := strings.ToLower(strings.TrimSuffix(strings.TrimPrefix(hostPart, "["), "]"))
	if host == "" || strings.ContainsAny(host, "[]@?#") {
		return repoURL{}, true, errURLNoHost
	}
	clean := cleanRepoPath(p)
	if clean == "" {
		return repoURL{}, true, errURLNoPath
	}
	return repoURL{scheme: schemeSSH, host: host, path: clean}, true, nil
}

// cleanRepoPath removes leading and trailing slashes, duplicate slashes
// and a trailing .git from a remote repository path.
func cleanRepoPath(p string) string {
	p = strings.Trim(path.Clean("/"+p), "/")
	p = strings.TrimSuffix(p, ".git")
	return strings.Trim(p, "/")
}

// cleanLocalPath cleans an absolute local path and drops a trailing .git,
// so /srv/app.git and file:///srv/app.git/ name the same repository.
func cleanLocalPath(p string) string {
	p = path.Clean(p)
	if q := strings.TrimSuffix(p, ".git"); q != p && q != "" && !strings.HasSuffix(q, "/") {
		p = q
	}
	return p
}

// redactURLError returns the message of a url.Parse error without the URL
// it quotes, which may hold a password.
func redactURLError(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err.Error()
	}
	return "malformed URL"
}
