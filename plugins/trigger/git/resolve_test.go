package git

import (
	"context"
	"errors"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"

	gitcli "github.com/tinyforge/tinyforge/internal/git"
	"github.com/tinyforge/tinyforge/internal/git/gittest"
	"github.com/tinyforge/tinyforge/plugins"
)

// lsRemote resolves full refs of a real repository through internal/git
// (whose tests cover ref matching and peeling), with the trigger's URLs
// and messages.
func TestLsRemote(t *testing.T) {
	repo := newTestRepo(t)
	tests := []struct {
		name    string
		url     string
		refs    []string
		want    map[string]string
		wantErr string
	}{
		{
			name: "file URL",
			url:  repo.url,
			refs: []string{"refs/heads/main", "refs/tags/v1.0.0", "refs/heads/nope"},
			want: map[string]string{"refs/heads/main": repo.main, "refs/tags/v1.0.0": repo.v1},
		},
		{
			name: "local path",
			url:  repo.dir,
			refs: []string{"refs/heads/main"},
			want: map[string]string{"refs/heads/main": repo.main},
		},
		{
			name: "names git refuses are missing",
			url:  repo.url,
			refs: []string{"refs/tags/v*", "refs/heads/a b", "main", "refs/heads/main"},
			want: map[string]string{"refs/heads/main": repo.main},
		},
		{
			name:    "missing repository",
			url:     "file://" + filepath.Join(t.TempDir(), "nothing"),
			refs:    []string{"refs/heads/main"},
			wantErr: "does not appear to be a git repository",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := lsRemote(context.Background(), tt.url, nil, tt.refs...)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), "git ls-remote "+tt.url+": fatal: ") || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("lsRemote() = %v, %v; want error containing %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Errorf("lsRemote() = %v, want %v", got, tt.want)
			}
			for ref, c := range tt.want {
				if got[ref] != c {
					t.Errorf("%s = %q, want %q", ref, got[ref], c)
				}
			}
		})
	}
}

// A server that accepts and never answers makes ls-remote give up when the
// context ends, instead of holding the caller.
func TestLsRemoteGivesUp(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		_ = ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			_ = c.Close()
		}
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = lsRemote(ctx, "git://"+ln.Addr().String()+"/web.git", nil, "refs/heads/main")
	if err == nil || !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "gave up waiting") {
		t.Fatalf("lsRemote() error = %v, want a deadline error", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("lsRemote() returned after %v", d)
	}
}

// Matching that needs the repository: events without a commit, manual
// events and cron ticks, against a real repository.
func TestMatchResolves(t *testing.T) {
	repo := newTestRepo(t)
	cfg := func(extra string) string { return `{"url":"` + repo.url + `"` + extra + `}` }
	manual := func(workload, revision string) plugins.InboundEvent {
		return plugins.InboundEvent{
			Name: "manual-1", Type: plugins.EventTypeManual,
			Manual: &plugins.ManualEvent{Workload: workload, Revision: revision, Reason: "hotfix", User: "jane"},
		}
	}
	create := func(typ plugins.EventType, ref string) plugins.InboundEvent {
		return plugins.InboundEvent{
			Name: "github-create", Provider: "github", Type: typ,
			// GitHub's create event: a bare ref name and no commit.
			Git: &plugins.GitEvent{URL: repo.url + "/", Ref: ref, Author: "jane"},
		}
	}
	cron := plugins.InboundEvent{Name: "cron-1", Type: plugins.EventTypeCronTick}
	tests := []struct {
		name   string
		config string
		event  plugins.InboundEvent
		want   want
	}{
		{name: "created annotated tag", config: cfg(`,"tags":["v*"]`), event: create(plugins.EventTypeGitTag, "v1.0.0"), want: want{revision: repo.v1, ref: "refs/tags/v1.0.0", reason: "tag v1.0.0 (" + repo.v1[:7] + " by jane)"}},
		{name: "created branch", config: cfg(`,"branches":["release/*"]`), event: create(plugins.EventTypeGitPush, "release/1.0"), want: want{revision: repo.release, ref: "refs/heads/release/1.0"}},
		{name: "created tag missing", config: cfg(`,"tags":["v*"]`), event: create(plugins.EventTypeGitTag, "v9.9.9"), want: want{err: "has no refs/tags/v9.9.9", errIs: ErrRefNotFound}},
		{name: "created tag filtered before any git call", config: cfg(`,"tags":["release-*"]`), event: create(plugins.EventTypeGitTag, "v9.9.9"), want: want{skip: "matches none of tags"}},
		{
			name: "manual without revision deploys the first default branch", config: cfg(``), event: manual("", ""),
			want: want{revision: repo.main, ref: "refs/heads/main", reason: "manual deploy of main at " + repo.main[:7] + " by jane: hotfix"},
		},
		{name: "manual for this workload", config: cfg(``), event: manual("web", ""), want: want{revision: repo.main, ref: "refs/heads/main"}},
		{name: "manual skips a missing first branch", config: cfg(`,"branches":["develop","release/*","release/1.0"]`), event: manual("", ""), want: want{revision: repo.release, ref: "refs/heads/release/1.0"}},
		{name: "manual with no branch present", config: cfg(`,"branches":["develop"]`), event: manual("", ""), want: want{err: "has none of the branches [\"develop\"]", errIs: ErrRefNotFound}},
		{name: "manual with only patterns", config: cfg(`,"branches":["release/*"]`), event: manual("", ""), want: want{skip: "no branch to deploy"}},
		{name: "manual with only tags", config: cfg(`,"tags":["v*"]`), event: manual("", ""), want: want{skip: "no branch to deploy"}},
		{name: "manual tag", config: cfg(``), event: manual("", "v1.0.0"), want: want{revision: repo.v1, ref: "refs/tags/v1.0.0", reason: "manual deploy of v1.0.0 at " + repo.v1[:7] + " by jane: hotfix"}},
		{name: "manual branch", config: cfg(``), event: manual("", "release/1.0"), want: want{revision: repo.release, ref: "refs/heads/release/1.0"}},
		{name: "manual full ref", config: cfg(``), event: manual("", "refs/heads/main"), want: want{revision: repo.main, ref: "refs/heads/main"}},
		{name: "manual commit", config: cfg(``), event: manual("", strings.ToUpper(repo.v1)), want: want{revision: repo.v1, ref: "", reason: "manual deploy of " + repo.v1[:7] + " by jane: hotfix"}},
		{name: "manual missing ref", config: cfg(``), event: manual("", "nope"), want: want{err: "revision nope is neither a full commit ID nor a branch or tag of", errIs: ErrRefNotFound}},
		{name: "manual glob revision", config: cfg(``), event: manual("", "v*"), want: want{skip: `revision "v*" is neither a full commit ID nor a branch or tag name`}},
		{name: "manual revision with spaces", config: cfg(``), event: manual("", "main; rm -rf"), want: want{skip: "is neither a full commit ID nor a branch or tag name"}},
		{name: "manual option-like revision", config: cfg(``), event: manual("", "--upload-pack=touch"), want: want{skip: "is neither a full commit ID nor a branch or tag name"}},
		{name: "manual for another workload", config: cfg(``), event: manual("api", ""), want: want{skip: "event is for workload api"}},
		{name: "manual without details", config: cfg(``), event: plugins.InboundEvent{Name: "m", Type: plugins.EventTypeManual}, want: want{err: "carries no manual details"}},
		{name: "cron tick", config: cfg(``), event: cron, want: want{revision: repo.main, ref: "refs/heads/main", reason: "cron tick: redeploy main at " + repo.main[:7]}},
		{name: "cron tick with only patterns", config: cfg(`,"branches":["release/*"]`), event: cron, want: want{skip: "no branch to deploy"}},
		{name: "cron tick, repository gone", config: `{"url":"file:///nonexistent/web.git"}`, event: cron, want: want{err: "resolving main, master: git ls-remote file:///nonexistent/web.git: fatal:"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkMatch(t, plugins.Deps{}, tt.config, tt.event, tt.want)
		})
	}
}

