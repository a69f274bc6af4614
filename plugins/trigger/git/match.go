package git

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/Masterminds/semver/v3"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/tinyforge/tinyforge/plugins"
)

// Ref prefixes.
const (
	headsPrefix = "refs/heads/"
	tagsPrefix  = "refs/tags/"
)

// Match decides whether m.Event moves a watched ref of the configured
// repository:
//   - git-push and git-tag events of the repository deploy the commit of a
//     matching branch or tag (resolved with git ls-remote when the event
//     carries none, as GitHub's create event does);
//   - manual events deploy the revision they name (a commit ID, or a branch
//     or tag resolved with ls-remote) or else the head of the first
//     configured branch that exists;
//   - cron-tick events deploy the head of that branch too;
//   - anything else is skipped.
//
// The intent's Git.URL is the configured url, which the workload's source
// clones, never the event's.
func (*Trigger) Match(ctx context.Context, deps plugins.Deps, m plugins.MatchRequest) (plugins.MatchResult, error) {
	s, errs := parseConfig(field.NewPath("config"), m.Config)
	if len(errs) > 0 {
		return plugins.MatchResult{}, fmt.Errorf("invalid git trigger config: %w", errs.ToAggregate())
	}
	switch m.Event.Type {
	case plugins.EventTypeGitPush, plugins.EventTypeGitTag:
		return matchGit(ctx, deps, s, m)
	case plugins.EventTypeManual:
		return matchManual(ctx, deps, s, m)
	case plugins.EventTypeCronTick:
		ref, commit, err := resolveDefaultBranch(ctx, deps, s, m)
		if errors.Is(err, errNoNamedBranch) {
			return plugins.Skipped("%v", err), nil
		}
		if err != nil {
			return plugins.MatchResult{}, err
		}
		return deploy(s, m, ref, commit, fmt.Sprintf("cron tick: redeploy %s at %s", shortRef(ref), shortCommit(commit))), nil
	default:
		return plugins.Skipped("git triggers fire on git-push, git-tag, manual and cron-tick events, not on %s events", m.Event.Type), nil
	}
}

// matchGit matches a push of a branch or a tag.
func matchGit(ctx context.Context, deps plugins.Deps, s *settings, m plugins.MatchRequest) (plugins.MatchResult, error) {
	g := m.Event.Git
	if g == nil {
		return plugins.MatchResult{}, fmt.Errorf("%s event %q carries no git details", m.Event.Type, m.Event.Name)
	}
	if g.URL == "" {
		return plugins.Skipped("the event names no repository"), nil
	}
	repo, err := parseEventURL(g.URL)
	if err != nil {
		return plugins.Skipped("the event's repository URL is not one git understands: %v", err), nil
	}
	if repo.key() != s.repo.key() {
		return plugins.Skipped("event is for repository %s, not %s", truncate(repo.key(), 200), s.repo.key()), nil
	}

	ref := fullRef(g.Ref, m.Event.Type)
	if isZeroCommit(g.Commit) {
		return plugins.Skipped("%s was deleted", describeRef(ref)), nil
	}
	if reason := s.refFilter(ref); reason != "" {
		return plugins.Skipped("%s", reason), nil
	}
	if reason := s.pathFilter(g.ChangedPaths); reason != "" {
		return plugins.Skipped("%s", reason), nil
	}

	commit := strings.ToLower(g.Commit)
	switch {
	case commit == "":
		got, err := resolve(ctx, deps, s, m, ref)
		if err != nil {
			return plugins.MatchResult{}, err
		}
		if commit = got[ref]; commit == "" {
			return plugins.MatchResult{}, fmt.Errorf("the event carries no commit, and %s has no %s: %w", s.URL, ref, ErrRefNotFound)
		}
	case !isCommitID(commit):
		return plugins.MatchResult{}, fmt.Errorf("the event's commit %q is not a full commit ID", truncate(g.Commit, 80))
	}
	return deploy(s, m, ref, commit, pushReason(ref, commit, g)), nil
}

