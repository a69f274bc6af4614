package inbound

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"
	"reflect"

	tinyforgev1alpha1 "github.com/tinyforge/tinyforge/api/v1alpha1"
	"github.com/tinyforge/tinyforge/plugins"
)

const commitA = "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c"

func TestNameIsStableAndValid(t *testing.T) {
	tests := []struct {
		name       string
		trigger    string
		provider   tinyforgev1alpha1.Provider
		deliveryID string
	}{
		{name: "uuid", trigger: "web", provider: "github", deliveryID: "72d3162e-cc78-11e3-81ab-4c9367dc0958"},
		{name: "garbage id", trigger: "web", provider: "generic", deliveryID: "../../ \x00 ☃ " + strings.Repeat("x", 5000)},
		{name: "empty id", trigger: "web", provider: "dockerhub"},
		{name: "long trigger name", trigger: strings.Repeat("a", 200) + ".b", provider: "gitlab", deliveryID: "1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := Name(tt.trigger, tt.provider, tt.deliveryID)
			if errs := validation.IsDNS1123Subdomain(n); len(errs) > 0 {
				t.Fatalf("Name() = %q, not a valid object name: %v", n, errs)
			}
			if again := Name(tt.trigger, tt.provider, tt.deliveryID); again != n {
				t.Errorf("Name() not stable: %q then %q", n, again)
			}
			if other := Name(tt.trigger, tt.provider, tt.deliveryID+"x"); other == n {
				t.Errorf("another delivery got the same name %q", n)
			}
			if other := Name(tt.trigger, "harbor", tt.deliveryID); other == n {
				t.Errorf("another provider got the same name %q", n)
			}
		})
	}
}

func TestRoundTrip(t *testing.T) {
	received := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	trigger := types.NamespacedName{Namespace: "default", Name: "repo"}
	in := plugins.InboundEvent{
		Provider:     "github",
		Type:         plugins.EventTypeGitPush,
		DeliveryID:   "d-1",
		Trigger:      trigger,
		ReceivedTime: received,
		Git: &plugins.GitEvent{
			URL: "https://github.com/acme/site.git", Ref: "refs/heads/main", Commit: commitA,
			Before: strings.Repeat("0", 40), Author: "Jane <jane@example.com>", Message: "fix",
			ChangedPaths: []string{"site/index.html"},
		},
	}
	ev := ToEvent(trigger, in, tinyforgev1alpha1.VerificationVerified)
	if ev.Labels[LabelTrigger] != "repo" || ev.Spec.TriggerRef.Name != "repo" || ev.Namespace != "default" {
		t.Errorf("event not tied to its trigger: %+v", ev.ObjectMeta)
	}
	in.Name = ev.Name
	if got := FromEvent(ev); !reflect.DeepEqual(got, in) {
		t.Errorf("FromEvent(ToEvent(x)) = %+v, want %+v", got, in)
	}
}

func TestToEventCutsToTheSchema(t *testing.T) {
	trigger := types.NamespacedName{Namespace: "default", Name: "repo"}
	many := make([]string, 300)
	for i := range many {
		many[i] = "f"
	}
	ev := ToEvent(trigger, plugins.InboundEvent{
		Type: plugins.EventTypeGitPush,
		Git: &plugins.GitEvent{
			URL: "u", Ref: "refs/heads/x", Commit: "NOT-HEX", Before: "abc",
			Message: strings.Repeat("é", 3000), ChangedPaths: many,
		},
		Image: &plugins.ImageRef{Repository: "r", Digest: "sha256:short"},
	}, tinyforgev1alpha1.VerificationUnverified)
	g := ev.Spec.Git
	if g.Commit != "" || g.Before != "" {
		t.Errorf("invalid commits kept: %q %q", g.Commit, g.Before)
	}
	if len(g.Message) > maxMessage || !utf8.ValidString(g.Message) {
		t.Errorf("message is %d bytes, valid UTF-8 %v", len(g.Message), utf8.ValidString(g.Message))
	}
	if g.ChangedPaths != nil {
		t.Errorf("an over-long path list was kept partially (%d paths); it must be dropped so filters do not skip", len(g.ChangedPaths))
	}
	if ev.Spec.Image.Digest != "" {
		t.Errorf("invalid digest kept: %q", ev.Spec.Image.Digest)
	}
}

func FuzzCut(f *testing.F) {
	f.Add("héllo", 2)
	f.Fuzz(func(t *testing.T, s string, n int) {
		if n < 0 || n > 1<<16 {
			return
		}
		got := cut(s, n)
		if len(got) > n {
			t.Fatalf("cut(%q, %d) = %q, longer than %d", s, n, got, n)
		}
		if !strings.HasPrefix(s, got) {
			t.Fatalf("cut(%q, %d) = %q, not a prefix", s, n, got)
		}
		if utf8.ValidString(s) && !utf8.ValidString(got) {
			t.Fatalf("cut(%q, %d) = %q split a character", s, n, got)
		}
	})
}
