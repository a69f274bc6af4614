package git

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

const (
	// DefaultTimeout bounds a git operation whose context has no deadline.
	DefaultTimeout = 10 * time.Minute
	// DefaultUsername is the user name sent with a token (WithToken):
	// GitHub wants x-access-token, and GitLab and Gitea accept any name
	// beside a token.
	DefaultUsername = "x-access-token"

	// waitDelay is how long a killed git may take to release its pipes.
	waitDelay = 5 * time.Second
	// maxStderr bounds the part of git's stderr an error quotes.
	maxStderr = 2048
	// redacted replaces credentials in messages.
	redacted = "***"
	// minTokenLength is the length from which a URL's user name is taken
	// for a token.
	minTokenLength = 16
)

// Option changes how a git command authenticates or runs.
type Option func(*options)

type options struct {
	username string
	token    string
}

// WithToken authenticates HTTP(S) requests to the repository's host with a
// token, sent as the password of HTTP basic authentication with
// DefaultUsername. The token goes to git through its environment, never its
// command line, and only to the scheme, host and port of the URL given.
// An empty token means no authentication.
func WithToken(token string) Option {
	return func(o *options) { o.token = token }
}

// WithBasicAuth is WithToken with a user name of one's choosing (Bitbucket
// wants x-token-auth, for instance).
func WithBasicAuth(username, password string) Option {
	return func(o *options) { o.username, o.token = username, password }
}

func collect(opts []Option) options {
	o := options{username: DefaultUsername}
	for _, f := range opts {
		f(&o)
	}
	if o.username == "" {
		o.username = DefaultUsername
	}
	return o
}

// Error is a git command that failed. Its message names the command with
// credentials removed, and quotes the end of git's stderr.
type Error struct {
	// Command is the git subcommand and its arguments without options,
	// credentials removed.
	Command string
	// Stderr is the end of what git printed, credentials removed.
	Stderr string
	// Err is why the command failed: an *exec.ExitError, or the context's
	// error when it ended first.
	Err error
}

func (e *Error) Error() string {
	msg := "git " + e.Command + ": " + e.Err.Error()
	if e.Stderr != "" {
		msg += ": " + e.Stderr
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// runner runs git commands for one operation with its options and secrets.
type runner struct {
	o options
	// auth is the URL prefix the token is sent to, such as
	// https://git.example:8443/; empty without a token.
	auth string
	// header is the HTTP header carrying the token.
	header string
	// secrets are strings removed from every message.
	secrets []string
	// maxStdout, when not 0, bounds what run reads of git's stdout: more
	// fails the command.
	maxStdout int
}

func newRunner(rawURL string, opts []Option) *runner {
	r := &runner{o: collect(opts)}
	if r.o.token != "" {
		r.secrets = append(r.secrets, r.o.token)
		if u, err := url.Parse(rawURL); err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != "" {
			r.auth = u.Scheme + "://" + u.Host + "/"
			cred := base64.StdEncoding.EncodeToString([]byte(r.o.username + ":" + r.o.token))
			r.header = "Authorization: Basic " + cred
			r.secrets = append(r.secrets, cred)
		}
	}
	if u, err := url.Parse(rawURL); err == nil && u.User != nil {
		if p, ok := u.User.Password(); ok && p != "" {
			r.secrets = append(r.secrets, p, url.QueryEscape(p), url.PathEscape(p))
		}
		if u.Scheme == "https" || u.Scheme == "http" {
			// A long user name alone may be a token (https://<token>@host/…);
			// a short one is a name, and replacing it everywhere would
			// garble messages (RedactURLs removes it from URLs anyway).
			if n := u.User.Username(); len(n) >= minTokenLength {
				r.secrets = append(r.secrets, n, url.PathEscape(n))
			}
		}
	}
	return r
}

// env is the environment of every git command: the caller's, without what
// would point git elsewhere, plus what keeps git from waiting for a person.
func (r *runner) env() []string {
	env := make([]string, 0, len(os.Environ())+12)
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "GIT_") && !keptEnv[name] {
			continue
		}
		env = append(env, kv)
	}
	env = append(env,
		// Never prompt: fail at once when credentials are missing or wrong.
		"GIT_TERMINAL_PROMPT=0",
		"GIT_ASKPASS=",
		"GCM_INTERACTIVE=never",
		// The transports a repository URL may use; ext:: and fd:: run
		// commands and stay forbidden.
		"GIT_ALLOW_PROTOCOL=file:git:http:https:ssh",
		"LC_ALL=C",
	)
	if os.Getenv("GIT_SSH_COMMAND") == "" && os.Getenv("GIT_SSH") == "" {
		env = append(env, "GIT_SSH_COMMAND=ssh -o BatchMode=yes")
	}
	if r.auth != "" {
		// Through the environment, the header stays out of ps and
		// /proc/<pid>/cmdline; http.<url>.extraHeader sends it to that
		// host only.
		env = append(env,
			"GIT_CONFIG_COUNT=1",
			"GIT_CONFIG_KEY_0=http."+r.auth+".extraHeader",
			"GIT_CONFIG_VALUE_0="+r.header,
		)
	}
	return env
}

