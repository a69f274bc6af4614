package git

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"
)

// maxLsRemoteOutput bounds what is read of git ls-remote's output: a few
// refs are asked for, so this is generous.
const maxLsRemoteOutput = 1 << 20

// Checkout fetches the commit ref names from the repository at url, and
// only that commit (a shallow fetch of depth 1, without tags or
// submodules), into dir with the git CLI, checks it out detached, and
// returns its full commit ID.
//
// ref is a branch (main), a tag (v1.2.0, annotated or not), a full ref
// name (refs/heads/main), a full commit ID, or empty for the remote's
// HEAD. A short name resolves as git fetch resolves it: refs/<ref>, then
// refs/tags/<ref>, then refs/heads/<ref>. Fetching a commit by ID needs a
// server that allows it, as protocol v2 servers (GitHub, GitLab, Gitea,
// git daemon and file:// of git 2.18 and later) do.
//
// dir must not exist or be empty; it is created, and holds a partial
// checkout after a failure, for the caller to remove. The operation ends when
// ctx does (DefaultTimeout when ctx has no deadline), killing git and its
// helpers. git never prompts (GIT_TERMINAL_PROMPT=0). A failed git command
// is an *Error quoting git's stderr, without the credentials of url or
// opts.
func Checkout(ctx context.Context, url, ref, dir string, opts ...Option) (commit string, err error) {
	if err := ValidateURL(url); err != nil {
		return "", err
	}
	if err := ValidateRef(ref); err != nil {
		return "", err
	}
	if err := emptyDir(dir); err != nil {
		return "", err
	}
	ctx, cancel := withDefaultTimeout(ctx)
	defer cancel()
	r := newRunner(url, opts)
	want := ref
	if want == "" {
		want = "HEAD"
	}
	if _, err := r.run(ctx, dir, "init", "--quiet"); err != nil {
		return "", err
	}
	if _, err := r.run(ctx, dir, "fetch", "--quiet", "--depth=1", "--no-tags", "--no-recurse-submodules",
		"--", remoteURL(url), want); err != nil {
		return "", notFound(err, ref)
	}
	commit, err = r.run(ctx, dir, "rev-parse", "--verify", "--quiet", "FETCH_HEAD^{commit}")
	if err != nil {
		return "", fmt.Errorf("%s of %s is not a commit: %w", describeRef(ref), DisplayURL(url), err)
	}
	if _, err := r.run(ctx, dir, "checkout", "--quiet", "--detach", commit, "--"); err != nil {
		return "", err
	}
	return commit, nil
}

// LsRemote returns the commit ref names in the repository at url without
// fetching anything: the commit of a branch, the commit an annotated tag
// points to, the remote's HEAD for an empty ref. A full commit ID is
// returned as it is, unchecked (the protocol cannot list commits that no
// ref points at). Short names resolve as in Checkout. A ref the remote does
// not have is an error wrapping ErrNotFound.
func LsRemote(ctx context.Context, url, ref string, opts ...Option) (commit string, err error) {
	if err := ValidateURL(url); err != nil {
		return "", err
	}
	if err := ValidateRef(ref); err != nil {
		return "", err
	}
	if IsCommitID(ref) {
		return ref, nil
	}
	pattern := ref
	if pattern == "" {
		pattern = "HEAD"
	}
	refs, err := lsRemote(ctx, url, []string{pattern}, opts)
	if err != nil {
		return "", err
	}
	for _, name := range candidates(pattern) {
		if c, ok := refs[name+"^{}"]; ok {
			return c, nil
		}
		if c, ok := refs[name]; ok {
			return c, nil
		}
	}
	return "", fmt.Errorf("%s: %w at %s", describeRef(ref), ErrNotFound, DisplayURL(url))
}

