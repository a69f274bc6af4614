package git

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/tinyforge/tinyforge/plugins"
)

const (
	repoURLConfig = "https://github.com/acme/web.git"
	commitA       = "fd489864e7642b48eaad6e3f155c10e46810ec72"
)

// eventOption changes a test event.
type eventOption func(*plugins.InboundEvent)

// gitEvent is a push of ref to the configured repository at commitA, by
// Jane, as a webhook parser reports it.
func gitEvent(typ plugins.EventType, ref string, opts ...eventOption) plugins.InboundEvent {
	ev := plugins.InboundEvent{
		Name:     "github-72d3162e",
		Provider: "github",
		Type:     typ,
		Git: &plugins.GitEvent{
			URL:     "https://github.com/acme/web.git",
			Ref:     ref,
			Commit:  commitA,
			Author:  "Jane Doe <jane@example.com>",
			Message: "Fix login\n\nThe form posted to the wrong URL.",
		},
	}
	for _, o := range opts {
		o(&ev)
	}
	return ev
}

func withURL(u string) eventOption    { return func(e *plugins.InboundEvent) { e.Git.URL = u } }
func withCommit(c string) eventOption { return func(e *plugins.InboundEvent) { e.Git.Commit = c } }
func withPaths(p ...string) eventOption {
	return func(e *plugins.InboundEvent) { e.Git.ChangedPaths = p }
}
func withAuthor(a, msg string) eventOption {
	return func(e *plugins.InboundEvent) { e.Git.Author, e.Git.Message = a, msg }
}
func withoutGit() eventOption { return func(e *plugins.InboundEvent) { e.Git = nil } }

// want is the expected outcome of a Match: an intent (revision, ref and a
// reason), a skip reason containing skip, or an error containing err.
type want struct {
	revision, ref, reason string
	skip                  string
	err                   string
	errIs                 error
}

// checkMatch runs Match and compares its outcome with w.
func checkMatch(t *testing.T, deps plugins.Deps, config string, ev plugins.InboundEvent, w want) {
	t.Helper()
	req := plugins.MatchRequest{
		Workload: plugins.Workload{Namespace: "shop", Name: "web"},
		Config:   []byte(config),
		Event:    ev,
	}
	res, err := (&Trigger{}).Match(context.Background(), deps, req)
	switch {
	case w.err != "" || w.errIs != nil:
		if err == nil {
			t.Fatalf("Match() = %+v, want an error containing %q", res, w.err)
		}
		if !strings.Contains(err.Error(), w.err) || (w.errIs != nil && !errors.Is(err, w.errIs)) {
			t.Fatalf("Match() error = %v, want one containing %q (is %v)", err, w.err, w.errIs)
		}
		return
	case err != nil:
		t.Fatalf("Match(): %v", err)
	}
	if err := res.Validate(); err != nil {
		t.Fatalf("Match() = %+v, invalid: %v", res, err)
	}
	if w.skip != "" {
		if res.Intent != nil || !strings.Contains(res.SkipReason, w.skip) {
			t.Fatalf("Match() = intent %+v, skip %q; want a skip containing %q", res.Intent, res.SkipReason, w.skip)
		}
		return
	}
	in := res.Intent
	if in == nil {
		t.Fatalf("Match() skipped: %s", res.SkipReason)
	}
	var cfg struct{ URL string }
	if s, errs := parseConfig(testPath, []byte(config)); len(errs) == 0 {
		cfg.URL = s.URL
	}
	switch {
	case in.Revision != w.revision:
		t.Errorf("revision = %q, want %q", in.Revision, w.revision)
	case in.Git == nil || in.Git.Commit != w.revision || in.Git.Ref != w.ref || in.Git.URL != cfg.URL:
		t.Errorf("git = %+v, want {URL:%s Ref:%s Commit:%s}", in.Git, cfg.URL, w.ref, w.revision)
	case in.EventName != ev.Name:
		t.Errorf("event name = %q, want %q", in.EventName, ev.Name)
	case w.reason != "" && in.Reason != w.reason:
		t.Errorf("reason = %q, want %q", in.Reason, w.reason)
	}
}

