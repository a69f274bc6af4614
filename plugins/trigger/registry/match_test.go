package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"

	"github.com/tinyforge/tinyforge/internal/docker/dockertest"
	"github.com/tinyforge/tinyforge/plugins"
)

// Pushes under the default policy (exact latest) against a real registry:
// the revision is the digest the registry serves, whatever the event says;
// other repositories, tags and event types are skipped with a reason; a
// pinned digest deploys only itself.
func TestMatchPush(t *testing.T) {
	e := newEnv(t)
	d1 := e.push("v1", "team/web:latest")
	e.push("v2", "team/web:dev")
	repo := e.reg.Ref("team/web")
	other := "sha256:" + strings.Repeat("0", 64)

	tests := []struct {
		name   string
		config map[string]any
		event  plugins.InboundEvent
		want   want
	}{
		{
			name:  "push of the tag deploys the registry's digest",
			event: pushEvent(repo, "latest", d1),
			want:  want{digest: d1, tag: "latest", reason: "image " + repo + ":latest pushed"},
		},
		{
			name:  "the event's digest is only a hint",
			event: pushEvent(repo, "latest", other),
			want:  want{digest: d1, tag: "latest"},
		},
		{
			name:  "an event without a digest",
			event: pushEvent(repo, "latest", ""),
			want:  want{digest: d1, tag: "latest"},
		},
		{
			name:  "another tag",
			event: pushEvent(repo, "dev", ""),
			want:  want{skip: "tag dev is not the configured tag latest"},
		},
		{
			name:  "another repository",
			event: pushEvent(e.reg.Ref("team/api"), "latest", ""),
			want:  want{skip: "pushed repository " + e.reg.Ref("team/api") + " is not " + repo},
		},
		{
			name:  "the same name on another registry",
			event: pushEvent("registry.example/team/web", "latest", ""),
			want:  want{skip: "is not " + repo},
		},
		{
			name:  "a push without a tag",
			event: pushEvent(repo, "", d1),
			want:  want{skip: "names no tag"},
		},
		{
			name:  "an image-push event without an image",
			event: plugins.InboundEvent{Type: plugins.EventTypeImagePush},
			want:  want{skip: "names no image"},
		},
		{
			name:  "a git push",
			event: plugins.InboundEvent{Type: plugins.EventTypeGitPush, Git: &plugins.GitEvent{URL: "https://git.example/x", Ref: "refs/heads/main"}},
			want:  want{skip: `not "git-push"`},
		},
		{
			name:   "the pinned digest deploys",
			config: map[string]any{"digest": d1},
			event:  pushEvent(repo, "latest", ""),
			want:   want{digest: d1, tag: "latest"},
		},
		{
			name:   "another digest than the pinned one",
			config: map[string]any{"digest": other},
			event:  pushEvent(repo, "latest", ""),
			want:   want{skip: "digest " + d1 + " of " + repo + ":latest is not the pinned digest " + other},
		},
		{
			name:   "a tag deleted since the push",
			config: map[string]any{"tagPolicy": map[string]any{"exact": "gone"}},
			event:  pushEvent(repo, "gone", ""),
			want:   want{skip: "tag gone of " + repo + " is no longer in the registry"},
		},
		{
			name:   "an invalid config",
			config: map[string]any{"pollInterval": "1s"},
			event:  pushEvent(repo, "latest", ""),
			want:   want{err: "spec.config.pollInterval"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := e.match(e.config("team/web", tt.config), tt.event)
			check(t, res, err, tt.want)
			if res.Intent != nil && res.Intent.EventName != tt.event.Name {
				t.Errorf("EventName = %q, want %q", res.Intent.EventName, tt.event.Name)
			}
		})
	}
	if !strings.Contains(e.logs.String(), `"eventDigest"="`+other+`"`) {
		t.Errorf("the differing event digest was not logged:\n%s", e.logs)
	}
}

