package git

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/tinyforge/tinyforge/plugins"
)

// ErrRefNotFound is wrapped by the error of a Match that needed a ref the
// repository does not have.
var ErrRefNotFound = errors.New("ref not found")

const (
	// lsRemoteTimeout bounds one git ls-remote, so an unreachable server
	// fails the match instead of holding a controller worker.
	lsRemoteTimeout = 30 * time.Second
	// maxLsRemoteOutput bounds what is read from git: a few refs are
	// asked for, so this is generous.
	maxLsRemoteOutput = 1 << 20
	// tokenUser is the basic-auth user sent with a token; GitHub wants
	// this one, GitLab and Gitea accept any.
	tokenUser = "x-access-token"
	// peeledSuffix marks the commit an annotated tag points to in
	// ls-remote's output.
	peeledSuffix = "^{}"
)

// remote is a repository as ls-remote reaches it.
type remote struct {
	// url as configured.
	url string
	// token, when set, is sent as basic-auth password over https.
	token []byte
}

// lsRemote asks the repository for the commits refs (full names, such as
// refs/heads/main) point to, and returns those it has: a ref missing from
// the repository is missing from the map. Annotated tags are peeled to the
// commit they name. It runs the git CLI with a timeout and without
// terminal prompts; ssh URLs need keys that work unattended (an agent, or
// ~/.ssh/config), as for any daemon.
func lsRemote(ctx context.Context, r remote, refs ...string) (map[string]string, error) {
	ctx, cancel := context.WithTimeout(ctx, lsRemoteTimeout)
	defer cancel()

	args := []string{"ls-remote", "--", r.url}
	for _, ref := range refs {
		args = append(args, ref)
		if strings.HasPrefix(ref, "refs/tags/") {
			args = append(args, ref+peeledSuffix)
		}
	}
	env, err := gitEnv(r.token)
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Env = env
	// Outside any repository, so no repository's config applies.
	cmd.Dir = os.TempDir()
	cmd.WaitDelay = 5 * time.Second
	stdout := &limitedBuffer{max: maxLsRemoteOutput}
	stderr := &limitedBuffer{max: 64 << 10}
	cmd.Stdout, cmd.Stderr = stdout, stderr

	if err := cmd.Run(); err != nil {
		msg := scrub(gitMessage(stderr.String()), r.token)
		switch {
		case ctx.Err() != nil:
			return nil, fmt.Errorf("git ls-remote %s: gave up waiting for an answer: %w", r.url, ctx.Err())
		case msg != "":
			return nil, fmt.Errorf("git ls-remote %s: %s", r.url, msg)
		default:
			return nil, fmt.Errorf("git ls-remote %s: %w", r.url, err)
		}
	}
	if stdout.truncated {
		return nil, fmt.Errorf("git ls-remote %s: more than %d bytes of output", r.url, maxLsRemoteOutput)
	}
	return parseLsRemote(stdout.String(), refs)
}

// parseLsRemote reads ls-remote's "<commit>\t<ref>" lines, keeping only
// the refs asked for, each with its peeled commit when there is one.
func parseLsRemote(out string, refs []string) (map[string]string, error) {
	found := map[string]string{}
	peeled := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 0, 4096), maxLsRemoteOutput)
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			continue
		}
		oid, name, ok := strings.Cut(line, "\t")
		if !ok || !isCommitID(oid) {
			return nil, fmt.Errorf("unexpected git ls-remote output line %q", truncate(line, 120))
		}
		if base, ok := strings.CutSuffix(name, peeledSuffix); ok {
			peeled[base] = oid
			continue
		}
		if slices.Contains(refs, name) {
			found[name] = oid
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading git ls-remote output: %w", err)
	}
	for name := range found {
		if oid, ok := peeled[name]; ok {
			found[name] = oid
		}
	}
	return found, nil
}