// refFilter returns why ref is not watched, or "" when it is.
func (s *settings) refFilter(ref string) string {
	if branch, ok := strings.CutPrefix(ref, headsPrefix); ok && branch != "" {
		switch {
		case len(s.Branches) == 0:
			return fmt.Sprintf("branch %s: only tags are watched (branches is unset)", branch)
		case !matchAny(s.Branches, branch):
			return fmt.Sprintf("branch %s matches none of branches %s", branch, quoteList(s.Branches))
		}
		return ""
	}
	tag, ok := strings.CutPrefix(ref, tagsPrefix)
	if !ok || tag == "" {
		return fmt.Sprintf("ref %s is neither a branch nor a tag", truncate(ref, 200))
	}
	switch {
	case len(s.Tags) == 0 && s.semver == nil:
		return fmt.Sprintf("tag %s: tags are not watched (set tags or tagSemver)", tag)
	case len(s.Tags) > 0 && !matchAny(s.Tags, tag):
		return fmt.Sprintf("tag %s matches none of tags %s", tag, quoteList(s.Tags))
	case s.semver != nil:
		v, err := tagVersion(tag)
		if err != nil {
			return fmt.Sprintf("tag %s is not a semantic version MAJOR.MINOR.PATCH, which tagSemver %q needs", tag, s.TagSemver)
		}
		if !s.semver.Check(v) {
			return fmt.Sprintf("tag %s is outside tagSemver %q", tag, s.TagSemver)
		}
	}
	return ""
}

// pathFilter returns why a push changing changed is not watched, or ""
// when it is. A push with no changed paths reported is watched: providers
// leave them out of tag pushes and of very large pushes.
func (s *settings) pathFilter(changed []string) string {
	if len(s.Paths) == 0 || len(changed) == 0 {
		return ""
	}
	for _, c := range changed {
		c = strings.TrimPrefix(strings.TrimPrefix(c, "./"), "/")
		for _, p := range s.Paths {
			if matchGlobOrParent(strings.TrimSuffix(p, "/"), c) {
				return ""
			}
		}
	}
	return fmt.Sprintf("none of the %d changed paths is under paths %s", len(changed), quoteList(s.Paths))
}

// tagVersion reads a tag as a semantic version, allowing a leading v.
func tagVersion(tag string) (*semver.Version, error) {
	return semver.StrictNewVersion(strings.TrimPrefix(tag, "v"))
}

// matchManual deploys what a person asked for.
func matchManual(ctx context.Context, deps plugins.Deps, s *settings, m plugins.MatchRequest) (plugins.MatchResult, error) {
	me := m.Event.Manual
	if me == nil {
		return plugins.MatchResult{}, fmt.Errorf("manual event %q carries no manual details", m.Event.Name)
	}
	if me.Workload != "" && me.Workload != m.Workload.Name {
		return plugins.Skipped("event is for workload %s", truncate(me.Workload, 253)), nil
	}
	rev := strings.TrimSpace(me.Revision)
	if c := strings.ToLower(rev); isCommitID(c) {
		return deploy(s, m, "", c, manualReason(shortCommit(c), me)), nil
	}
	if rev == "" {
		ref, commit, err := resolveDefaultBranch(ctx, deps, s, m)
		if errors.Is(err, errNoNamedBranch) {
			return plugins.Skipped("%v", err), nil
		}
		if err != nil {
			return plugins.MatchResult{}, err
		}
		return deploy(s, m, ref, commit, manualReason(shortRef(ref)+" at "+shortCommit(commit), me)), nil
	}
	if !isRefName(rev) {
		return plugins.Skipped("revision %q is neither a full commit ID nor a branch or tag name", truncate(rev, 200)), nil
	}
	// As git rev-parse does: a full ref as given, else a tag before a
	// branch of that name.
	candidates := []string{tagsPrefix + rev, headsPrefix + rev}
	if strings.HasPrefix(rev, "refs/") {
		candidates = []string{rev}
	}
	got, err := resolve(ctx, deps, s, m, candidates...)
	if err != nil {
		return plugins.MatchResult{}, err
	}
	for _, ref := range candidates {
		if commit := got[ref]; commit != "" {
			return deploy(s, m, ref, commit, manualReason(shortRef(ref)+" at "+shortCommit(commit), me)), nil
		}
	}
	return plugins.MatchResult{}, fmt.Errorf("revision %s is neither a full commit ID nor a branch or tag of %s: %w", rev, s.URL, ErrRefNotFound)
}

