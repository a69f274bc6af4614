package webhook

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/tinyforge/tinyforge/api/v1alpha1"
	"github.com/tinyforge/tinyforge/plugins"
)

// Harbor payloads in the shapes Harbor's documentation gives
// (goharbor.io, "Configure Webhook Notifications"): the default format and
// the CloudEvents one.
const (
	harborDigest = "sha256:8a9e9863dbb6e10edb5adfe917c00da84e1700fa76e7ed02476aa6e6fb8ee0d8"

	harborPush = `{
  "type": "PUSH_ARTIFACT",
  "occur_at": 1586922308,
  "operator": "admin",
  "event_data": {
    "resources": [
      {
        "digest": "sha256:8a9e9863dbb6e10edb5adfe917c00da84e1700fa76e7ed02476aa6e6fb8ee0d8",
        "tag": "latest",
        "resource_url": "hub.harbor.com/test-webhook/debian:latest"
      }
    ],
    "repository": {
      "date_created": 1586922308,
      "name": "debian",
      "namespace": "test-webhook",
      "repo_full_name": "test-webhook/debian",
      "repo_type": "private"
    }
  }
}`

	harborPushByDigest = `{
  "type": "PUSH_ARTIFACT",
  "occur_at": 1680501893,
  "operator": "harbor-jobservice",
  "event_data": {
    "resources": [
      {
        "digest": "sha256:954b378c375d852eb3c63ab88978f640b4348b01c1b3456a024a81536dafbbf4",
        "tag": "sha256:954b378c375d852eb3c63ab88978f640b4348b01c1b3456a024a81536dafbbf4",
        "resource_url": "localhost/harbor/alpine@sha256:954b378c375d852eb3c63ab88978f640b4348b01c1b3456a024a81536dafbbf4"
      }
    ],
    "repository": {"date_created": 1680501893, "name": "alpine", "namespace": "harbor", "repo_full_name": "harbor/alpine", "repo_type": "private"}
  }
}`

	harborPull = `{
  "type": "PULL_ARTIFACT",
  "occur_at": 1680502372,
  "operator": "robot$harbor+scanner",
  "event_data": {
    "resources": [{"digest": "sha256:954b378c375d852eb3c63ab88978f640b4348b01c1b3456a024a81536dafbbf4", "tag": "3.8", "resource_url": "localhost/harbor/alpine:3.8"}],
    "repository": {"name": "alpine", "namespace": "harbor", "repo_full_name": "harbor/alpine", "repo_type": "private"}
  }
}`

	harborCloudEventPush = `{
  "specversion": "1.0",
  "id": "66e18103-09c1-41f6-982f-37df223f3eeb",
  "requestid": "51c0b694-0168-4f3c-b0db-282565455d7b",
  "source": "/projects/2/webhook/policies/15",
  "type": "harbor.artifact.pushed",
  "datacontenttype": "application/json",
  "time": "2023-04-03T06:04:46Z",
  "data": {
    "resources": [
      {"digest": "sha256:8a9e9863dbb6e10edb5adfe917c00da84e1700fa76e7ed02476aa6e6fb8ee0d8", "tag": "3.19", "resource_url": "harbor.example:8443/library/alpine:3.19"},
      {"digest": "sha256:8a9e9863dbb6e10edb5adfe917c00da84e1700fa76e7ed02476aa6e6fb8ee0d8", "tag": "latest", "resource_url": "harbor.example:8443/library/alpine:latest"}
    ],
    "repository": {"name": "alpine", "namespace": "library", "repo_full_name": "library/alpine", "repo_type": "public"}
  },
  "operator": "admin"
}`

	harborCloudEventScan = `{"specversion": "1.0", "id": "64bce2fe", "type": "harbor.scan.completed", "data": {"resources": []}}`
)

