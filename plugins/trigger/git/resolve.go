package git

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"

	gitcli "github.com/tinyforge/tinyforge/internal/git"
	"github.com/tinyforge/tinyforge/plugins"
)

// ErrRefNotFound is wrapped by the error of a Match that needed a ref the
// repository does not have.
var ErrRefNotFound = errors.New("ref not found")

// lsRemoteTimeout bounds one git ls-remote, so an unreachable server fails
// the match instead of holding a controller worker.
const lsRemoteTimeout = 30 * time.Second

// lsRemote asks the repository at rawURL for the commits refs (full names,
// such as refs/heads/main) point to, with internal/git's LsRemoteRefs, and
// returns those it has: a ref missing from the repository is missing from
// the map. Annotated tags are peeled to the commit they name. token, when
// set, is sent as basic-auth password over https. ssh URLs need keys that
// work unattended (an agent, or ~/.ssh/config), as for any daemon. Its
// errors read "git ls-remote <url>: <what git said>".
func lsRemote(ctx context.Context, rawURL string, token []byte, refs ...string) (map[string]string, error) {
	ctx, cancel := context.WithTimeout(ctx, lsRemoteTimeout)
	defer cancel()
	var opts []gitcli.Option
	if token != nil {
		if len(token) == 0 || bytes.ContainsFunc(token, func(r rune) bool { return unicode.IsSpace(r) || !unicode.IsPrint(r) }) {
			return nil, errors.New("the token is empty or contains spaces or control characters")
		}
		opts = append(opts, gitcli.WithToken(string(token)))
	}
	// A name git refuses cannot be a ref of the repository: it is missing,
	// and not asked for.
	asked := slices.DeleteFunc(slices.Clone(refs), func(ref string) bool {
		return !strings.HasPrefix(ref, "refs/") || gitcli.ValidateRef(ref) != nil
	})
	got, err := gitcli.LsRemoteRefs(ctx, rawURL, asked, opts...)
	if err == nil {
		return got, nil
	}
	var ge *gitcli.Error
	switch {
	case ctx.Err() != nil:
		return nil, fmt.Errorf("git ls-remote %s: gave up waiting for an answer: %w", rawURL, ctx.Err())
	case !errors.As(err, &ge):
		return nil, fmt.Errorf("git ls-remote %s: %w", rawURL, err)
	case gitMessage(ge.Stderr) != "":
		// Stderr has the token removed already.
		return nil, fmt.Errorf("git ls-remote %s: %s", rawURL, gitMessage(ge.Stderr))
	default:
		return nil, fmt.Errorf("git ls-remote %s: %w", rawURL, ge.Err)
	}
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