// errNoNamedBranch is resolveDefaultBranch's error when no entry of
// branches names a single branch.
var errNoNamedBranch = errors.New("no branch to deploy: every entry of branches is a pattern, or only tags are watched; name a revision, or list one branch by name")

// resolveDefaultBranch finds the head of the first branch of the config
// that names one branch (not a pattern) and exists.
func resolveDefaultBranch(ctx context.Context, deps plugins.Deps, s *settings, m plugins.MatchRequest) (ref, commit string, err error) {
	var refs []string
	for _, b := range s.Branches {
		if !hasGlobMeta(b) {
			refs = append(refs, headsPrefix+b)
		}
	}
	if len(refs) == 0 {
		return "", "", errNoNamedBranch
	}
	got, err := resolve(ctx, deps, s, m, refs...)
	if err != nil {
		return "", "", err
	}
	for _, r := range refs {
		if c := got[r]; c != "" {
			return r, c, nil
		}
	}
	return "", "", fmt.Errorf("%s has none of the branches %s: %w", s.URL, quoteList(shortRefs(refs)), ErrRefNotFound)
}

// resolve runs ls-remote for refs, with the token of secretRef when set.
func resolve(ctx context.Context, deps plugins.Deps, s *settings, m plugins.MatchRequest, refs ...string) (map[string]string, error) {
	ns := m.Event.Trigger.Namespace
	if ns == "" {
		ns = m.Workload.Namespace
	}
	token, err := readToken(ctx, deps, ns, s)
	if err != nil {
		return nil, err
	}
	deps.Log.V(1).Info("Resolving git refs", "url", s.URL, "refs", refs, "withToken", token != nil)
	got, err := lsRemote(ctx, s.URL, token, refs...)
	if err != nil {
		return nil, fmt.Errorf("resolving %s: %w", strings.Join(shortRefs(refs), ", "), err)
	}
	return got, nil
}

// deploy is the intent to deploy commit, reached from ref (which may be
// empty when a person named the commit).
func deploy(s *settings, m plugins.MatchRequest, ref, commit, reason string) plugins.MatchResult {
	return plugins.Matched(plugins.DeploymentIntent{
		Revision:  commit,
		Reason:    reason,
		Git:       &plugins.GitRef{URL: s.URL, Ref: ref, Commit: commit},
		EventName: m.Event.Name,
	})
}

// fullRef returns ref in full: providers that send a bare name (GitHub's
// create event) mean a branch for a push and a tag for a tag event.
func fullRef(ref string, typ plugins.EventType) string {
	if ref == "" || strings.HasPrefix(ref, "refs/") {
		return ref
	}
	if typ == plugins.EventTypeGitTag {
		return tagsPrefix + ref
	}
	return headsPrefix + ref
}

// pushReason says what was pushed, as "push to main (abc1234 by Jane:
// fix login)" or "tag v1.2.0 (abc1234 by Jane: release)".
func pushReason(ref, commit string, g *plugins.GitEvent) string {
	what := "push to " + shortRef(ref)
	if tag, ok := strings.CutPrefix(ref, tagsPrefix); ok {
		what = "tag " + tag
	}
	detail := shortCommit(commit)
	if a := authorName(g.Author); a != "" {
		detail += " by " + a
	}
	if msg := firstLine(g.Message); msg != "" {
		detail += ": " + msg
	}
	return oneLine(what + " (" + detail + ")")
}