// Each kind of tag policy against a real registry's tag list: semver and
// ordered regex deploy only the newest matching tag and name the newer one
// when they skip; exact, glob and plain regex deploy any matching push.
func TestMatchTagPolicies(t *testing.T) {
	e := newEnv(t)
	digests := map[string]string{}
	for _, p := range []struct{ version, tag string }{
		{"v1", "1.2.0"}, {"v2", "1.3.0"}, {"v3", "2.0.0"}, {"v3", "1.4.0-rc1"},
		{"v1", "main-9"}, {"v2", "main-10"}, {"v1", "dev"},
	} {
		digests[p.tag] = e.push(p.version, "team/web:"+p.tag)
	}
	digests["v1.0.0"] = e.push("v1", "team/vtags:v1.0.0")
	digests["v1.1.0"] = e.push("v2", "team/vtags:v1.1.0")
	if digests["1.2.0"] == digests["1.3.0"] || digests["1.2.0"] != digests["main-9"] {
		t.Fatalf("the same image should give the same digest, another image another: %v", digests)
	}
	repo, vrepo := e.reg.Ref("team/web"), e.reg.Ref("team/vtags")
	semver := map[string]any{"semver": ">=1.0 <2"}
	numerical := map[string]any{"regex": `^main-(?P<build>\d+)$`, "capture": "build"}
	alphabetical := map[string]any{"regex": `^main-(?P<build>\d+)$`, "capture": "build", "order": "alphabetical"}

	tests := []struct {
		name   string
		repo   string
		policy map[string]any
		tag    string
		want   want
	}{
		{name: "semver: the highest in range", policy: semver, tag: "1.3.0", want: want{digest: digests["1.3.0"], tag: "1.3.0"}},
		{name: "semver: an older one", policy: semver, tag: "1.2.0", want: want{skip: "tag 1.2.0 is not the newest in semver range >=1.0 <2: 1.3.0 is newer"}},
		{name: "semver: a pre-release", policy: semver, tag: "1.4.0-rc1", want: want{skip: "tag 1.4.0-rc1 is outside semver range >=1.0 <2"}},
		{name: "semver: above the range", policy: semver, tag: "2.0.0", want: want{skip: "tag 2.0.0 is outside semver range >=1.0 <2"}},
		{name: "semver: not a version", policy: semver, tag: "dev", want: want{skip: "tag dev is not a semantic version"}},
		{name: "semver: v prefix", repo: "team/vtags", policy: map[string]any{"semver": "^1"}, tag: "v1.1.0", want: want{digest: digests["v1.1.0"], tag: "v1.1.0"}},
		{name: "semver: v prefix, older", repo: "team/vtags", policy: map[string]any{"semver": "^1"}, tag: "v1.0.0", want: want{skip: "v1.1.0 is newer"}},
		{name: "numerical: the newest build", policy: numerical, tag: "main-10", want: want{digest: digests["main-10"], tag: "main-10"}},
		{name: "numerical: an older build", policy: numerical, tag: "main-9", want: want{skip: "tag main-9 is not the newest in regex ^main-(?P<build>\\d+)$ (numerical order of group build): main-10 is newer"}},
		{name: "alphabetical: 9 sorts after 10", policy: alphabetical, tag: "main-9", want: want{digest: digests["main-9"], tag: "main-9"}},
		{name: "alphabetical: 10 sorts before 9", policy: alphabetical, tag: "main-10", want: want{skip: "main-9 is newer"}},
		{name: "regex: no match", policy: numerical, tag: "dev", want: want{skip: `tag dev does not match regex ^main-(?P<build>\d+)$`}},
		{name: "regex without capture: any match", policy: map[string]any{"regex": "^main-"}, tag: "main-9", want: want{digest: digests["main-9"], tag: "main-9"}},
		{name: "glob: any match", policy: map[string]any{"glob": "main-*"}, tag: "main-9", want: want{digest: digests["main-9"], tag: "main-9"}},
		{name: "glob: no match", policy: map[string]any{"glob": "main-*"}, tag: "dev", want: want{skip: "tag dev does not match glob main-*"}},
		{name: "exact", policy: map[string]any{"exact": "dev"}, tag: "dev", want: want{digest: digests["dev"], tag: "dev"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path, r := "team/web", repo
			if tt.repo != "" {
				path, r = tt.repo, vrepo
			}
			res, err := e.match(e.config(path, map[string]any{"tagPolicy": tt.policy}), pushEvent(r, tt.tag, ""))
			check(t, res, err, tt.want)
		})
	}
}

