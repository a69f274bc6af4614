package compose

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/compose-spec/compose-go/v2/dotenv"

	"github.com/tinyforge/tinyforge/internal/git"
	"github.com/tinyforge/tinyforge/plugins"
)

// LabelGitCommit is the container label holding the commit a git compose
// file was read from, so Reconcile reads the deployed file again.
const LabelGitCommit = "tinyforge.dev/git-commit"

// LabelServices is the container label listing the stack's services at the
// revision the container was created for, comma-separated: with it,
// Reconcile of a git stack whose containers all run needs no fetch.
const LabelServices = "tinyforge.dev/compose-services"

// defaultFiles are the compose file names looked for in git.path, in
// order, when git.file is empty: Compose's own.
var defaultFiles = []string{"compose.yaml", "compose.yml", "docker-compose.yml", "docker-compose.yaml"}

// maxEnvFileBytes bounds one .env file.
const maxEnvFileBytes = 256 << 10

// fetchDocument checks out the commit (or, when empty, git.ref) of the
// config's repository into a temporary directory and reads the compose
// file and env files from it. The caller loads the document, then calls
// cleanup. Every path is confined to the checkout (git.SafeJoin): a
// symlink out of it is refused.
func fetchDocument(ctx context.Context, w plugins.Workload, set *settings, url, commit string) (doc document, cleanup func(), err error) {
	tmp, err := os.MkdirTemp("", "tinyforge-compose-")
	if err != nil {
		return document{}, nil, fmt.Errorf("creating a work directory: %w", err)
	}
	cleanup = func() { _ = os.RemoveAll(tmp) }
	defer func() {
		if err != nil {
			cleanup()
		}
	}()
	want := commit
	if want == "" {
		want = set.Git.Ref
	}
	checkout := filepath.Join(tmp, "checkout")
	got, err := git.Checkout(ctx, url, want, checkout)
	if err != nil && commit != "" && errors.Is(err, git.ErrNotFound) {
		// A server that serves no commit by its ID: read the ref, which
		// names the commit a moment ago or a newer one.
		if rerr := os.RemoveAll(checkout); rerr != nil {
			return document{}, nil, fmt.Errorf("cleaning the work directory: %w", rerr)
		}
		want = set.Git.Ref
		got, err = git.Checkout(ctx, url, want, checkout)
	}
	if err != nil {
		return document{}, nil, fmt.Errorf("fetching %s: %w", describeGit(url, want), err)
	}
	real, err := filepath.EvalSymlinks(checkout)
	if err != nil {
		return document{}, nil, fmt.Errorf("resolving the checkout: %w", err)
	}
	folder, err := git.SafeJoin(real, set.Git.Path)
	if err != nil {
		return document{}, nil, fmt.Errorf("%w: git.path of commit %s: %w", ErrInvalidCompose, got, err)
	}
	names := defaultFiles
	if set.Git.File != "" {
		names = []string{set.Git.File}
	}
	var file string
	var content []byte
	for _, name := range names {
		p, err := git.SafeJoin(folder, name)
		if err != nil {
			return document{}, nil, fmt.Errorf("%w: %s: %w", ErrInvalidCompose, name, err)
		}
		content, err = readBounded(p, maxComposeBytes)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return document{}, nil, fmt.Errorf("%w: reading %s: %w", ErrInvalidCompose, path.Join(set.Git.Path, name), err)
		}
		file = name
		break
	}
	if file == "" {
		return document{}, nil, fmt.Errorf("%w: commit %s of %s has no %s in folder %q",
			ErrInvalidCompose, got, git.DisplayURL(url), strings.Join(names, " or "), set.Git.Path)
	}
	env := map[string]string{}
	for _, e := range w.Env {
		env[e.Name] = e.Value
	}
	vars := map[string]string{}
	for _, f := range set.EnvFiles {
		p, err := git.SafeJoin(folder, f)
		if err != nil {
			return document{}, nil, fmt.Errorf("%w: envFiles %s: %w", ErrInvalidCompose, f, err)
		}
		b, err := readBounded(p, maxEnvFileBytes)
		if err != nil {
			return document{}, nil, fmt.Errorf("%w: reading env file %s of commit %s: %w", ErrInvalidCompose, f, got, err)
		}
		parsed, err := dotenv.ParseWithLookup(bytes.NewReader(b), func(k string) (string, bool) {
			if v, ok := env[k]; ok {
				return v, true
			}
			v, ok := vars[k]
			return v, ok
		})
		if err != nil {
			return document{}, nil, fmt.Errorf("%w: env file %s: %w", ErrInvalidCompose, f, err)
		}
		for k, v := range parsed {
			vars[k] = v
		}
	}
	dir := virtualRoot + "/" + w.Namespace + "/" + w.Name
	return document{
		content:    content,
		workingDir: dir,
		file:       path.Join(dir, set.Git.Path, file),
		env:        vars,
		folder:     folder,
		commit:     got,
	}, cleanup, nil
}