// gitEnv is the environment of a git command: the process's, minus what
// would point git elsewhere or make it ask a person, plus the token as an
// HTTP header. Passing the token in the environment keeps it out of the
// command line, which other users of the host can read.
func gitEnv(token []byte) ([]string, error) {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch {
		case name == "GIT_DIR" || name == "GIT_WORK_TREE" || name == "GIT_ALLOW_PROTOCOL" ||
			name == "GIT_TERMINAL_PROMPT" || name == "GIT_ASKPASS" || name == "GIT_CONFIG_PARAMETERS" ||
			name == "GIT_CONFIG_COUNT" || strings.HasPrefix(name, "GIT_CONFIG_KEY_") ||
			strings.HasPrefix(name, "GIT_CONFIG_VALUE_"):
			continue
		}
		env = append(env, kv)
	}
	env = append(env,
		"GIT_TERMINAL_PROMPT=0",
		"GIT_ASKPASS=",
		"GCM_INTERACTIVE=never",
		// No ext:: or fd:: transports, whatever a URL says.
		"GIT_ALLOW_PROTOCOL=https:http:ssh:git:file",
	)
	if token == nil {
		return env, nil
	}
	if len(token) == 0 || bytes.ContainsFunc(token, func(r rune) bool { return unicode.IsSpace(r) || !unicode.IsPrint(r) }) {
		return nil, errors.New("the token is empty or contains spaces or control characters")
	}
	auth := base64.StdEncoding.EncodeToString(append([]byte(tokenUser+":"), token...))
	return append(env,
		"GIT_CONFIG_COUNT=1",
		"GIT_CONFIG_KEY_0=http.extraHeader",
		"GIT_CONFIG_VALUE_0=Authorization: Basic "+auth,
	), nil
}

// redacted stands for a credential removed from a message, as in
// internal/git.
const redacted = "***"

// scrub removes the token, and its basic-auth form, from msg.
func scrub(msg string, token []byte) string {
	if len(token) == 0 {
		return msg
	}
	msg = strings.ReplaceAll(msg, string(token), redacted)
	auth := base64.StdEncoding.EncodeToString(append([]byte(tokenUser+":"), token...))
	return strings.ReplaceAll(msg, auth, redacted)
}

// gitMessage picks what git said went wrong from its stderr: the first
// "fatal:" or "error:" line, else the last line; trimmed and bounded.
func gitMessage(stderr string) string {
	last := ""
	for l := range strings.SplitSeq(stderr, "\n") {
		l = strings.TrimSpace(l)
		if strings.HasPrefix(l, "fatal:") || strings.HasPrefix(l, "error:") {
			return truncate(l, 300)
		}
		if l != "" {
			last = l
		}
	}
	return truncate(last, 300)
}

// limitedBuffer keeps the first max bytes written to it and drops the
// rest, so a misbehaving server cannot fill memory.
type limitedBuffer struct {
	bytes.Buffer
	max       int
	truncated bool
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if room := b.max - b.Len(); len(p) > room {
		b.truncated = true
		b.Buffer.Write(p[:max(room, 0)])
		return len(p), nil
	}
	return b.Buffer.Write(p)
}

// readToken reads the token named by secretRef from the trigger's
// namespace. Its errors name the Secret and key, never the value.
func readToken(ctx context.Context, deps plugins.Deps, namespace string, s *settings) ([]byte, error) {
	if s.SecretRef == nil {
		return nil, nil
	}
	if deps.Secrets == nil {
		return nil, errors.New("reading the git token: no secret reader was given")
	}
	tok, err := deps.Secrets.ReadSecret(ctx, namespace, s.SecretRef.Name, s.secretKey)
	if err != nil {
		return nil, fmt.Errorf("reading the git token from Secret %s/%s key %s: %w", namespace, s.SecretRef.Name, s.secretKey, err)
	}
	tok = bytes.TrimSpace(tok)
	if len(tok) == 0 {
		return nil, fmt.Errorf("the git token in Secret %s/%s key %s is empty", namespace, s.SecretRef.Name, s.secretKey)
	}
	return tok, nil
}