// Manual events and cron ticks pick the policy's current tag from the
// registry; a manual revision deploys that digest if the registry has it.
func TestMatchManualAndCron(t *testing.T) {
	e := newEnv(t)
	d1 := e.push("v1", "team/web:1.2.0")
	d2 := e.push("v2", "team/web:1.10.0")
	e.push("v1", "team/web:main-1")
	// Built after v1 and v2, so the newest image a glob sees.
	d3 := e.push("v3", "team/web:main-0")
	if got := e.push("v2", "team/web:latest"); got != d2 {
		t.Fatalf("the same image pushed twice: %s, then %s", d2, got)
	}
	repo := e.reg.Ref("team/web")
	missing := "sha256:" + strings.Repeat("1", 64)

	tests := []struct {
		name   string
		config map[string]any
		event  plugins.InboundEvent
		want   want
	}{
		{name: "cron: the exact tag", event: cronEvent(), want: want{digest: d2, tag: "latest", reason: "scheduled deploy of " + repo + ":latest"}},
		{name: "cron: the highest version", config: map[string]any{"tagPolicy": map[string]any{"semver": "^1"}}, event: cronEvent(), want: want{digest: d2, tag: "1.10.0"}},
		{name: "cron: the last tag alphabetically", config: map[string]any{"tagPolicy": map[string]any{"regex": `^main-(\d+)$`, "order": "alphabetical"}}, event: cronEvent(), want: want{digest: d1, tag: "main-1"}},
		{name: "cron: the newest image of a glob", config: map[string]any{"tagPolicy": map[string]any{"glob": "main-*"}}, event: cronEvent(), want: want{digest: d3, tag: "main-0"}},
		{name: "cron: no tag in range", config: map[string]any{"tagPolicy": map[string]any{"semver": "^3"}}, event: cronEvent(), want: want{skip: "no tag of " + repo + " matches semver range ^3 (of 5 tags)"}},
		{name: "cron: the exact tag is missing", config: map[string]any{"tagPolicy": map[string]any{"exact": "stable"}}, event: cronEvent(), want: want{skip: "tag stable of " + repo + " is not in the registry"}},
		{name: "cron: a pinned digest", config: map[string]any{"digest": d1}, event: cronEvent(), want: want{skip: "is not the pinned digest"}},
		{
			name:  "manual: the current tag",
			event: manualEvent(plugins.ManualEvent{User: "alice", Reason: "hotfix\nnow"}),
			want:  want{digest: d2, tag: "latest", reason: "manual deploy of " + repo + ":latest by alice: hotfix now"},
		},
		{
			name:  "manual: a digest the registry has",
			event: manualEvent(plugins.ManualEvent{Revision: d1, User: "alice", Reason: "rollback"}),
			want:  want{digest: d1, tag: "", reason: "manual deploy of " + repo + "@" + d1 + " by alice: rollback"},
		},
		{name: "manual: a digest the registry lacks", event: manualEvent(plugins.ManualEvent{Revision: missing}), want: want{skip: "the registry has no image " + repo + "@" + missing}},
		{name: "manual: a revision that is no digest", event: manualEvent(plugins.ManualEvent{Revision: "1.2.0"}), want: want{skip: `manual revision "1.2.0" is not an image digest`}},
		{name: "manual: for another workload", event: manualEvent(plugins.ManualEvent{Workload: "api"}), want: want{skip: "the manual deploy is for workload api, not web"}},
		{name: "manual: for this workload", event: manualEvent(plugins.ManualEvent{Workload: "web"}), want: want{digest: d2, tag: "latest"}},
		{name: "manual: pinned to another digest", config: map[string]any{"digest": d2}, event: manualEvent(plugins.ManualEvent{Revision: d1}), want: want{skip: "is not the pinned digest " + d2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := e.match(e.config("team/web", tt.config), tt.event)
			check(t, res, err, tt.want)
		})
	}
}

