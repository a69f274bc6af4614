package controllers

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	tinyforgev1alpha1 "github.com/tinyforge/tinyforge/api/v1alpha1"
)

func TestStripFinishedEvent(t *testing.T) {
	created := metav1.NewTime(time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC))
	event := func(phase tinyforgev1alpha1.EventPhase) *tinyforgev1alpha1.Event {
		return &tinyforgev1alpha1.Event{
			TypeMeta: metav1.TypeMeta{APIVersion: "tinyforge.dev/v1alpha1", Kind: "Event"},
			ObjectMeta: metav1.ObjectMeta{
				Name: "push-1", Namespace: "apps", UID: "u1", ResourceVersion: "42", Generation: 1,
				CreationTimestamp: created, Labels: map[string]string{"a": "b"},
				Annotations:   map[string]string{"big": "note"},
				ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "ingress"}},
			},
			Spec: tinyforgev1alpha1.EventSpec{Type: "image-push", TriggerRef: tinyforgev1alpha1.LocalObjectReference{Name: "hello"}},
			Status: tinyforgev1alpha1.EventStatus{
				Phase: phase, ObservedGeneration: 1,
				Conditions: []metav1.Condition{{Type: "Ready", Status: metav1.ConditionTrue}},
				Outcomes:   []tinyforgev1alpha1.BindingOutcome{{Binding: "b", Result: tinyforgev1alpha1.MatchResultMatched}},
			},
		}
	}

	for _, phase := range []tinyforgev1alpha1.EventPhase{tinyforgev1alpha1.EventPhaseDispatched, tinyforgev1alpha1.EventPhaseIgnored, tinyforgev1alpha1.EventPhaseFailed} {
		out, err := stripFinishedEvent(event(phase))
		if err != nil {
			t.Fatal(err)
		}
		ev := out.(*tinyforgev1alpha1.Event)
		if ev.Name != "push-1" || ev.Namespace != "apps" || ev.UID != "u1" || ev.ResourceVersion != "42" || ev.Generation != 1 ||
			!ev.CreationTimestamp.Equal(&created) || ev.Labels["a"] != "b" || ev.Status.Phase != phase || ev.Status.ObservedGeneration != 1 {
			t.Errorf("%s: lost what the Event controller reads: %+v", phase, ev)
		}
		if ev.Spec.Type != "" || ev.Status.Conditions != nil || ev.Status.Outcomes != nil || ev.Annotations != nil || ev.ManagedFields != nil {
			t.Errorf("%s: kept what nothing reads from the cache: %+v", phase, ev)
		}
	}
	for _, phase := range []tinyforgev1alpha1.EventPhase{"", tinyforgev1alpha1.EventPhasePending} {
		out, err := stripFinishedEvent(event(phase))
		if err != nil {
			t.Fatal(err)
		}
		ev := out.(*tinyforgev1alpha1.Event)
		if ev.Spec.TriggerRef.Name != "hello" || len(ev.Status.Outcomes) != 1 || ev.Annotations["big"] != "note" {
			t.Errorf("phase %q: an Event still being dispatched lost data: %+v", phase, ev)
		}
		if ev.ManagedFields != nil {
			t.Errorf("phase %q: managedFields kept", phase)
		}
	}
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "c", ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "x"}}}, Data: map[string]string{"k": "v"}}
	if out, err := stripFinishedEvent(cm); err != nil || out.(*corev1.ConfigMap).Data["k"] != "v" {
		t.Errorf("another kind: %v, %v", out, err)
	}
}