// keptEnv are the GIT_ variables of the caller's environment that configure
// the transport rather than point git at another repository or config.
var keptEnv = map[string]bool{
	"GIT_SSH":             true,
	"GIT_SSH_COMMAND":     true,
	"GIT_SSH_VARIANT":     true,
	"GIT_SSL_CAINFO":      true,
	"GIT_SSL_CAPATH":      true,
	"GIT_SSL_NO_VERIFY":   true,
	"GIT_PROXY_COMMAND":   true,
	"GIT_CONFIG_GLOBAL":   true,
	"GIT_CONFIG_SYSTEM":   true,
	"GIT_CONFIG_NOSYSTEM": true,
	"GIT_EXEC_PATH":       true,
	"GIT_HTTP_USER_AGENT": true,
}

// run runs git with args in dir and returns its stdout, trimmed. The
// context ends the whole process group.
func (r *runner) run(ctx context.Context, dir string, args ...string) (string, error) {
	full := append([]string{
		// Hooks of the fresh repository never run, whatever git's defaults.
		"-c", "core.hooksPath=" + os.DevNull,
		"-c", "advice.detachedHead=false",
		"-c", "init.defaultBranch=main",
	}, args...)
	cmd := exec.CommandContext(ctx, "git", full...)
	cmd.Dir = dir
	cmd.Env = r.env()
	stdout := &cappedBuffer{max: r.maxStdout}
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = stdout, &stderr
	cmd.WaitDelay = waitDelay
	killGroup(cmd)
	err := cmd.Run()
	if err == nil && stdout.truncated {
		return "", &Error{
			Command: r.redact(commandLine(args)),
			Err:     fmt.Errorf("more than %d bytes of output", r.maxStdout),
		}
	}
	if err == nil {
		return strings.TrimSpace(stdout.String()), nil
	}
	if ctx.Err() != nil {
		err = fmt.Errorf("%w (%v)", context.Cause(ctx), err)
	}
	return "", &Error{
		Command: r.redact(commandLine(args)),
		Stderr:  r.redact(tail(stderr.String(), maxStderr)),
		Err:     err,
	}
}

// cappedBuffer keeps the first max bytes written to it (all of them when
// max is 0) and drops the rest, so a misbehaving server cannot fill memory.
// The buffer is a field, not embedded: an embedded bytes.Buffer's ReadFrom
// would let io.Copy bypass Write.
type cappedBuffer struct {
	buf       bytes.Buffer
	max       int
	truncated bool
}

func (b *cappedBuffer) Write(p []byte) (int, error) {
	if room := b.max - b.buf.Len(); b.max > 0 && len(p) > room {
		b.truncated = true
		b.buf.Write(p[:max(room, 0)])
		return len(p), nil
	}
	return b.buf.Write(p)
}

func (b *cappedBuffer) String() string { return b.buf.String() }

// commandLine is args without their options, which say little to people:
// "fetch <url> <ref>".
func commandLine(args []string) string {
	out := make([]string, 0, len(args))
	for _, a := range args {
		if !strings.HasPrefix(a, "-") {
			out = append(out, a)
		}
	}
	return strings.Join(out, " ")
}

// redact removes credentials from s: the secrets of the operation, and the
// user information of any URL in it.
func (r *runner) redact(s string) string {
	for _, sec := range r.secrets {
		if len(sec) > 0 {
			s = strings.ReplaceAll(s, sec, redacted)
		}
	}
	return RedactURLs(s)
}

// RedactURLs replaces the user information of every scheme://user@host URL
// in s by "***", so neither a token passed as a user name nor a password
// survives in a message. scp-like addresses (git@host:path) name no secret
// and are kept.
func RedactURLs(s string) string {
	var b strings.Builder
	for {
		i := strings.Index(s, "://")
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i+3])
		rest := s[i+3:]
		end := strings.IndexAny(rest, "/ \t\r\n'\"<>")
		if end < 0 {
			end = len(rest)
		}
		authority := rest[:end]
		if at := strings.LastIndexByte(authority, '@'); at >= 0 {
			b.WriteString(redacted + authority[at:])
		} else {
			b.WriteString(authority)
		}
		s = rest[end:]
	}
}

// DisplayURL is rawURL as messages may show it: its user information, if
// any, replaced by "***".
func DisplayURL(rawURL string) string { return RedactURLs(rawURL) }

// tail returns the last max bytes of s, trimmed, at a line start when it
// has to cut.
func tail(s string, max int) string {
	s = strings.TrimSpace(s)
	if len(s) <= max {
		return s
	}
	s = s[len(s)-max:]
	if i := strings.IndexByte(s, '\n'); i >= 0 && i < len(s)-1 {
		s = s[i+1:]
	}
	return "…" + s
}

// withDefaultTimeout bounds ctx by DefaultTimeout when it has no deadline.
func withDefaultTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return context.WithCancel(ctx)
	}
	return context.WithTimeoutCause(ctx, DefaultTimeout,
		errors.New("git took longer than "+DefaultTimeout.String()))
}

// parseUnix parses a Unix time in seconds, as git's %ct prints it.
func parseUnix(s string) (time.Time, error) {
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("parsing commit time %q: %w", s, err)
	}
	return time.Unix(n, 0).UTC(), nil
}
