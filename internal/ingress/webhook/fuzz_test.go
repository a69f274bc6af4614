package webhook

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/tinyforge/tinyforge/api/v1alpha1"
	"github.com/tinyforge/tinyforge/plugins"
)

// providers are the values Parse and Verify take; an index picks one, and
// out-of-range indexes stand for an unknown provider.
var providers = []v1alpha1.Provider{
	v1alpha1.ProviderGitHub, v1alpha1.ProviderGitLab, v1alpha1.ProviderGitea, v1alpha1.ProviderDockerHub,
	v1alpha1.ProviderDistribution, v1alpha1.ProviderHarbor, v1alpha1.ProviderGeneric,
}

func providerAt(i uint8) v1alpha1.Provider {
	if int(i) < len(providers) {
		return providers[i]
	}
	return "unknown"
}

func providerIndex(p v1alpha1.Provider) uint8 {
	for i, q := range providers {
		if q == p {
			return uint8(i)
		}
	}
	return 255
}

// eventHeader is the header a provider names its event in, for seeds.
func eventHeader(p v1alpha1.Provider) string {
	switch p {
	case v1alpha1.ProviderGitHub:
		return "X-GitHub-Event"
	case v1alpha1.ProviderGitLab:
		return "X-Gitlab-Event"
	case v1alpha1.ProviderGitea:
		return "X-Gitea-Event"
	case v1alpha1.ProviderGeneric:
		return "X-TinyForge-Event"
	}
	return "Content-Type"
}

// fuzzSeeds are every shared fixture, the inline Harbor and generic
// payloads, with the event they are.
func fuzzSeeds(f *testing.F) []struct {
	provider v1alpha1.Provider
	event    string
	body     []byte
} {
	seeds := []struct {
		provider v1alpha1.Provider
		event    string
		body     []byte
	}{
		{v1alpha1.ProviderGitHub, "push", fixture(f, "github/push.json")},
		{v1alpha1.ProviderGitHub, "create", fixture(f, "github/create.json")},
		{v1alpha1.ProviderGitHub, "delete", fixture(f, "github/delete.json")},
		{v1alpha1.ProviderGitHub, "ping", fixture(f, "github/ping.json")},
		{v1alpha1.ProviderGitLab, "Push Hook", fixture(f, "gitlab/push-event.json")},
		{v1alpha1.ProviderGitLab, "Tag Push Hook", fixture(f, "gitlab/tag-event.json")},
		{v1alpha1.ProviderGitea, "push", fixture(f, "gitea/push-event.json")},
		{v1alpha1.ProviderGitea, "create", fixture(f, "gitea/create-event.json")},
		{v1alpha1.ProviderDockerHub, "application/json", fixture(f, "dockerhub/push.json")},
		{v1alpha1.ProviderDistribution, "application/vnd.docker.distribution.events.v1+json", fixture(f, "distribution/manifest-push.json")},
		{v1alpha1.ProviderHarbor, "application/json", []byte(harborPush)},
		{v1alpha1.ProviderHarbor, "application/json", []byte(harborCloudEventPush)},
		{v1alpha1.ProviderHarbor, "application/json", []byte(harborPushByDigest)},
		{v1alpha1.ProviderGeneric, "image-push", []byte(`{"type":"image-push","id":"1","image":{"repository":"r.example/a","tag":"v1"}}`)},
		{v1alpha1.ProviderGeneric, "git-push", []byte(`{"git":{"url":"u","ref":"main","changedPaths":["a","b"]}}`)},
	}
	if len(seeds) < len(fixtureNames(f)) {
		f.Fatalf("fuzzSeeds has %d seeds for %d fixtures; add the new fixtures", len(seeds), len(fixtureNames(f)))
	}
	return seeds
}

// FuzzParse: no input panics, every error wraps ErrMalformed or
// ErrUnsupported, and every result is well formed: either events or an
// Ignored reason, each event of the provider with the part its type needs.
func FuzzParse(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		for _, p := range providers {
			f.Add(providerIndex(p), s.event, "", s.body)
		}
		f.Add(providerIndex(s.provider), s.event, "delivery-1", s.body)
	}
	f.Fuzz(func(t *testing.T, pi uint8, event, delivery string, body []byte) {
		p := providerAt(pi)
		h := http.Header{}
		h.Set(eventHeader(p), event)
		h.Set("X-GitHub-Delivery", delivery)
		h.Set("X-TinyForge-Delivery", delivery)
		res, err := Parse(p, h, body)
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrUnsupported) {
				t.Fatalf("Parse error %v wraps neither ErrMalformed nor ErrUnsupported", err)
			}
			if len(res.Events) != 0 || res.Ignored != "" {
				t.Fatalf("Parse returned a result with its error: %+v", res)
			}
			return
		}
		if (len(res.Events) == 0) == (res.Ignored == "") {
			t.Fatalf("Parse() = %d events, ignored %q; want exactly one of them", len(res.Events), res.Ignored)
		}
		for _, ev := range res.Events {
			checkEvent(t, p, ev)
		}
	})
}