// LsRemoteRefs returns the commits refs point to in the repository at url,
// with one git ls-remote for all of them and without fetching anything.
// refs are full ref names (refs/heads/main, refs/tags/v1.0.0) or HEAD,
// matched exactly, not resolved as short names are; an annotated tag is
// peeled to the commit it points to. A ref the repository does not have is
// missing from the map, not an error; with no refs, git does not run and
// the map is empty. A ref that is not a full ref name is an error wrapping
// ErrInvalidRef. Otherwise it runs, and fails, as LsRemote does.
func LsRemoteRefs(ctx context.Context, url string, refs []string, opts ...Option) (map[string]string, error) {
	if err := ValidateURL(url); err != nil {
		return nil, err
	}
	for _, ref := range refs {
		if ref != "HEAD" && !strings.HasPrefix(ref, "refs/") {
			return nil, fmt.Errorf("%w: %q is neither a full ref name (refs/…) nor HEAD", ErrInvalidRef, ref)
		}
		if err := ValidateRef(ref); err != nil {
			return nil, err
		}
	}
	if len(refs) == 0 {
		return map[string]string{}, nil
	}
	listed, err := lsRemote(ctx, url, refs, opts)
	if err != nil {
		return nil, err
	}
	return exactRefs(listed, refs), nil
}

// exactRefs picks refs out of what lsRemote listed, each with its peeled
// commit when it has one: ls-remote's patterns also match refs that merely
// end in /<pattern>.
func exactRefs(listed map[string]string, refs []string) map[string]string {
	found := make(map[string]string, len(refs))
	for _, ref := range refs {
		if c, ok := listed[ref]; ok {
			if peeled, ok := listed[ref+"^{}"]; ok {
				c = peeled
			}
			found[ref] = c
		}
	}
	return found
}

// lsRemote runs git ls-remote for patterns and their peeled forms
// (pattern^{}) and returns the commits it lists by ref name, peeled ones
// under name^{}. Its output is bounded by maxLsRemoteOutput.
func lsRemote(ctx context.Context, url string, patterns []string, opts []Option) (map[string]string, error) {
	ctx, cancel := withDefaultTimeout(ctx)
	defer cancel()
	args := make([]string, 0, 3+2*len(patterns))
	args = append(args, "ls-remote", "--", remoteURL(url))
	for _, p := range patterns {
		args = append(args, p, p+"^{}")
	}
	r := newRunner(url, opts)
	r.maxStdout = maxLsRemoteOutput
	// Outside any repository, so no repository's config applies.
	out, err := r.run(ctx, string(os.PathSeparator), args...)
	if err != nil {
		return nil, err
	}
	return parseLsRemote(out), nil
}

