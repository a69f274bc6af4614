package inbound

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"unicode/utf8"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	tinyforgev1alpha1 "github.com/tinyforge/tinyforge/api/v1alpha1"
	"github.com/tinyforge/tinyforge/plugins"
)

// LabelTrigger is set on every Event to the name of its Trigger, so
// `forgectl get events.tinyforge.dev -l tinyforge.dev/trigger=NAME` lists
// one trigger's Events.
const LabelTrigger = "tinyforge.dev/trigger"

// Limits of the Event schema that payload fields are cut to.
const (
	maxChangedPaths = 256
	maxPathLength   = 1024
	maxMessage      = 4096
	maxAuthor       = 256
	maxRef          = 256
	maxURL          = 2048
	maxRepository   = 512
	maxTag          = 128
	maxDeliveryID   = 256
	maxReason       = 1024
	maxUser         = 256
)

// Name returns the name of the Event for one delivery to one trigger: the
// trigger's name and a hash of the provider and delivery ID. The same
// delivery to the same trigger always gets the same name, which is how a
// redelivery is recognized; any delivery ID is safe to pass.
func Name(trigger string, provider tinyforgev1alpha1.Provider, deliveryID string) string {
	sum := sha256.Sum256([]byte(string(provider) + "\x00" + deliveryID))
	prefix := trigger
	if len(prefix) > 40 {
		prefix = strings.TrimRight(prefix[:40], "-.")
	}
	return prefix + "-" + hex.EncodeToString(sum[:])[:16]
}

// ToEvent returns the Event resource for ev received by trigger: named by
// Name, labelled with the trigger, with every field cut to the schema's
// limits. ev.Trigger and ev.Name are ignored.
func ToEvent(trigger types.NamespacedName, ev plugins.InboundEvent, verification tinyforgev1alpha1.VerificationResult) *tinyforgev1alpha1.Event {
	provider := tinyforgev1alpha1.Provider(ev.Provider)
	out := &tinyforgev1alpha1.Event{
		ObjectMeta: metav1.ObjectMeta{
			Name:      Name(trigger.Name, provider, ev.DeliveryID),
			Namespace: trigger.Namespace,
			Labels:    map[string]string{LabelTrigger: trigger.Name},
		},
		Spec: tinyforgev1alpha1.EventSpec{
			TriggerRef:   tinyforgev1alpha1.LocalObjectReference{Name: trigger.Name},
			Provider:     provider,
			Type:         tinyforgev1alpha1.EventType(ev.Type),
			DeliveryID:   cut(ev.DeliveryID, maxDeliveryID),
			ReceivedTime: metav1.NewTime(ev.ReceivedTime),
			Verification: verification,
		},
	}
	if len(out.Labels[LabelTrigger]) > 63 {
		delete(out.Labels, LabelTrigger)
	}
	if i := ev.Image; i != nil {
		out.Spec.Image = &tinyforgev1alpha1.ImageEvent{
			Repository: cut(i.Repository, maxRepository),
			Tag:        cut(i.Tag, maxTag),
		}
		if plugins.IsDigest(i.Digest) && len(i.Digest) <= 128 {
			out.Spec.Image.Digest = i.Digest
		}
	}
	if g := ev.Git; g != nil {
		out.Spec.Git = &tinyforgev1alpha1.GitEvent{
			URL:     cut(g.URL, maxURL),
			Ref:     cut(g.Ref, maxRef),
			Commit:  commit(g.Commit),
			Before:  commit(g.Before),
			Author:  cut(g.Author, maxAuthor),
			Message: cut(g.Message, maxMessage),
		}
		// A list cut short would hide changes from path filters; without
		// it the git trigger does not filter, which errs on deploying.
		if len(g.ChangedPaths) <= maxChangedPaths {
			for _, p := range g.ChangedPaths {
				if len(p) > maxPathLength {
					out.Spec.Git.ChangedPaths = nil
					break
				}
				out.Spec.Git.ChangedPaths = append(out.Spec.Git.ChangedPaths, p)
			}
		}
	}
	if m := ev.Manual; m != nil {
		out.Spec.Manual = &tinyforgev1alpha1.ManualEvent{
			Workload: cut(m.Workload, 253),
			Revision: cut(m.Revision, plugins.MaxRevisionLength),
			Reason:   cut(m.Reason, maxReason),
			User:     cut(m.User, maxUser),
		}
	}
	return out
}

// FromEvent returns the normalized event an Event resource stores, as
// triggers see it.
func FromEvent(ev *tinyforgev1alpha1.Event) plugins.InboundEvent {
	out := plugins.InboundEvent{
		Name:         ev.Name,
		Provider:     string(ev.Spec.Provider),
		Type:         plugins.EventType(ev.Spec.Type),
		DeliveryID:   ev.Spec.DeliveryID,
		Trigger:      types.NamespacedName{Namespace: ev.Namespace, Name: ev.Spec.TriggerRef.Name},
		ReceivedTime: ev.Spec.ReceivedTime.Time,
	}
	if i := ev.Spec.Image; i != nil {
		out.Image = &plugins.ImageRef{Repository: i.Repository, Tag: i.Tag, Digest: i.Digest}
	}
	if g := ev.Spec.Git; g != nil {
		out.Git = &plugins.GitEvent{
			URL: g.URL, Ref: g.Ref, Commit: g.Commit, Before: g.Before,
			Author: g.Author, Message: g.Message, ChangedPaths: append([]string(nil), g.ChangedPaths...),
		}
	}
	if m := ev.Spec.Manual; m != nil {
		out.Manual = &plugins.ManualEvent{Workload: m.Workload, Revision: m.Revision, Reason: m.Reason, User: m.User}
	}
	return out
}

// commit returns c when it is a commit ID the schema accepts, else "".
func commit(c string) string {
	if len(c) >= 7 && len(c) <= 64 && plugins.IsHex(c) {
		return c
	}
	return ""
}

// cut shortens s to at most n bytes without splitting a UTF-8 sequence.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for len(s) > 0 {
		if r, size := utf8.DecodeLastRuneInString(s); r != utf8.RuneError || size != 1 {
			break
		}
		s = s[:len(s)-1]
	}
	return s
}
