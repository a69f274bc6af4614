package webhook

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/tinyforge/tinyforge/api/v1alpha1"
	"github.com/tinyforge/tinyforge/plugins"
)

const (
	githubDelivery = "72d3162e-cc78-11e3-81ab-4c9367dc0958"
	gitlabUUID     = "4b1c1d2e-7d4a-4c1e-9a57-0f2b8f7a9c11"
	giteaDelivery  = "b5c3c8e1-2d2b-4c1c-8e36-2f6f4c6f0f10"
	zeros          = "0000000000000000000000000000000000000000"
)

// TestParseFixtures parses every shared real payload and spells out what it
// normalizes to.
func TestParseFixtures(t *testing.T) {
	tests := []struct {
		name     string
		fixture  string
		provider v1alpha1.Provider
		header   http.Header
		// want has the events in full; a body-hash delivery ID is filled in
		// from the fixture when wantHashID is set.
		want       Result
		wantHashID bool
	}{
		{
			name: "github branch push", fixture: "github/push.json", provider: v1alpha1.ProviderGitHub,
			header: headers("X-GitHub-Event", "push", "X-GitHub-Delivery", githubDelivery),
			want: Result{Events: []plugins.InboundEvent{gitEvent("github", plugins.EventTypeGitPush, githubDelivery, plugins.GitEvent{
				URL:          "https://github.com/binkkatal/sample_app.git",
				Ref:          "refs/heads/master",
				Commit:       "fd489864e7642b48eaad6e3f155c10e46810ec72",
				Before:       "737d38c599c1b2991664dfc6155d6bf516fcce36",
				Author:       "binkkatal <binkkatal.r@gmail.com>",
				Message:      "test a push event",
				ChangedPaths: []string{".razorops.yaml", "app/controllers/application_controller.rb"},
			})}},
		},
		{
			name: "github tag created, without a commit", fixture: "github/create.json", provider: v1alpha1.ProviderGitHub,
			header: headers("X-GitHub-Event", "create", "X-GitHub-Delivery", githubDelivery),
			want: Result{Events: []plugins.InboundEvent{gitEvent("github", plugins.EventTypeGitTag, githubDelivery, plugins.GitEvent{
				URL: "https://github.com/baxterthehacker/public-repo.git",
				Ref: "refs/tags/0.0.1",
			})}},
		},
		{
			name: "github delete is ignored", fixture: "github/delete.json", provider: v1alpha1.ProviderGitHub,
			header: headers("X-GitHub-Event", "delete", "X-GitHub-Delivery", githubDelivery),
			want:   Result{Ignored: "tag simple-tag was deleted"},
		},
		{
			name: "github ping is a ping event", fixture: "github/ping.json", provider: v1alpha1.ProviderGitHub,
			header: headers("X-GitHub-Event", "ping", "X-GitHub-Delivery", githubDelivery),
			want:   Result{Events: []plugins.InboundEvent{{Provider: "github", Type: plugins.EventTypePing, DeliveryID: githubDelivery}}},
		},
		{
			name: "gitlab push lists only some commits, so no changed paths", fixture: "gitlab/push-event.json", provider: v1alpha1.ProviderGitLab,
			header: headers("X-Gitlab-Event", "Push Hook", "X-Gitlab-Event-UUID", gitlabUUID, "X-Gitlab-Webhook-UUID", "other"),
			want: Result{Events: []plugins.InboundEvent{gitEvent("gitlab", plugins.EventTypeGitPush, gitlabUUID, plugins.GitEvent{
				URL:     "http://example.com/mike/diaspora.git",
				Ref:     "refs/heads/master",
				Commit:  "da1560886d4f094c3e6c9ef40349f7d38b5d27d7",
				Before:  "95790bf891e76fee5e1747ab589903a6a1f80f22",
				Author:  "GitLab dev user <gitlabdev@dv6700.(none)>",
				Message: "fixed readme",
				// total_commits_count is 4 and 2 are listed: unknown.
				ChangedPaths: nil,
			})}},
		},
		{
			name: "gitlab tag push", fixture: "gitlab/tag-event.json", provider: v1alpha1.ProviderGitLab,
			header: headers("X-Gitlab-Event", "Tag Push Hook", "X-Gitlab-Webhook-UUID", gitlabUUID),
			want: Result{Events: []plugins.InboundEvent{gitEvent("gitlab", plugins.EventTypeGitTag, gitlabUUID, plugins.GitEvent{
				URL:    "http://example.com/jsmith/example.git",
				Ref:    "refs/tags/v1.0.0",
				Commit: "82b3d5ae55f7080f1e6022629cdb57bfae7cccc7",
				Before: zeros,
			})}},
		},
		{
			name: "gitea push", fixture: "gitea/push-event.json", provider: v1alpha1.ProviderGitea,
			header: headers("X-Gitea-Event", "push", "X-GitHub-Event", "push", "X-Gitea-Delivery", giteaDelivery),
			want: Result{Events: []plugins.InboundEvent{gitEvent("gitea", plugins.EventTypeGitPush, giteaDelivery, plugins.GitEvent{
				URL:          "http://localhost:3000/example/example.git",
				Ref:          "refs/heads/master",
				Commit:       "67b56589a45103f891bdee7c0546e5d40bc02001",
				Before:       zeros,
				Author:       "example <example@example.com>",
				Message:      "example\n",
				ChangedPaths: []string{"example"},
			})}},
		},
		{
			name: "gitea branch created is ignored", fixture: "gitea/create-event.json", provider: v1alpha1.ProviderGitea,
			header: headers("X-Gitea-Event", "create", "X-Gitea-Delivery", giteaDelivery),
			want:   Result{Ignored: "branch master was created; the push event sent with it carries the commits"},
		},
		{
			name: "docker hub push, delivery ID from the body", fixture: "dockerhub/push.json", provider: v1alpha1.ProviderDockerHub,
			header:     headers("Content-Type", "application/json"),
			want:       Result{Events: []plugins.InboundEvent{imageEvent("dockerhub", "", "docker.io/svendowideit/testhook", "latest", "")}},
			wantHashID: true,
		},
		{
			name: "distribution manifest push", fixture: "distribution/manifest-push.json", provider: v1alpha1.ProviderDistribution,
			header: headers("Content-Type", "application/vnd.docker.distribution.events.v1+json"),
			want: Result{Events: []plugins.InboundEvent{imageEvent("distribution", "8e4b036c-429a-4061-b274-f6e0c4dcbbbd",
				"127.0.0.1:5055/demo/app", "v1", "sha256:d4a577416d74fb7a140a8119d03716f231244268b9bc09da3362978e38fed46d")}},
		},
	}
	covered := map[string]bool{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			covered[tt.fixture] = true
			body := fixture(t, tt.fixture)
			if tt.wantHashID {
				tt.want.Events[0].DeliveryID = hashOf(body)
			}
			got, err := Parse(tt.provider, tt.header, body)
			if err != nil {
				t.Fatalf("Parse(%s): %v", tt.fixture, err)
			}
			checkResult(t, got, tt.want)
		})
	}
	for _, name := range fixtureNames(t) {
		if !covered[name] {
			t.Errorf("fixture %s has no case in TestParseFixtures", name)
		}
	}
}