func TestParseHarbor(t *testing.T) {
	tests := []struct {
		name string
		body string
		want Result
	}{
		{
			name: "default format push, delivery ID from the body", body: harborPush,
			want: Result{Events: []plugins.InboundEvent{imageEvent("harbor", hashOf([]byte(harborPush)),
				"hub.harbor.com/test-webhook/debian", "latest", harborDigest)}},
		},
		{
			name: "CloudEvents push of two tags, one event each", body: harborCloudEventPush,
			want: Result{Events: []plugins.InboundEvent{
				imageEvent("harbor", "66e18103-09c1-41f6-982f-37df223f3eeb-0", "harbor.example:8443/library/alpine", "3.19", harborDigest),
				imageEvent("harbor", "66e18103-09c1-41f6-982f-37df223f3eeb-1", "harbor.example:8443/library/alpine", "latest", harborDigest),
			}},
		},
		{name: "push by digest has no tag", body: harborPushByDigest, want: Result{Ignored: "Harbor artifact push without a tag (pushed by digest)"}},
		{name: "pull", body: harborPull, want: Result{Ignored: "Harbor event PULL_ARTIFACT is not an artifact push"}},
		{name: "CloudEvents scan", body: harborCloudEventScan, want: Result{Ignored: "Harbor event harbor.scan.completed is not an artifact push"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(v1alpha1.ProviderHarbor, http.Header{}, []byte(tt.body))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			checkResult(t, got, tt.want)
		})
	}

	for _, tt := range []struct {
		name, body, wantIn string
	}{
		{name: "no type", body: `{"event_data":{}}`, wantIn: "type is empty"},
		{name: "push without event_data", body: `{"type":"PUSH_ARTIFACT"}`, wantIn: "event_data is missing"},
		{name: "push without resources", body: `{"type":"PUSH_ARTIFACT","event_data":{"resources":[]}}`, wantIn: "event_data.resources is empty"},
		{name: "resource without URL", body: `{"type":"PUSH_ARTIFACT","event_data":{"resources":[{"tag":"v1"}]}}`, wantIn: "event_data.resources[0].resource_url is empty"},
		{
			name:   "resource URL outside repo_full_name",
			body:   `{"type":"PUSH_ARTIFACT","event_data":{"resources":[{"tag":"v1","resource_url":"h.example/a/b:v1"}],"repository":{"repo_full_name":"a/c"}}}`,
			wantIn: `"h.example/a/b:v1" is not in repository event_data.repository.repo_full_name "a/c"`,
		},
		{
			name:   "bad digest",
			body:   `{"specversion":"1.0","type":"harbor.artifact.pushed","data":{"resources":[{"tag":"v1","digest":"md5:zz","resource_url":"h.example/a/b:v1"}]}}`,
			wantIn: `data.resources[0].digest "md5:zz" is not algorithm:hex`,
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(v1alpha1.ProviderHarbor, http.Header{}, []byte(tt.body))
			if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), tt.wantIn) {
				t.Errorf("Parse() error = %v, want ErrMalformed mentioning %q", err, tt.wantIn)
			}
		})
	}
}

func TestHarborRepository(t *testing.T) {
	for _, tt := range []struct{ url, want string }{
		{"hub.harbor.com/test-webhook/debian:latest", "hub.harbor.com/test-webhook/debian"},
		{"harbor.example:8443/library/alpine:3.19", "harbor.example:8443/library/alpine"},
		{"harbor.example:8443/library/alpine", "harbor.example:8443/library/alpine"},
		{"localhost/harbor/alpine@sha256:954b", "localhost/harbor/alpine"},
		{"https://example.com/library/nginx:v1.0.0", "example.com/library/nginx"},
	} {
		t.Run(tt.url, func(t *testing.T) {
			if got := harborRepository(tt.url); got != tt.want {
				t.Errorf("harborRepository(%q) = %q, want %q", tt.url, got, tt.want)
			}
		})
	}
}