// Matching of pushes that carry their commit: no git command runs.
func TestMatchGitEvents(t *testing.T) {
	const (
		defaults = `{"url":"` + repoURLConfig + `"}`
		release  = `{"url":"` + repoURLConfig + `","branches":["release/*"]}`
		deep     = `{"url":"` + repoURLConfig + `","branches":["release/**"]}`
		tagsOnly = `{"url":"` + repoURLConfig + `","tags":["v*"]}`
		semver   = `{"url":"` + repoURLConfig + `","tagSemver":">=1.0.0 <2"}`
		semverRC = `{"url":"` + repoURLConfig + `","tagSemver":">=2.0.0-0"}`
		both     = `{"url":"` + repoURLConfig + `","tags":["v*"],"tagSemver":">=1.0.0"}`
		paths    = `{"url":"` + repoURLConfig + `","paths":["services/web","**/*.go"]}`
	)
	push, tag := plugins.EventTypeGitPush, plugins.EventTypeGitTag
	tests := []struct {
		name   string
		config string
		event  plugins.InboundEvent
		want   want
	}{
		{
			name: "push to main, defaults", config: defaults, event: gitEvent(push, "refs/heads/main"),
			want: want{revision: commitA, ref: "refs/heads/main", reason: "push to main (fd48986 by Jane Doe: Fix login)"},
		},
		{name: "push to master, defaults", config: defaults, event: gitEvent(push, "refs/heads/master"), want: want{revision: commitA, ref: "refs/heads/master"}},
		{name: "push to develop, defaults", config: defaults, event: gitEvent(push, "refs/heads/develop"), want: want{skip: `branch develop matches none of branches ["main", "master"]`}},
		{name: "tag, defaults", config: defaults, event: gitEvent(tag, "refs/tags/v1.0.0"), want: want{skip: "tag v1.0.0: tags are not watched (set tags or tagSemver)"}},
		{name: "release glob", config: release, event: gitEvent(push, "refs/heads/release/1.0"), want: want{revision: commitA, ref: "refs/heads/release/1.0"}},
		{name: "release glob is one segment", config: release, event: gitEvent(push, "refs/heads/release/1.0/fix"), want: want{skip: "matches none of branches"}},
		{name: "release glob needs a segment", config: release, event: gitEvent(push, "refs/heads/release"), want: want{skip: "matches none of branches"}},
		{name: "double star crosses segments", config: deep, event: gitEvent(push, "refs/heads/release/1.0/fix"), want: want{revision: commitA, ref: "refs/heads/release/1.0/fix"}},
		{name: "tags only skip branches", config: tagsOnly, event: gitEvent(push, "refs/heads/main"), want: want{skip: "branch main: only tags are watched"}},
		{
			name: "tag glob", config: tagsOnly, event: gitEvent(tag, "refs/tags/v1.2.0"),
			want: want{revision: commitA, ref: "refs/tags/v1.2.0", reason: "tag v1.2.0 (fd48986 by Jane Doe: Fix login)"},
		},
		{name: "tag glob mismatch", config: tagsOnly, event: gitEvent(tag, "refs/tags/1.2.0"), want: want{skip: `tag 1.2.0 matches none of tags ["v*"]`}},
		{name: "tag pushed as a push event", config: tagsOnly, event: gitEvent(push, "refs/tags/v1.2.0"), want: want{revision: commitA, ref: "refs/tags/v1.2.0"}},
		{name: "bare tag name of a create event", config: tagsOnly, event: gitEvent(tag, "v3"), want: want{revision: commitA, ref: "refs/tags/v3"}},
		{name: "bare branch name of a create event", config: defaults, event: gitEvent(push, "main"), want: want{revision: commitA, ref: "refs/heads/main"}},
		{name: "semver inside", config: semver, event: gitEvent(tag, "refs/tags/v1.4.2"), want: want{revision: commitA, ref: "refs/tags/v1.4.2"}},
		{name: "semver without v", config: semver, event: gitEvent(tag, "refs/tags/1.4.2"), want: want{revision: commitA, ref: "refs/tags/1.4.2"}},
		{name: "semver below", config: semver, event: gitEvent(tag, "refs/tags/v0.9.0"), want: want{skip: `tag v0.9.0 is outside tagSemver ">=1.0.0 <2"`}},
		{name: "semver above", config: semver, event: gitEvent(tag, "refs/tags/v2.0.0"), want: want{skip: "is outside tagSemver"}},
		{name: "semver pre-release outside", config: semver, event: gitEvent(tag, "refs/tags/v1.5.0-rc.1"), want: want{skip: "is outside tagSemver"}},
		{name: "semver pre-release named", config: semverRC, event: gitEvent(tag, "refs/tags/v2.0.0-rc.1"), want: want{revision: commitA, ref: "refs/tags/v2.0.0-rc.1"}},
		{name: "semver not a version", config: semver, event: gitEvent(tag, "refs/tags/latest"), want: want{skip: "tag latest is not a semantic version"}},
		{name: "semver needs three numbers", config: semver, event: gitEvent(tag, "refs/tags/v1.2"), want: want{skip: "is not a semantic version"}},
		{name: "semver and glob both hold", config: both, event: gitEvent(tag, "refs/tags/v1.0.0"), want: want{revision: commitA, ref: "refs/tags/v1.0.0"}},
		{name: "semver holds, glob does not", config: both, event: gitEvent(tag, "refs/tags/1.0.0"), want: want{skip: "matches none of tags"}},
		{name: "semver only skips branches", config: semver, event: gitEvent(push, "refs/heads/main"), want: want{skip: "only tags are watched"}},
		{name: "pull request ref", config: defaults, event: gitEvent(push, "refs/pull/1/head"), want: want{skip: "ref refs/pull/1/head is neither a branch nor a tag"}},
		{name: "empty ref", config: defaults, event: gitEvent(push, ""), want: want{skip: "is neither a branch nor a tag"}},
		{name: "deleted branch", config: defaults, event: gitEvent(push, "refs/heads/main", withCommit(strings.Repeat("0", 40))), want: want{skip: "branch main was deleted"}},
		{name: "deleted tag", config: tagsOnly, event: gitEvent(tag, "refs/tags/v1", withCommit(strings.Repeat("0", 40))), want: want{skip: "tag v1 was deleted"}},
		{name: "scp-like event URL", config: defaults, event: gitEvent(push, "refs/heads/main", withURL("git@github.com:acme/web.git")), want: want{revision: commitA, ref: "refs/heads/main"}},
		{name: "html event URL", config: defaults, event: gitEvent(push, "refs/heads/main", withURL("https://GitHub.com/acme/web/")), want: want{revision: commitA, ref: "refs/heads/main"}},
		{name: "other repository", config: defaults, event: gitEvent(push, "refs/heads/main", withURL("https://github.com/acme/api.git")), want: want{skip: "event is for repository github.com/acme/api, not github.com/acme/web"}},
		{name: "other host", config: defaults, event: gitEvent(push, "refs/heads/main", withURL("https://gitlab.com/acme/web.git")), want: want{skip: "event is for repository gitlab.com/acme/web"}},
		{name: "no repository", config: defaults, event: gitEvent(push, "refs/heads/main", withURL("")), want: want{skip: "the event names no repository"}},
		{name: "garbage repository", config: defaults, event: gitEvent(push, "refs/heads/main", withURL("not a url")), want: want{skip: "the event's repository URL is not one git understands"}},
		{name: "changed path in a folder", config: paths, event: gitEvent(push, "refs/heads/main", withPaths("README.md", "services/web/main.go")), want: want{revision: commitA, ref: "refs/heads/main"}},
		{name: "changed path by glob", config: paths, event: gitEvent(push, "refs/heads/main", withPaths("cmd/x/main.go")), want: want{revision: commitA, ref: "refs/heads/main"}},
		{name: "changed path with ./", config: paths, event: gitEvent(push, "refs/heads/main", withPaths("./services/web/x")), want: want{revision: commitA, ref: "refs/heads/main"}},
		{name: "changed paths elsewhere", config: paths, event: gitEvent(push, "refs/heads/main", withPaths("docs/a.md", "services/api/x.js")), want: want{skip: `none of the 2 changed paths is under paths ["services/web", "**/*.go"]`}},
		{name: "changed path is a prefix only by name", config: paths, event: gitEvent(push, "refs/heads/main", withPaths("services/webapp/x.js")), want: want{skip: "none of the 1 changed paths"}},
		{name: "no changed paths reported", config: paths, event: gitEvent(push, "refs/heads/main"), want: want{revision: commitA, ref: "refs/heads/main"}},
		{name: "uppercase commit", config: defaults, event: gitEvent(push, "refs/heads/main", withCommit(strings.ToUpper(commitA))), want: want{revision: commitA, ref: "refs/heads/main"}},
		{name: "sha256 commit", config: defaults, event: gitEvent(push, "refs/heads/main", withCommit(strings.Repeat("ab", 32))), want: want{revision: strings.Repeat("ab", 32), ref: "refs/heads/main"}},
		{name: "abbreviated commit", config: defaults, event: gitEvent(push, "refs/heads/main", withCommit("fd48986")), want: want{err: `the event's commit "fd48986" is not a full commit ID`}},
		{
			name: "reason without author or message", config: defaults, event: gitEvent(push, "refs/heads/main", withAuthor("", "")),
			want: want{revision: commitA, ref: "refs/heads/main", reason: "push to main (fd48986)"},
		},
		{
			name: "reason with a user name and a long message", config: defaults,
			event: gitEvent(push, "refs/heads/main", withAuthor("jane", strings.Repeat("x", 100)+"\r\nbody")),
			want:  want{revision: commitA, ref: "refs/heads/main", reason: "push to main (fd48986 by jane: " + strings.Repeat("x", 72) + "…)"},
		},
		{name: "no git details", config: defaults, event: gitEvent(push, "refs/heads/main", withoutGit()), want: want{err: "carries no git details"}},
		{name: "ping", config: defaults, event: plugins.InboundEvent{Type: plugins.EventTypePing}, want: want{skip: "git triggers fire on git-push, git-tag, manual and cron-tick events, not on ping events"}},
		{name: "image push", config: defaults, event: plugins.InboundEvent{Type: plugins.EventTypeImagePush, Image: &plugins.ImageRef{Repository: "web"}}, want: want{skip: "not on image-push events"}},
		{name: "invalid config", config: `{"url":"web"}`, event: gitEvent(push, "refs/heads/main"), want: want{err: "invalid git trigger config: config.url"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkMatch(t, plugins.Deps{}, tt.config, tt.event, tt.want)
		})
	}
}