// A registry with basic auth: the credentials come from the dockerconfigjson
// Secret the config names, in the Trigger's namespace; without them, or
// with wrong ones, Match fails; a missing Secret is ErrSecretNotFound; the
// password never shows in an error or a log line.
func TestMatchBasicAuth(t *testing.T) {
	const user, pass = "deployer", "Pa55-w0rd-never-logged"
	e := newEnv(t, dockertest.WithBasicAuth(user, pass))
	d1 := e.push("v1", "team/web:latest")
	repo := e.reg.Ref("team/web")
	secrets := map[string][]byte{
		"regcred/.dockerconfigjson": e.reg.DockerConfigJSON(),
		// The form docker login writes for a plain HTTP registry.
		"url-key/config.json": mustJSON(t, map[string]any{"auths": map[string]any{
			"http://" + e.reg.Addr + "/v2/": map[string]string{"username": user, "password": pass},
		}}),
		"wrong/.dockerconfigjson": mustJSON(t, map[string]any{"auths": map[string]any{
			e.reg.Addr: map[string]string{"username": user, "password": pass + "x"},
		}}),
		"other-host/.dockerconfigjson": mustJSON(t, map[string]any{"auths": map[string]any{
			"registry.example": map[string]string{"username": user, "password": pass},
		}}),
	}
	var reads []string
	e.deps.Secrets = plugins.SecretReaderFunc(func(_ context.Context, ns, name, key string) ([]byte, error) {
		reads = append(reads, ns+"/"+name+"/"+key)
		if v, ok := secrets[name+"/"+key]; ok && ns == e.ns {
			return v, nil
		}
		return nil, fmt.Errorf("%w: %s/%s key %s", plugins.ErrSecretNotFound, ns, name, key)
	})

	tests := []struct {
		name      string
		config    map[string]any
		secretRef map[string]any
		event     plugins.InboundEvent
		want      want
		notFound  bool
		noRead    bool
	}{
		{name: "credentials from the Secret", secretRef: map[string]any{"name": "regcred"}, event: pushEvent(repo, "latest", ""), want: want{digest: d1, tag: "latest"}},
		{name: "a URL key and another Secret key", secretRef: map[string]any{"name": "url-key", "key": "config.json"}, event: cronEvent(), want: want{digest: d1, tag: "latest"}},
		{name: "no credentials", event: pushEvent(repo, "latest", ""), want: want{err: "the registry refused access anonymously: the config names no secretRef: GET"}},
		{name: "a wrong password", secretRef: map[string]any{"name": "wrong"}, event: pushEvent(repo, "latest", ""), want: want{err: "the registry refused access with the credentials of Secret " + e.ns + "/wrong"}},
		{name: "a wrong password, listing tags", config: map[string]any{"tagPolicy": map[string]any{"semver": "^1"}}, secretRef: map[string]any{"name": "wrong"}, event: cronEvent(), want: want{err: "listing the tags of " + repo + ": the registry refused access with the credentials of Secret " + e.ns + "/wrong"}},
		{name: "no entry for the registry", secretRef: map[string]any{"name": "other-host"}, event: pushEvent(repo, "latest", ""), want: want{err: "no credentials for registry " + e.reg.Addr}},
		{name: "a missing Secret", secretRef: map[string]any{"name": "absent"}, event: manualEvent(plugins.ManualEvent{}), want: want{err: "Secret " + e.ns + "/absent key .dockerconfigjson"}, notFound: true},
		{name: "a push of another repository reads no Secret", secretRef: map[string]any{"name": "absent"}, event: pushEvent(e.reg.Ref("team/api"), "latest", ""), want: want{skip: "is not"}, noRead: true},
		{name: "a push of another tag reads no Secret", secretRef: map[string]any{"name": "absent"}, event: pushEvent(repo, "dev", ""), want: want{skip: "is not the configured tag"}, noRead: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			extra := map[string]any{}
			for k, v := range tt.config {
				extra[k] = v
			}
			if tt.secretRef != nil {
				extra["secretRef"] = tt.secretRef
			}
			before := len(reads)
			res, err := e.match(e.config("team/web", extra), tt.event)
			check(t, res, err, tt.want)
			if tt.notFound != errors.Is(err, plugins.ErrSecretNotFound) {
				t.Errorf("errors.Is(%v, ErrSecretNotFound) = %v, want %v", err, !tt.notFound, tt.notFound)
			}
			if err != nil && strings.Contains(err.Error(), pass) {
				t.Errorf("the error reveals the password: %v", err)
			}
			if tt.noRead && len(reads) != before {
				t.Errorf("Secrets read for a push the trigger ignores: %v", reads[before:])
			}
		})
	}
	if strings.Contains(e.logs.String(), pass) {
		t.Errorf("the logs reveal the password:\n%s", e.logs)
	}
}