func TestParseGeneric(t *testing.T) {
	const (
		digest = "sha256:4f9c2b1d7d0f8b3c9d6e5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d"
		commit = "9fceb02d0ae598e95dc970b74767f19372d61af8"
		before = "6113728f27ae82c7b1a177c8d03f9e96e0adf246"
	)
	imagePush := `{"type":"image-push","id":"build-1842","image":{"repository":"registry.example:5000/team/web","tag":"1.4.2","digest":"` + digest + `"}}`
	gitPush := `{"type":"git-push","id":"ci-77-3","git":{"url":"https://git.example/team/web.git","ref":"refs/heads/main",` +
		`"commit":"` + commit + `","before":"` + before + `","author":"Ada Lovelace <ada@example.org>","message":"Fix the checkout page",` +
		`"changedPaths":["web/checkout.go","web/cart.go","web/checkout.go"]}}`
	tests := []struct {
		name   string
		header http.Header
		body   string
		want   Result
	}{
		{
			name: "image push", body: imagePush,
			want: Result{Events: []plugins.InboundEvent{imageEvent("generic", "build-1842", "registry.example:5000/team/web", "1.4.2", digest)}},
		},
		{
			name: "the delivery header wins over the body's id", header: headers("X-TinyForge-Delivery", "hdr-1"), body: imagePush,
			want: Result{Events: []plugins.InboundEvent{imageEvent("generic", "hdr-1", "registry.example:5000/team/web", "1.4.2", digest)}},
		},
		{
			name: "a Docker Hub name is normalized, and no id means the body hash",
			body: `{"type":"image-push","image":{"repository":"nginx","tag":"1.27"}}`,
			want: Result{Events: []plugins.InboundEvent{imageEvent("generic",
				hashOf([]byte(`{"type":"image-push","image":{"repository":"nginx","tag":"1.27"}}`)), "docker.io/library/nginx", "1.27", "")}},
		},
		{
			name: "git push, paths sorted and unique", body: gitPush,
			want: Result{Events: []plugins.InboundEvent{gitEvent("generic", plugins.EventTypeGitPush, "ci-77-3", plugins.GitEvent{
				URL: "https://git.example/team/web.git", Ref: "refs/heads/main", Commit: commit, Before: before,
				Author: "Ada Lovelace <ada@example.org>", Message: "Fix the checkout page",
				ChangedPaths: []string{"web/cart.go", "web/checkout.go"},
			})}},
		},
		{
			name: "type from the header, short tag name", header: headers("X-TinyForge-Event", "git-tag"),
			body: `{"id":"t1","git":{"url":"https://git.example/x.git","ref":"v1.2.0"}}`,
			want: Result{Events: []plugins.InboundEvent{gitEvent("generic", plugins.EventTypeGitTag, "t1", plugins.GitEvent{
				URL: "https://git.example/x.git", Ref: "refs/tags/v1.2.0",
			})}},
		},
		{
			name: "short branch name", body: `{"type":"git-push","id":"b1","git":{"url":"https://git.example/x.git","ref":"main"}}`,
			want: Result{Events: []plugins.InboundEvent{gitEvent("generic", plugins.EventTypeGitPush, "b1", plugins.GitEvent{
				URL: "https://git.example/x.git", Ref: "refs/heads/main",
			})}},
		},
		{
			name: "ping", body: `{"type":"ping","id":"p"}`,
			want: Result{Events: []plugins.InboundEvent{{Provider: "generic", Type: plugins.EventTypePing, DeliveryID: "p"}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.header == nil {
				tt.header = http.Header{}
			}
			got, err := Parse(v1alpha1.ProviderGeneric, tt.header, []byte(tt.body))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			checkResult(t, got, tt.want)
		})
	}

	for _, tt := range []struct {
		name   string
		header http.Header
		body   string
		want   error
		wantIn string
	}{
		{name: "unknown field", body: `{"type":"image-push","imag":{}}`, want: ErrMalformed, wantIn: `unknown field "imag"`},
		{name: "trailing data", body: `{"type":"ping"} {}`, want: ErrMalformed, wantIn: "data follows the JSON object"},
		{name: "no type", body: `{"id":"x"}`, want: ErrMalformed, wantIn: "type is empty"},
		{name: "type disagrees with the header", header: headers("X-TinyForge-Event", "git-push"), body: `{"type":"image-push"}`,
			want: ErrMalformed, wantIn: `type "image-push" disagrees with the X-TinyForge-Event header "git-push"`},
		{name: "manual cannot come from a webhook", body: `{"type":"manual"}`, want: ErrUnsupported, wantIn: `type "manual" cannot come from a webhook`},
		{name: "image push without image", body: `{"type":"image-push"}`, want: ErrMalformed, wantIn: "image is required"},
		{name: "image push with git", body: `{"type":"image-push","image":{"repository":"a","tag":"b"},"git":{}}`, want: ErrMalformed, wantIn: "carries image, not git"},
		{name: "image without tag or digest", body: `{"type":"image-push","image":{"repository":"a"}}`, want: ErrMalformed, wantIn: "give at least one"},
		{name: "repository with a tag", body: `{"type":"image-push","image":{"repository":"a:1","tag":"1"}}`, want: ErrMalformed, wantIn: `image.repository "a:1" holds a tag`},
		{name: "uppercase repository", body: `{"type":"image-push","image":{"repository":"Team/Web","tag":"1"}}`, want: ErrMalformed, wantIn: "image.repository"},
		{name: "bad digest", body: `{"type":"image-push","image":{"repository":"a","digest":"sha256:xyz"}}`, want: ErrMalformed, wantIn: `image.digest "sha256:xyz"`},
		{name: "git tag with a branch ref", body: `{"type":"git-tag","git":{"url":"u","ref":"refs/heads/main"}}`, want: ErrMalformed, wantIn: "is not refs/tags/…"},
		{name: "git push without url", body: `{"type":"git-push","git":{"ref":"main"}}`, want: ErrMalformed, wantIn: "git.url is empty"},
		{name: "git push with a bad commit", body: `{"type":"git-push","git":{"url":"u","ref":"main","commit":"HEAD"}}`, want: ErrMalformed, wantIn: `git.commit "HEAD" is not a commit ID`},
		{name: "ping with an image", body: `{"type":"ping","image":{"repository":"a"}}`, want: ErrMalformed, wantIn: "a ping carries neither"},
		{name: "not JSON", body: `type=ping`, want: ErrMalformed, wantIn: "not valid JSON"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if tt.header == nil {
				tt.header = http.Header{}
			}
			_, err := Parse(v1alpha1.ProviderGeneric, tt.header, []byte(tt.body))
			if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.wantIn) {
				t.Errorf("Parse() error = %v, want %v mentioning %q", err, tt.want, tt.wantIn)
			}
		})
	}
}