// readBounded reads a regular file of at most limit bytes.
func readBounded(p string, limit int64) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", filepath.Base(p))
	}
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s is larger than %d bytes", filepath.Base(p), limit)
	}
	return b, nil
}

// gitPin is where a load reads a git compose file: the repository, and
// the commit (or a prefix of it, from a revision) or, when neither is
// known, git.ref as it is now.
type gitPin struct {
	url    string
	commit string
	prefix string
}

// deployPin is what a deploy reads: a git trigger's commit (intent.Git),
// else the commit of a git revision of this plugin in intent.Revision (a
// rollback), else git.ref.
func deployPin(set *settings, intent plugins.DeploymentIntent) (gitPin, error) {
	pin := gitPin{url: set.gitURL()}
	if set.inline() {
		return pin, nil
	}
	if g := intent.Git; g != nil {
		if g.URL != "" {
			pin.url = g.URL
		}
		if err := git.ValidateURL(pin.url); err != nil {
			return pin, fmt.Errorf("the rollout's git URL: %w", err)
		}
		if !git.IsCommitID(g.Commit) {
			return pin, fmt.Errorf("the rollout's git commit %q is not a full commit ID", g.Commit)
		}
		pin.commit = g.Commit
		return pin, nil
	}
	if git.IsCommitID(intent.Revision) {
		pin.commit = intent.Revision
	} else if prefix, ok := revisionCommit(intent.Revision); ok {
		pin.prefix = prefix
	}
	return pin, nil
}

// resolve turns a commit prefix into the full commit, looking it up in the
// history of git.ref.
func (p gitPin) resolve(ctx context.Context, set *settings) (string, error) {
	if p.commit != "" || p.prefix == "" {
		return p.commit, nil
	}
	c, err := git.FindCommit(ctx, p.url, set.Git.Ref, p.prefix)
	if err != nil {
		return "", fmt.Errorf("finding commit %s in %s: %w", p.prefix, describeGit(p.url, set.Git.Ref), err)
	}
	return c, nil
}

// revisionCommitLength is how many hex digits of its commit a git
// revision keeps.
const revisionCommitLength = 12

// revisionCommit returns the commit prefix of a git revision
// (<commit[:12]>-<stack hash>).
func revisionCommit(rev string) (string, bool) {
	c, h, ok := strings.Cut(rev, "-")
	if !ok || len(c) != revisionCommitLength || len(h) != revisionLength || !isHex(c) || !isHex(h) {
		return "", false
	}
	return c, true
}

func isHex(s string) bool {
	for _, r := range s {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'f') {
			return false
		}
	}
	return s != ""
}

func describeGit(url, ref string) string {
	if ref == "" {
		ref = "the remote HEAD"
	}
	return ref + " of " + git.DisplayURL(url)
}