// Over https, the token of secretRef reaches the server as basic-auth
// password (checked by a real git http-backend behind TLS), and appears in
// no error or log line.
func TestMatchTokenOverHTTPS(t *testing.T) {
	const token = "ghp_s3cretT0ken"
	repo := newTestRepo(t)
	srv := gittest.Serve(t, filepath.Dir(repo.dir), gittest.Options{Token: token, User: gitcli.DefaultUsername, TLS: true})

	config := `{"url":"` + srv.URL + `/web.git","secretRef":{"name":"git-auth"}}`
	cron := plugins.InboundEvent{Name: "cron-1", Type: plugins.EventTypeCronTick, Trigger: types.NamespacedName{Namespace: "shop", Name: "nightly"}}
	tests := []struct {
		name    string
		secrets map[string]string
		want    want
		// ran is whether git runs (and the attempt is logged).
		ran bool
	}{
		{name: "right token", secrets: map[string]string{"shop/git-auth/token": token + "\n"}, want: want{revision: repo.main, ref: "refs/heads/main"}, ran: true},
		{name: "wrong token", secrets: map[string]string{"shop/git-auth/token": token + "x"}, want: want{err: "git ls-remote " + srv.URL + "/web.git: fatal:"}, ran: true},
		{name: "missing secret", secrets: map[string]string{"other/git-auth/token": token}, want: want{err: "reading the git token from Secret shop/git-auth key token", errIs: plugins.ErrSecretNotFound}},
		{name: "token with a line break", secrets: map[string]string{"shop/git-auth/token": "s3cret\nb"}, want: want{err: "the token is empty or contains spaces or control characters"}, ran: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs logBuffer
			deps := plugins.Deps{Secrets: secrets(tt.secrets), Log: logs.logger()}
			checkMatch(t, deps, config, cron, tt.want)
			res, err := (&Trigger{}).Match(context.Background(), deps, plugins.MatchRequest{
				Workload: plugins.Workload{Namespace: "shop", Name: "web"}, Config: []byte(config), Event: cron,
			})
			for _, s := range []string{logs.String(), errString(err), res.SkipReason} {
				if strings.Contains(s, "s3cret") {
					t.Errorf("the token leaked: %q", s)
				}
			}
			if logged := strings.Contains(logs.String(), "Resolving git refs"); logged != tt.ran {
				t.Errorf("logged %v, want %v: %q", logged, tt.ran, logs.String())
			}
		})
	}
	if srv.Authorized.Load() == 0 || srv.Refused.Load() == 0 {
		t.Errorf("server saw %d authorized and %d refused requests, want both", srv.Authorized.Load(), srv.Refused.Load())
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