// TestParseVariants covers what the fixtures do not, by editing them the
// way the providers' other deliveries differ.
func TestParseVariants(t *testing.T) {
	githubPush := fixture(t, "github/push.json")
	gitlabPush := fixture(t, "gitlab/push-event.json")
	giteaPush := fixture(t, "gitea/push-event.json")
	giteaCreate := fixture(t, "gitea/create-event.json")
	hub := fixture(t, "dockerhub/push.json")
	const tagObject, tagCommit = "1111111111111111111111111111111111111111", "2222222222222222222222222222222222222222"

	ghPush := headers("X-GitHub-Event", "push", "X-GitHub-Delivery", githubDelivery)
	tests := []struct {
		name     string
		provider v1alpha1.Provider
		header   http.Header
		body     []byte
		want     Result
	}{
		{
			name: "github push without a delivery header gets the body hash", provider: v1alpha1.ProviderGitHub,
			header: headers("X-GitHub-Event", "push"), body: githubPush,
			want: Result{Events: []plugins.InboundEvent{gitEvent("github", plugins.EventTypeGitPush, hashOf(githubPush), plugins.GitEvent{
				URL: "https://github.com/binkkatal/sample_app.git", Ref: "refs/heads/master",
				Commit: "fd489864e7642b48eaad6e3f155c10e46810ec72", Before: "737d38c599c1b2991664dfc6155d6bf516fcce36",
				Author: "binkkatal <binkkatal.r@gmail.com>", Message: "test a push event",
				ChangedPaths: []string{".razorops.yaml", "app/controllers/application_controller.rb"},
			})}},
		},
		{
			name: "github branch deleted", provider: v1alpha1.ProviderGitHub, header: ghPush,
			body: withFields(t, githubPush, map[string]any{"deleted": true, "after": zeros, "head_commit": nil, "commits": []any{}}),
			want: Result{Ignored: "branch refs/heads/master was deleted"},
		},
		{
			name: "github tag deleted by a push with after all zeros", provider: v1alpha1.ProviderGitHub, header: ghPush,
			body: withFields(t, githubPush, map[string]any{"ref": "refs/tags/v1", "after": zeros}),
			want: Result{Ignored: "tag refs/tags/v1 was deleted"},
		},
		{
			name: "github annotated tag: the commit is head_commit, not the tag object", provider: v1alpha1.ProviderGitHub, header: ghPush,
			body: withFields(t, githubPush, map[string]any{
				"ref": "refs/tags/v2.0.0", "before": zeros, "after": tagObject, "commits": []any{},
				"head_commit": map[string]any{"id": tagCommit, "message": "Release 2.0", "author": map[string]any{"name": "Ada", "email": "ada@example.org"}},
			}),
			want: Result{Events: []plugins.InboundEvent{gitEvent("github", plugins.EventTypeGitTag, githubDelivery, plugins.GitEvent{
				URL: "https://github.com/binkkatal/sample_app.git", Ref: "refs/tags/v2.0.0", Commit: tagCommit, Before: zeros,
				Author: "Ada <ada@example.org>", Message: "Release 2.0",
			})}},
		},
		{
			name: "github push to a ref that is neither branch nor tag", provider: v1alpha1.ProviderGitHub, header: ghPush,
			body: withFields(t, githubPush, map[string]any{"ref": "refs/notes/commits"}),
			want: Result{Ignored: `ref "refs/notes/commits" is neither a branch nor a tag`},
		},
		{
			name: "github push with uppercase commit IDs is lowercased", provider: v1alpha1.ProviderGitHub, header: ghPush,
			body: withFields(t, githubPush, map[string]any{"after": "FD489864E7642B48EAAD6E3F155C10E46810EC72", "head_commit": nil, "commits": []any{}}),
			want: Result{Events: []plugins.InboundEvent{gitEvent("github", plugins.EventTypeGitPush, githubDelivery, plugins.GitEvent{
				URL: "https://github.com/binkkatal/sample_app.git", Ref: "refs/heads/master",
				Commit: "fd489864e7642b48eaad6e3f155c10e46810ec72", Before: "737d38c599c1b2991664dfc6155d6bf516fcce36",
			})}},
		},
		{
			name: "gitlab push listing every commit has changed paths", provider: v1alpha1.ProviderGitLab,
			header: headers("X-Gitlab-Event", "Push Hook", "X-Gitlab-Event-UUID", gitlabUUID),
			body:   withFields(t, gitlabPush, map[string]any{"total_commits_count": 2}),
			want: Result{Events: []plugins.InboundEvent{gitEvent("gitlab", plugins.EventTypeGitPush, gitlabUUID, plugins.GitEvent{
				URL: "http://example.com/mike/diaspora.git", Ref: "refs/heads/master",
				Commit: "da1560886d4f094c3e6c9ef40349f7d38b5d27d7", Before: "95790bf891e76fee5e1747ab589903a6a1f80f22",
				Author: "GitLab dev user <gitlabdev@dv6700.(none)>", Message: "fixed readme",
				ChangedPaths: []string{"CHANGELOG", "app/controller/application.rb"},
			})}},
		},
		{
			name: "gitlab branch deleted", provider: v1alpha1.ProviderGitLab,
			header: headers("X-Gitlab-Event", "Push Hook"),
			body:   withFields(t, gitlabPush, map[string]any{"after": zeros, "checkout_sha": nil, "commits": []any{}, "total_commits_count": 0}),
			want:   Result{Ignored: "branch refs/heads/master was deleted"},
		},
		{
			name: "gitlab system hook push", provider: v1alpha1.ProviderGitLab,
			header: headers("X-Gitlab-Event", "System Hook", "X-Gitlab-Event-UUID", gitlabUUID),
			body:   withFields(t, gitlabPush, map[string]any{"total_commits_count": nil, "project": nil}),
			want: Result{Events: []plugins.InboundEvent{gitEvent("gitlab", plugins.EventTypeGitPush, gitlabUUID, plugins.GitEvent{
				URL: "http://example.com/mike/diaspora.git", Ref: "refs/heads/master",
				Commit: "da1560886d4f094c3e6c9ef40349f7d38b5d27d7", Before: "95790bf891e76fee5e1747ab589903a6a1f80f22",
				Author: "GitLab dev user <gitlabdev@dv6700.(none)>", Message: "fixed readme",
				ChangedPaths: []string{"CHANGELOG", "app/controller/application.rb"},
			})}},
		},
		{
			name: "gitea tag created has its commit", provider: v1alpha1.ProviderGitea,
			header: headers("X-Gitea-Event", "create", "X-Gitea-Delivery", giteaDelivery),
			body:   withFields(t, giteaCreate, map[string]any{"ref": "v1.0.0", "ref_type": "tag"}),
			want: Result{Events: []plugins.InboundEvent{gitEvent("gitea", plugins.EventTypeGitTag, giteaDelivery, plugins.GitEvent{
				URL: "http://localhost:3000/example/example.git", Ref: "refs/tags/v1.0.0",
				Commit: "67b56589a45103f891bdee7c0546e5d40bc02001",
			})}},
		},
		{
			name: "forgejo headers", provider: v1alpha1.ProviderGitea,
			header: headers("X-Forgejo-Event", "push", "X-Forgejo-Delivery", giteaDelivery),
			body:   giteaPush,
			want: Result{Events: []plugins.InboundEvent{gitEvent("gitea", plugins.EventTypeGitPush, giteaDelivery, plugins.GitEvent{
				URL: "http://localhost:3000/example/example.git", Ref: "refs/heads/master",
				Commit: "67b56589a45103f891bdee7c0546e5d40bc02001", Before: zeros,
				Author: "example <example@example.com>", Message: "example\n", ChangedPaths: []string{"example"},
			})}},
		},
		{
			name: "gitea push with more commits than listed has no changed paths", provider: v1alpha1.ProviderGitea,
			header: headers("X-Gitea-Event", "push", "X-Gitea-Delivery", giteaDelivery),
			body:   withFields(t, giteaPush, map[string]any{"total_commits": 7}),
			want: Result{Events: []plugins.InboundEvent{gitEvent("gitea", plugins.EventTypeGitPush, giteaDelivery, plugins.GitEvent{
				URL: "http://localhost:3000/example/example.git", Ref: "refs/heads/master",
				Commit: "67b56589a45103f891bdee7c0546e5d40bc02001", Before: zeros,
				Author: "example <example@example.com>", Message: "example\n",
			})}},
		},
		{
			name: "gitea delete is ignored", provider: v1alpha1.ProviderGitea,
			header: headers("X-Gitea-Event", "delete"),
			body:   withFields(t, giteaCreate, map[string]any{"ref": "feature"}),
			want:   Result{Ignored: "branch feature was deleted"},
		},
		{
			name: "docker hub official image is under library/", provider: v1alpha1.ProviderDockerHub,
			body: withFields(t, hub, map[string]any{"repository": map[string]any{"repo_name": "nginx"}}),
			want: Result{Events: []plugins.InboundEvent{imageEvent("dockerhub", "", "docker.io/library/nginx", "latest", "")}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.header == nil {
				tt.header = http.Header{}
			}
			for i := range tt.want.Events {
				if tt.want.Events[i].DeliveryID == "" {
					tt.want.Events[i].DeliveryID = hashOf(tt.body)
				}
			}
			got, err := Parse(tt.provider, tt.header, tt.body)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			checkResult(t, got, tt.want)
		})
	}
}