// manualReason says who asked for what: "manual deploy of main at abc1234
// by jane: hotfix".
func manualReason(what string, me *plugins.ManualEvent) string {
	r := "manual deploy of " + what
	if me.User != "" {
		r += " by " + me.User
	}
	if me.Reason != "" {
		r += ": " + me.Reason
	}
	return oneLine(r)
}

// describeRef names a ref for people: "branch main", "tag v1".
func describeRef(ref string) string {
	if b, ok := strings.CutPrefix(ref, headsPrefix); ok {
		return "branch " + b
	}
	if t, ok := strings.CutPrefix(ref, tagsPrefix); ok {
		return "tag " + t
	}
	return "ref " + truncate(ref, 200)
}

// shortRef drops refs/heads/ and refs/tags/.
func shortRef(ref string) string {
	if b, ok := strings.CutPrefix(ref, headsPrefix); ok {
		return b
	}
	return strings.TrimPrefix(ref, tagsPrefix)
}

func shortRefs(refs []string) []string {
	out := make([]string, len(refs))
	for i, r := range refs {
		out[i] = shortRef(r)
	}
	return out
}

// shortCommit is the 7-character abbreviation people know from git log.
func shortCommit(c string) string {
	return c[:min(len(c), 7)]
}

// authorName keeps the name of "Name <email>".
func authorName(a string) string {
	if name, _, ok := strings.Cut(a, "<"); ok && strings.TrimSpace(name) != "" {
		a = name
	}
	return truncate(strings.TrimSpace(a), 80)
}

// firstLine is the subject of a commit message, bounded.
func firstLine(msg string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(msg), "\n")
	return truncate(strings.TrimSpace(line), 72)
}

// maxReasonLength bounds a reason, which is one line for people.
const maxReasonLength = 300

// oneLine replaces control characters by spaces and bounds s.
func oneLine(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
	return truncate(s, maxReasonLength)
}

// truncate bounds s to n bytes, cutting at a rune boundary and marking the
// cut with "…".
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// quoteList renders patterns for messages: ["main", "release/*"].
func quoteList(items []string) string {
	q := make([]string, len(items))
	for i, it := range items {
		q[i] = fmt.Sprintf("%q", it)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// matchAny reports whether name matches one of patterns.
func matchAny(patterns []string, name string) bool {
	for _, p := range patterns {
		if matchGlob(p, name) {
			return true
		}
	}
	return false
}

// isCommitID reports whether s is a full SHA-1 or SHA-256 commit ID in
// lowercase hexadecimal.
func isCommitID(s string) bool {
	return (len(s) == 40 || len(s) == 64) && plugins.IsHex(s)
}

// isZeroCommit reports whether c is the all-zeros ID providers send for a
// deleted ref.
func isZeroCommit(c string) bool {
	return c != "" && strings.Trim(c, "0") == ""
}

// isRefName reports whether s can be a branch, tag or full ref name: the
// rules of git check-ref-format that matter here, and no glob
// metacharacters, which ls-remote would expand.
func isRefName(s string) bool {
	if s == "" || len(s) > maxPatternLength || strings.HasPrefix(s, "-") || strings.HasPrefix(s, "/") ||
		strings.HasSuffix(s, "/") || strings.HasSuffix(s, ".") || strings.HasSuffix(s, ".lock") ||
		strings.Contains(s, "..") || strings.Contains(s, "//") || strings.Contains(s, "@{") || s == "@" {
		return false
	}
	return strings.IndexFunc(s, func(r rune) bool {
		return unicode.IsSpace(r) || !unicode.IsPrint(r) || strings.ContainsRune("~^:?*[\\", r)
	}) < 0
}