// checkEvent fails unless ev is what the Event schema accepts.
func checkEvent(t *testing.T, p v1alpha1.Provider, ev plugins.InboundEvent) {
	t.Helper()
	if ev.Provider != string(p) || ev.DeliveryID == "" {
		t.Fatalf("event %+v: want provider %s and a delivery ID", ev, p)
	}
	switch ev.Type {
	case plugins.EventTypeImagePush:
		if ev.Image == nil || ev.Git != nil || ev.Image.Repository == "" || (ev.Image.Tag == "" && ev.Image.Digest == "") {
			t.Fatalf("image-push event %+v (image %+v) is incomplete", ev, ev.Image)
		}
		if ev.Image.Digest != "" && !plugins.IsDigest(ev.Image.Digest) {
			t.Fatalf("digest %q is not algorithm:hex", ev.Image.Digest)
		}
	case plugins.EventTypeGitPush, plugins.EventTypeGitTag:
		g := ev.Git
		if g == nil || ev.Image != nil || g.URL == "" {
			t.Fatalf("%s event %+v is incomplete", ev.Type, ev)
		}
		if kind, ok := refKind(g.Ref); !ok || kind != ev.Type {
			t.Fatalf("%s event has ref %q", ev.Type, g.Ref)
		}
		for _, c := range []string{g.Commit, g.Before} {
			if c != "" && (len(c) < 7 || len(c) > 64 || !plugins.IsHex(c)) {
				t.Fatalf("commit %q is not 7 to 64 lowercase hex digits", c)
			}
		}
		if len(g.ChangedPaths) > MaxChangedPaths {
			t.Fatalf("%d changed paths, more than %d", len(g.ChangedPaths), MaxChangedPaths)
		}
		for i := 1; i < len(g.ChangedPaths); i++ {
			if g.ChangedPaths[i-1] >= g.ChangedPaths[i] {
				t.Fatalf("changed paths are not sorted and unique: %q", g.ChangedPaths)
			}
		}
	case plugins.EventTypePing:
		if ev.Image != nil || ev.Git != nil {
			t.Fatalf("ping event %+v carries a payload", ev)
		}
	default:
		t.Fatalf("event type %q", ev.Type)
	}
}

// FuzzVerify: no input panics; Verified needs the right MAC or token, and
// no error leaks the secret.
func FuzzVerify(f *testing.F) {
	body := fixture(f, "github/push.json")
	const secret = "fuzz-secret-value"
	good := sign(secret, body)
	for _, p := range providers {
		f.Add(providerIndex(p), "sha256="+good, "Bearer "+secret, secret, body)
		f.Add(providerIndex(p), good, secret, "", body)
		f.Add(providerIndex(p), "", "", secret, []byte(nil))
	}
	f.Fuzz(func(t *testing.T, pi uint8, sig, auth, key string, body []byte) {
		p := providerAt(pi)
		h := http.Header{}
		for _, name := range []string{"X-Hub-Signature-256", "X-Gitea-Signature", "X-TinyForge-Signature"} {
			h.Set(name, sig)
		}
		h.Set("X-Gitlab-Token", auth)
		h.Set("Authorization", auth)
		res, err := Verify(p, h, body, []byte(key))
		switch res {
		case v1alpha1.VerificationVerified:
			if err != nil {
				t.Fatalf("Verified with error %v", err)
			}
			if key == "" {
				t.Fatal("Verified without a secret")
			}
			mac := sign(key, body)
			hmacOK := strings.EqualFold(strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(sig), "sha256=")), mac)
			tokenOK := strings.Contains(auth, key)
			if !hmacOK && !tokenOK {
				t.Fatalf("Verified %s with signature %q and token %q, neither of which is the secret's", p, sig, auth)
			}
		case v1alpha1.VerificationUnverified:
			if err != nil && !errors.Is(err, ErrNoSecret) {
				t.Fatalf("Unverified with error %v", err)
			}
		case v1alpha1.VerificationFailed:
			if !errors.Is(err, ErrMissingSignature) && !errors.Is(err, ErrBadSignature) && !errors.Is(err, ErrUnsupported) {
				t.Fatalf("Failed with error %v", err)
			}
		default:
			t.Fatalf("result %q", res)
		}
		if err != nil && len(key) >= 8 && strings.Contains(err.Error(), key) {
			t.Fatalf("error %q leaks the secret", err)
		}
	})
}

// FuzzDetect: no input panics, and Detect names a known provider or fails
// with ErrUnsupported.
func FuzzDetect(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(eventHeader(s.provider), s.event, s.body)
	}
	f.Add("Content-Type", "application/vnd.tinyforge.event.v1+json; charset=utf-8", []byte(`{}`))
	f.Add("Content-Type", `application/json; charset="`, []byte(`{"push_data":{},"callback_url":""}`))
	f.Fuzz(func(t *testing.T, name, value string, body []byte) {
		h := http.Header{}
		h[http.CanonicalHeaderKey(name)] = []string{value}
		p, err := Detect(h, body)
		if err != nil {
			if !errors.Is(err, ErrUnsupported) || p != "" {
				t.Fatalf("Detect() = %q, %v", p, err)
			}
			return
		}
		if providerIndex(p) == 255 {
			t.Fatalf("Detect() = unknown provider %q", p)
		}
	})
}