// TestParseErrors: each refusal wraps the right sentinel and names what is
// wrong.
func TestParseErrors(t *testing.T) {
	githubPush := fixture(t, "github/push.json")
	gitlabPush := fixture(t, "gitlab/push-event.json")
	hub := fixture(t, "dockerhub/push.json")
	tests := []struct {
		name     string
		provider v1alpha1.Provider
		header   http.Header
		body     []byte
		want     error
		// wantIn lists substrings the message must hold.
		wantIn []string
	}{
		{name: "github not JSON", provider: v1alpha1.ProviderGitHub, header: headers("X-GitHub-Event", "push"),
			body: []byte(`{"ref":`), want: ErrMalformed, wantIn: []string{"github push event", "not valid JSON"}},
		{name: "github empty body", provider: v1alpha1.ProviderGitHub, header: headers("X-GitHub-Event", "push"),
			body: nil, want: ErrMalformed, wantIn: []string{"the body is empty"}},
		{name: "github body is an array", provider: v1alpha1.ProviderGitHub, header: headers("X-GitHub-Event", "push"),
			body: []byte(`[]`), want: ErrMalformed, wantIn: []string{"the body is a JSON array, want a JSON object"}},
		{name: "github field of the wrong type", provider: v1alpha1.ProviderGitHub, header: headers("X-GitHub-Event", "push"),
			body: withFields(t, githubPush, map[string]any{"ref": 5}), want: ErrMalformed, wantIn: []string{"ref is a JSON number, want a JSON string"}},
		{name: "github nested field of the wrong type", provider: v1alpha1.ProviderGitHub, header: headers("X-GitHub-Event", "push"),
			body: withFields(t, githubPush, map[string]any{"repository": map[string]any{"clone_url": true}}), want: ErrMalformed,
			wantIn: []string{"repository.clone_url is a JSON bool"}},
		{name: "github push without ref", provider: v1alpha1.ProviderGitHub, header: headers("X-GitHub-Event", "push"),
			body: withFields(t, githubPush, map[string]any{"ref": nil}), want: ErrMalformed, wantIn: []string{"ref is empty"}},
		{name: "github push without clone_url", provider: v1alpha1.ProviderGitHub, header: headers("X-GitHub-Event", "push"),
			body: withFields(t, githubPush, map[string]any{"repository": map[string]any{}}), want: ErrMalformed, wantIn: []string{"repository.clone_url is empty"}},
		{name: "github push with a bad commit", provider: v1alpha1.ProviderGitHub, header: headers("X-GitHub-Event", "push"),
			body: withFields(t, githubPush, map[string]any{"after": "not-a-sha"}), want: ErrMalformed, wantIn: []string{`after "not-a-sha" is not a commit ID`}},
		{name: "github event we do not handle", provider: v1alpha1.ProviderGitHub, header: headers("X-GitHub-Event", "pull_request"),
			body: githubPush, want: ErrUnsupported, wantIn: []string{`X-GitHub-Event "pull_request" is not handled`}},
		{name: "github without an event header", provider: v1alpha1.ProviderGitHub, header: http.Header{},
			body: githubPush, want: ErrMalformed, wantIn: []string{"no X-GitHub-Event header"}},
		{name: "github create tag with a branch ref", provider: v1alpha1.ProviderGitHub, header: headers("X-GitHub-Event", "create"),
			body: []byte(`{"ref":"refs/heads/x","ref_type":"tag","repository":{"clone_url":"https://g/x.git"}}`), want: ErrMalformed,
			wantIn: []string{`ref "refs/heads/x" of ref_type tag is not a tag`}},
		{name: "gitea event we do not handle", provider: v1alpha1.ProviderGitea, header: headers("X-Gitea-Event", "issues"),
			body: []byte(`{}`), want: ErrUnsupported, wantIn: []string{`X-Gitea-Event "issues" is not handled`}},
		{name: "gitlab event we do not handle", provider: v1alpha1.ProviderGitLab, header: headers("X-Gitlab-Event", "Merge Request Hook"),
			body: gitlabPush, want: ErrUnsupported, wantIn: []string{`X-Gitlab-Event "Merge Request Hook" is not handled`}},
		{name: "gitlab system hook of another kind", provider: v1alpha1.ProviderGitLab, header: headers("X-Gitlab-Event", "System Hook"),
			body: []byte(`{"object_kind":"merge_request"}`), want: ErrUnsupported, wantIn: []string{`object_kind "merge_request"`}},
		{name: "gitlab without a URL", provider: v1alpha1.ProviderGitLab, header: headers("X-Gitlab-Event", "Push Hook"),
			body: withFields(t, gitlabPush, map[string]any{"project": nil, "repository": nil}), want: ErrMalformed,
			wantIn: []string{"project.git_http_url and repository.git_http_url are empty"}},
		{name: "docker hub without a tag", provider: v1alpha1.ProviderDockerHub,
			body: withFields(t, hub, map[string]any{"push_data": map[string]any{}}), want: ErrMalformed, wantIn: []string{"push_data.tag is empty"}},
		{name: "docker hub repository of another registry", provider: v1alpha1.ProviderDockerHub,
			body: withFields(t, hub, map[string]any{"repository": map[string]any{"repo_name": "ghcr.io/x/y"}}), want: ErrMalformed,
			wantIn: []string{`"ghcr.io/x/y" is not a Docker Hub repository`}},
		{name: "distribution body without events", provider: v1alpha1.ProviderDistribution,
			body: []byte(`{"event":[]}`), want: ErrMalformed, wantIn: []string{"events is missing"}},
		{name: "distribution manifest push with a bad tag", provider: v1alpha1.ProviderDistribution,
			body: []byte(`{"events":[{"action":"push","target":{"mediaType":"application/vnd.oci.image.manifest.v1+json","repository":"a","tag":"-bad"},"request":{"host":"r:5000"}}]}`),
			want: ErrMalformed, wantIn: []string{`events[0].target.tag "-bad" is not a valid image tag`}},
		{name: "distribution manifest push with no host", provider: v1alpha1.ProviderDistribution,
			body:   []byte(`{"events":[{"action":"push","target":{"mediaType":"application/vnd.oci.image.manifest.v1+json","repository":"a","tag":"v1"}}]}`),
			want:   ErrMalformed,
			wantIn: []string{"events[0].request.host is empty"}},
		{name: "unknown provider", provider: "bitbucket", body: githubPush, want: ErrUnsupported, wantIn: []string{`provider "bitbucket"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.header == nil {
				tt.header = http.Header{}
			}
			got, err := Parse(tt.provider, tt.header, tt.body)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Parse() = %s, %v; want an error wrapping %v", dump(got), err, tt.want)
			}
			for _, s := range tt.wantIn {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not mention %q", err, s)
				}
			}
			if len(got.Events) != 0 || got.Ignored != "" {
				t.Errorf("Parse() returned %s with its error", dump(got))
			}
		})
	}
}

// TestParseDistribution: only tagged manifest pushes in an envelope are
// image pushes; an envelope of blobs and pulls is ignored, saying what it
// held.
func TestParseDistribution(t *testing.T) {
	const digest = "sha256:d4a577416d74fb7a140a8119d03716f231244268b9bc09da3362978e38fed46d"
	event := func(id, action, mediaType, tag string) map[string]any {
		return map[string]any{
			"id": id, "action": action,
			"target":  map[string]any{"mediaType": mediaType, "digest": digest, "repository": "team/web", "tag": tag, "url": "http://reg.example:5000/v2/team/web/manifests/" + digest},
			"request": map[string]any{"host": "reg.example:5000"},
		}
	}
	envelope := func(events ...map[string]any) []byte {
		if events == nil {
			events = []map[string]any{}
		}
		return mustJSON(t, map[string]any{"events": events})
	}
	blob := event("b1", "push", "application/octet-stream", "")
	layer := event("b2", "push", "application/vnd.docker.image.rootfs.diff.tar.gzip", "")
	pull := event("p1", "pull", "application/vnd.docker.distribution.manifest.v2+json", "v1")
	untagged := event("m0", "push", "application/vnd.oci.image.manifest.v1+json", "")
	noHost := event("m5", "push", "application/vnd.oci.image.index.v1+json", "v5")
	noHost["request"] = map[string]any{}

	tests := []struct {
		name string
		body []byte
		want Result
	}{
		{name: "blob-only envelope", body: envelope(blob, layer, blob),
			want: Result{Ignored: "the notification holds no tagged manifest push (blob push: 3)"}},
		{name: "pulls and an untagged manifest", body: envelope(pull, untagged, blob),
			want: Result{Ignored: "the notification holds no tagged manifest push (pull: 1, manifest push without a tag: 1, blob push: 1)"}},
		{name: "empty envelope", body: envelope(), want: Result{Ignored: "the notification holds no events"}},
		{
			name: "every manifest media type, among blobs",
			body: envelope(blob,
				event("m1", "push", "application/vnd.docker.distribution.manifest.v2+json", "v1"),
				event("m2", "push", "application/vnd.docker.distribution.manifest.list.v2+json", "v2"),
				event("m3", "push", "application/vnd.oci.image.manifest.v1+json", "v3"),
				event("m4", "push", "application/vnd.oci.image.index.v1+json; charset=utf-8", "v4"),
				noHost, pull),
			want: Result{Events: []plugins.InboundEvent{
				imageEvent("distribution", "m1", "reg.example:5000/team/web", "v1", digest),
				imageEvent("distribution", "m2", "reg.example:5000/team/web", "v2", digest),
				imageEvent("distribution", "m3", "reg.example:5000/team/web", "v3", digest),
				imageEvent("distribution", "m4", "reg.example:5000/team/web", "v4", digest),
				// No request host: the target URL's.
				imageEvent("distribution", "m5", "reg.example:5000/team/web", "v5", digest),
			}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(v1alpha1.ProviderDistribution, http.Header{}, tt.body)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			checkResult(t, got, tt.want)
		})
	}

	t.Run("events without IDs get the body hash and their index", func(t *testing.T) {
		a, b := event("", "push", "application/vnd.oci.image.manifest.v1+json", "a"), event("", "push", "application/vnd.oci.image.manifest.v1+json", "b")
		body := envelope(blob, a, b)
		got, err := Parse(v1alpha1.ProviderDistribution, http.Header{}, body)
		if err != nil {
			t.Fatal(err)
		}
		ids := []string{got.Events[0].DeliveryID, got.Events[1].DeliveryID}
		if want := []string{hashOf(body) + "-1", hashOf(body) + "-2"}; !slices.Equal(ids, want) {
			t.Errorf("delivery IDs = %q, want %q", ids, want)
		}
	})
}

// TestChangedPaths: the union is sorted and unique, and unknown (nil) rather
// than short when the provider left commits out or too many paths changed.
func TestChangedPaths(t *testing.T) {
	push := fixture(t, "github/push.json")
	paths := func(n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = fmt.Sprintf("dir/file-%04d.go", i)
		}
		return out
	}
	commit := func(added, modified, removed []string) map[string]any {
		return map[string]any{"id": "fd489864e7642b48eaad6e3f155c10e46810ec72", "added": added, "modified": modified, "removed": removed}
	}
	manyCommits := make([]any, githubMaxCommits)
	for i := range manyCommits {
		manyCommits[i] = commit([]string{"a"}, nil, nil)
	}
	tests := []struct {
		name    string
		commits []any
		want    []string
	}{
		{name: "union of every list and commit, sorted and unique",
			commits: []any{commit([]string{"b", "a"}, []string{"c"}, nil), commit(nil, []string{"a", "d"}, []string{"e", ""})},
			want:    []string{"a", "b", "c", "d", "e"}},
		{name: "no commits", commits: []any{}, want: nil},
		{name: "exactly the cap", commits: []any{commit(paths(MaxChangedPaths), nil, nil)}, want: paths(MaxChangedPaths)},
		{name: "over the cap is unknown", commits: []any{commit(paths(MaxChangedPaths), []string{"zzz"}, nil)}, want: nil},
		{name: "as many commits as GitHub lists is unknown", commits: manyCommits, want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := withFields(t, push, map[string]any{"commits": tt.commits})
			got, err := Parse(v1alpha1.ProviderGitHub, headers("X-GitHub-Event", "push"), body)
			if err != nil {
				t.Fatal(err)
			}
			if p := got.Events[0].Git.ChangedPaths; !slices.Equal(p, tt.want) || (p == nil) != (tt.want == nil) {
				t.Errorf("ChangedPaths = %d paths %.5q, want %d paths %.5q", len(p), p, len(tt.want), tt.want)
			}
		})
	}
}