// A registry that does not answer fails the match (and the poll) with an
// error, quickly, rather than skipping it.
func TestMatchRegistryDown(t *testing.T) {
	e := newEnv(t)
	e.push("v1", "team/web:latest")
	repo := e.reg.Ref("team/web")
	e.reg.Stop()

	semver := map[string]any{"tagPolicy": map[string]any{"semver": "^1"}}
	tests := []struct {
		name   string
		config map[string]any
		event  plugins.InboundEvent
	}{
		{name: "push", event: pushEvent(repo, "latest", "")},
		{name: "push under semver lists tags", config: semver, event: pushEvent(repo, "1.0.0", "")},
		{name: "cron", event: cronEvent()},
		{name: "manual digest", event: manualEvent(plugins.ManualEvent{Revision: "sha256:" + strings.Repeat("2", 64)})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			res, err := e.match(e.config("team/web", tt.config), tt.event)
			check(t, res, err, want{err: "connection refused"})
			if took := time.Since(start); took > 10*time.Second {
				t.Errorf("failing took %v", took)
			}
		})
	}
	_, err := e.trig.Poll(e.ctx, e.deps, types.NamespacedName{Namespace: e.ns, Name: "images"}, e.config("team/web", nil))
	if err == nil || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("Poll = %v, want connection refused", err)
	}
}

// The registry's own notification of a docker push, turned into an event
// the way the ingress does, deploys the pushed digest: what a webhook
// delivers end to end, minus the API.
func TestMatchRegistryNotification(t *testing.T) {
	events := make(chan plugins.InboundEvent, 100)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var env struct {
			Events []struct {
				Action string `json:"action"`
				Target struct {
					Digest, Repository, Tag string
				} `json:"target"`
				Request struct {
					Host string `json:"host"`
				} `json:"request"`
			} `json:"events"`
		}
		if err := json.NewDecoder(r.Body).Decode(&env); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		for _, ev := range env.Events {
			if ev.Action == "push" && ev.Target.Tag != "" {
				events <- pushEvent(ev.Request.Host+"/"+ev.Target.Repository, ev.Target.Tag, ev.Target.Digest)
			}
		}
	}))
	t.Cleanup(hook.Close)
	e := newEnv(t, dockertest.WithNotifications(hook.URL, nil))
	config := e.config("team/web", map[string]any{"tagPolicy": map[string]any{"semver": ">=1.0 <2"}})

	d := e.push("v1", "team/web:1.0.0")
	ev := waitEvent(t, events, "1.0.0")
	res, err := e.match(config, ev)
	check(t, res, err, want{digest: d, tag: "1.0.0"})

	e.push("v2", "team/web:2.0.0")
	res, err = e.match(config, waitEvent(t, events, "2.0.0"))
	check(t, res, err, want{skip: "tag 2.0.0 is outside semver range >=1.0 <2"})
}

// waitEvent waits for the notification of a push of tag.
func waitEvent(t *testing.T, events <-chan plugins.InboundEvent, tag string) plugins.InboundEvent {
	t.Helper()
	timeout := time.After(15 * time.Second)
	for {
		select {
		case ev := <-events:
			if ev.Image.Tag == tag {
				return ev
			}
		case <-timeout:
			t.Fatalf("no notification of a push of %s within 15s", tag)
		}
	}
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