// FindCommit returns the full ID of the commit whose ID starts with prefix
// (at least 4 hexadecimal digits) among the history of ref (as in
// Checkout) in the repository at url, fetching that history without file
// contents where the server allows it into a directory it removes after.
// It is how a revision that keeps only an abbreviated commit is fetched
// again. An unknown or ambiguous prefix is an error wrapping ErrNotFound.
func FindCommit(ctx context.Context, url, ref, prefix string, opts ...Option) (string, error) {
	if err := ValidateURL(url); err != nil {
		return "", err
	}
	if err := ValidateRef(ref); err != nil {
		return "", err
	}
	if len(prefix) < 4 || len(prefix) > 64 || !isLowerHex(prefix) {
		return "", fmt.Errorf("commit prefix %q is not 4 to 64 lowercase hexadecimal digits", prefix)
	}
	if IsCommitID(ref) {
		if strings.HasPrefix(ref, prefix) {
			return ref, nil
		}
		return "", fmt.Errorf("commit %s does not start with %s: %w", ref, prefix, ErrNotFound)
	}
	ctx, cancel := withDefaultTimeout(ctx)
	defer cancel()
	dir, err := os.MkdirTemp("", "tinyforge-git-")
	if err != nil {
		return "", fmt.Errorf("creating a work directory: %w", err)
	}
	defer os.RemoveAll(dir)

	r := newRunner(url, opts)
	want := ref
	if want == "" {
		want = "HEAD"
	}
	if _, err := r.run(ctx, dir, "init", "--quiet", "--bare"); err != nil {
		return "", err
	}
	// A named remote marked as a promisor may fetch commits without their
	// trees; a server that does not filter sends everything instead.
	for _, kv := range [][2]string{
		{"remote.origin.url", remoteURL(url)},
		{"remote.origin.promisor", "true"},
		{"remote.origin.partialclonefilter", "tree:0"},
	} {
		if _, err := r.run(ctx, dir, "config", kv[0], kv[1]); err != nil {
			return "", err
		}
	}
	if _, err := r.run(ctx, dir, "fetch", "--quiet", "--no-tags", "--filter=tree:0", "--", "origin", want); err != nil {
		return "", notFound(err, ref)
	}
	out, err := r.run(ctx, dir, "rev-list", "FETCH_HEAD")
	if err != nil {
		return "", err
	}
	var found []string
	for line := range strings.Lines(out) {
		if c := strings.TrimSpace(line); strings.HasPrefix(c, prefix) {
			found = append(found, c)
		}
	}
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		return "", fmt.Errorf("no commit starting with %s in the history of %s: %w", prefix, describeRef(ref), ErrNotFound)
	default:
		return "", fmt.Errorf("%d commits start with %s in the history of %s: %w", len(found), prefix, describeRef(ref), ErrNotFound)
	}
}

// CommitTime returns the committer time of the commit checked out in dir.
func CommitTime(ctx context.Context, dir string) (time.Time, error) {
	ctx, cancel := withDefaultTimeout(ctx)
	defer cancel()
	out, err := newRunner("", nil).run(ctx, dir, "log", "-1", "--format=%ct", "HEAD")
	if err != nil {
		return time.Time{}, err
	}
	return parseUnix(out)
}

// emptyDir creates dir, or checks that it is an empty directory.
func emptyDir(dir string) error {
	if dir == "" {
		return errors.New("checkout directory is empty")
	}
	entries, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("creating checkout directory: %w", err)
		}
		return nil
	case err != nil:
		return fmt.Errorf("reading checkout directory: %w", err)
	case len(entries) > 0:
		return fmt.Errorf("checkout directory %s is not empty", dir)
	}
	return nil
}

// parseLsRemote reads "<commit>\t<ref>" lines into a map by ref.
func parseLsRemote(out string) map[string]string {
	refs := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 0, 4096), maxLsRemoteOutput)
	for sc.Scan() {
		commit, name, ok := strings.Cut(sc.Text(), "\t")
		if ok && isLowerHex(commit) {
			refs[strings.TrimSpace(name)] = commit
		}
	}
	return refs
}

// candidates lists the full names a short ref may mean, in the order git
// fetch tries them (git's ref_rev_parse_rules).
func candidates(ref string) []string {
	if ref == "HEAD" || strings.HasPrefix(ref, "refs/") {
		return []string{ref}
	}
	return []string{"refs/" + ref, "refs/tags/" + ref, "refs/heads/" + ref, "refs/remotes/" + ref, "refs/remotes/" + ref + "/HEAD"}
}

// notFound marks a failed fetch whose stderr says the ref or commit does not
// exist.
func notFound(err error, ref string) error {
	var ge *Error
	if errors.As(err, &ge) {
		s := strings.ToLower(ge.Stderr)
		if strings.Contains(s, "couldn't find remote ref") || strings.Contains(s, "not our ref") ||
			strings.Contains(s, "unadvertised object") || strings.Contains(s, "no such remote ref") {
			return fmt.Errorf("%s: %w: %w", describeRef(ref), ErrNotFound, err)
		}
	}
	return err
}

func describeRef(ref string) string {
	switch {
	case ref == "":
		return "the remote HEAD"
	case IsCommitID(ref):
		return "commit " + ref
	default:
		return "ref " + ref
	}
}
