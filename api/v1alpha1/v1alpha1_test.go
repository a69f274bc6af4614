package v1alpha1

import (
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

func TestConditionsRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name string
		obj  Conditioned
	}{
		{name: "Workload", obj: &Workload{}},
		{name: "Trigger", obj: &Trigger{}},
		{name: "TriggerBinding", obj: &TriggerBinding{}},
		{name: "Event", obj: &Event{}},
		{name: "Rollout", obj: &Rollout{}},
		{name: "SourceKind", obj: &SourceKind{}},
		{name: "TriggerKind", obj: &TriggerKind{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.obj.GetConditions(); len(got) != 0 {
				t.Fatalf("new object has conditions %v", got)
			}
			conds := tc.obj.GetConditions()
			meta.SetStatusCondition(&conds, metav1.Condition{
				Type: ConditionReady, Status: metav1.ConditionTrue, Reason: ReasonSucceeded,
			})
			tc.obj.SetConditions(conds)
			if !meta.IsStatusConditionTrue(tc.obj.GetConditions(), ConditionReady) {
				t.Errorf("Ready not True after SetConditions: %v", tc.obj.GetConditions())
			}

			// The conditions must land in status, where the API server and
			// the deep copy see them.
			copied := tc.obj.(runtime.Object).DeepCopyObject().(Conditioned)
			if c := meta.FindStatusCondition(copied.GetConditions(), ConditionReady); c == nil || c.Reason != ReasonSucceeded {
				t.Errorf("deep copy lost the condition: %v", copied.GetConditions())
			}
			tc.obj.SetConditions(nil)
			if len(copied.GetConditions()) != 1 {
				t.Error("deep copy shares conditions with the original")
			}
		})
	}
}

func TestRolloutPhaseIsFinal(t *testing.T) {
	for _, tc := range []struct {
		phase RolloutPhase
		final bool
	}{
		{phase: "", final: false},
		{phase: RolloutPhasePending, final: false},
		{phase: RolloutPhaseAwaitingApproval, final: false},
		{phase: RolloutPhaseDeploying, final: false},
		{phase: RolloutPhaseSucceeded, final: true},
		{phase: RolloutPhaseFailed, final: true},
		{phase: RolloutPhaseSuperseded, final: true},
	} {
		t.Run(string(tc.phase), func(t *testing.T) {
			if got := tc.phase.IsFinal(); got != tc.final {
				t.Errorf("IsFinal() = %v, want %v", got, tc.final)
			}
		})
	}
}

func TestEventPhaseIsFinal(t *testing.T) {
	for _, tc := range []struct {
		phase EventPhase
		final bool
	}{
		{phase: "", final: false},
		{phase: EventPhasePending, final: false},
		{phase: EventPhaseDispatched, final: true},
		{phase: EventPhaseIgnored, final: true},
		{phase: EventPhaseFailed, final: true},
		{phase: EventPhaseExpired, final: true},
	} {
		t.Run(string(tc.phase), func(t *testing.T) {
			if got := tc.phase.IsFinal(); got != tc.final {
				t.Errorf("IsFinal() = %v, want %v", got, tc.final)
			}
		})
	}
}

func TestAddToScheme(t *testing.T) {
	s := runtime.NewScheme()
	if err := AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	for _, kind := range []string{
		KindWorkload, KindTrigger, KindTriggerBinding, KindEvent, KindRollout, KindSourceKind, KindTriggerKind,
	} {
		for _, k := range []string{kind, kind + "List"} {
			if !s.Recognizes(GroupVersion.WithKind(k)) {
				t.Errorf("scheme does not know %s", k)
			}
		}
	}
	if got := Resource("workloads").String(); got != "workloads.tinyforge.dev" {
		t.Errorf("Resource(workloads) = %q", got)
	}
}

func TestDeepCopyCopiesRawConfig(t *testing.T) {
	w := &Workload{Spec: WorkloadSpec{Source: WorkloadSource{
		Kind:   "image",
		Config: &runtime.RawExtension{Raw: []byte(`{"image":"a"}`)},
	}}}
	c := w.DeepCopy()
	c.Spec.Source.Config.Raw[10] = 'b'
	if string(w.Spec.Source.Config.Raw) != `{"image":"a"}` {
		t.Errorf("deep copy shares config bytes: %s", w.Spec.Source.Config.Raw)
	}
}
