package forgectl

import (
	"context"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"sigs.k8s.io/controller-runtime/pkg/client"

	tinyforgev1alpha1 "github.com/tinyforge/tinyforge/api/v1alpha1"
)

func TestEvaluateStatus(t *testing.T) {
	rev1, rev2 := digest("1"), digest("2")
	deployFailed := tinyforgev1alpha1.WorkloadReasonDeployFailed
	tests := []struct {
		name     string
		workload *tinyforgev1alpha1.Workload
		rollouts []tinyforgev1alpha1.Rollout
		wantDone bool
		wantErr  bool
		// wantMessage must be part of the message.
		wantMessage string
	}{
		{
			name:        "ready, nothing pending",
			workload:    newWorkload("web", ready(rev1)),
			rollouts:    []tinyforgev1alpha1.Rollout{newRollout("web-g1", succeeded(rev1, time.Minute))},
			wantDone:    true,
			wantMessage: `workload "web" successfully rolled out: revision ` + rev1 + " is serving",
		},
		{
			name:        "new generation not observed yet",
			workload:    newWorkload("web", ready(rev1), generation(2, 1)),
			rollouts:    []tinyforgev1alpha1.Rollout{newRollout("web-g1", succeeded(rev1, time.Minute))},
			wantMessage: "generation 2 to be observed (observed 1)",
		},
		{
			name:     "ready but a rollout is pending",
			workload: newWorkload("web", ready(rev1)),
			rollouts: []tinyforgev1alpha1.Rollout{
				newRollout("web-g2", createdAgo(time.Second)),
				newRollout("web-g1", succeeded(rev1, time.Minute)),
			},
			wantMessage: `Waiting for rollout "web-g2" to start`,
		},
		{
			name: "waiting for approval",
			workload: newWorkload("web", ready(rev1),
				condition(tinyforgev1alpha1.ConditionReconciling, metav1.ConditionTrue, tinyforgev1alpha1.WorkloadReasonAwaitingApproval, "waits")),
			rollouts: []tinyforgev1alpha1.Rollout{
				newRollout("web-g2", createdAgo(time.Second), withPhase(tinyforgev1alpha1.RolloutPhaseAwaitingApproval)),
				newRollout("web-g1", succeeded(rev1, time.Minute)),
			},
			wantMessage: `Waiting for rollout "web-g2" to be approved (forgectl rollout approve workload/web -n default)`,
		},
		{
			name: "approved, not yet deploying",
			workload: newWorkload("web", ready(rev1),
				condition(tinyforgev1alpha1.ConditionReconciling, metav1.ConditionTrue, tinyforgev1alpha1.WorkloadReasonAwaitingApproval, "waits")),
			rollouts: []tinyforgev1alpha1.Rollout{
				newRollout("web-g2", createdAgo(time.Second), withPhase(tinyforgev1alpha1.RolloutPhaseAwaitingApproval), approved()),
			},
			wantMessage: `Waiting for rollout "web-g2" to start...`,
		},
		{
			name: "deploying says what the controller does",
			workload: newWorkload("web", ready(rev1),
				condition(tinyforgev1alpha1.ConditionReconciling, metav1.ConditionTrue, tinyforgev1alpha1.WorkloadReasonDeploying,
					"deploying rollout web-g2; revision "+rev1+" serves meanwhile")),
			rollouts: []tinyforgev1alpha1.Rollout{
				newRollout("web-g2", createdAgo(time.Second), withPhase(tinyforgev1alpha1.RolloutPhaseDeploying)),
			},
			wantMessage: `Waiting for rollout "web-g2" to finish: deploying rollout web-g2; revision ` + rev1 + " serves meanwhile",
		},
		{
			name:     "failed deploy stalls",
			workload: newWorkload("web", currentRevisionIs(rev1), stalled(deployFailed, "rollout web-g2 (revision "+rev2+") failed: pull: not found; revision "+rev1+" still serving")),
			rollouts: []tinyforgev1alpha1.Rollout{
				newRollout("web-g2", createdAgo(time.Second), failed(rev2, "pull: not found")),
				newRollout("web-g1", succeeded(rev1, time.Minute)),
			},
			wantErr:     true,
			wantMessage: `workload "web" is stalled (DeployFailed): rollout web-g2`,
		},
		{
			name:     "failed rollout before the workload says so",
			workload: newWorkload("web", ready(rev1)),
			rollouts: []tinyforgev1alpha1.Rollout{
				newRollout("web-g2", createdAgo(time.Second), failed(rev2, "pull: not found")),
				newRollout("web-g1", succeeded(rev1, time.Minute)),
			},
			wantErr:     true,
			wantMessage: `rollout "web-g2" of workload "web" failed (revision ` + rev2 + "): pull: not found",
		},
		{
			name:     "succeeded rollout before the workload records it",
			workload: newWorkload("web", ready(rev1)),
			rollouts: []tinyforgev1alpha1.Rollout{
				newRollout("web-g2", createdAgo(time.Second), succeeded(rev2, 0)),
				newRollout("web-g1", succeeded(rev1, time.Minute)),
			},
			wantMessage: `Waiting for workload "web" to record revision ` + rev2 + ` of rollout "web-g2"`,
		},
		{
			name:     "a rollback after a failure is waited for, not failed",
			workload: newWorkload("web", currentRevisionIs(rev1), stalled(deployFailed, "rollout web-g2 failed")),
			rollouts: []tinyforgev1alpha1.Rollout{
				newRollout("web-undo-x", createdAgo(time.Second), reason(tinyforgev1alpha1.CauseRollback), pinned(rev1)),
				newRollout("web-g2", createdAgo(time.Minute), failed(rev2, "pull: not found")),
				newRollout("web-g1", createdAgo(time.Hour), succeeded(rev1, time.Hour)),
			},
			wantMessage: `Waiting for rollout "web-undo-x" to start`,
		},
		{
			name:     "a rollback that succeeded while the workload still shows the stall",
			workload: newWorkload("web", currentRevisionIs(rev2), stalled(deployFailed, "rollout web-undo-y failed")),
			rollouts: []tinyforgev1alpha1.Rollout{
				newRollout("web-undo-x", createdAgo(time.Second), reason(tinyforgev1alpha1.CauseRollback), succeeded(rev1, 0)),
				newRollout("web-undo-y", createdAgo(time.Minute), reason(tinyforgev1alpha1.CauseRollback), failed(rev1, "not present")),
				newRollout("web-g2", createdAgo(time.Hour), succeeded(rev2, time.Hour)),
			},
			wantMessage: `Waiting for workload "web" to record revision ` + rev1 + ` of rollout "web-undo-x"`,
		},
		{
			name:     "a rollback to the serving revision while the workload still shows the stall",
			workload: newWorkload("web", currentRevisionIs(rev1), stalled(deployFailed, "rollout web-g2 failed")),
			rollouts: []tinyforgev1alpha1.Rollout{
				newRollout("web-undo-x", createdAgo(time.Second), reason(tinyforgev1alpha1.CauseRollback), succeeded(rev1, 0)),
				newRollout("web-g2", createdAgo(time.Minute), failed(rev2, "pull: not found")),
			},
			wantMessage: `Waiting for workload "web" to record revision ` + rev1,
		},
		{
			name:        "a deploy stall with no rollouts left",
			workload:    newWorkload("web", stalled(deployFailed, "rollout web-g1 failed")),
			wantErr:     true,
			wantMessage: `workload "web" is stalled (DeployFailed): rollout web-g1 failed`,
		},
		{
			name:     "a stall no rollout can fix fails even with one pending",
			workload: newWorkload("web", stalled(tinyforgev1alpha1.ReasonUnknownKind, `no source plugin "image"`)),
			rollouts: []tinyforgev1alpha1.Rollout{
				newRollout("web-g1", createdAgo(time.Second)),
			},
			wantErr:     true,
			wantMessage: `workload "web" is stalled (UnknownKind): no source plugin "image"`,
		},
		{
			name:     "superseded rollouts do not count",
			workload: newWorkload("web", ready(rev1)),
			rollouts: []tinyforgev1alpha1.Rollout{
				newRollout("web-g3", createdAgo(time.Second), withPhase(tinyforgev1alpha1.RolloutPhaseSuperseded)),
				newRollout("web-g2", createdAgo(time.Minute), succeeded(rev1, time.Minute)),
			},
			wantDone:    true,
			wantMessage: "successfully rolled out",
		},
		{
			name: "degraded is waited for",
			workload: newWorkload("web", currentRevisionIs(rev1),
				condition(tinyforgev1alpha1.ConditionReconciling, metav1.ConditionTrue, tinyforgev1alpha1.WorkloadReasonDegraded, "recreating 1 container"),
				condition(tinyforgev1alpha1.ConditionReady, metav1.ConditionFalse, tinyforgev1alpha1.WorkloadReasonDegraded, "recreating 1 container")),
			rollouts:    []tinyforgev1alpha1.Rollout{newRollout("web-g1", succeeded(rev1, time.Minute))},
			wantMessage: `Waiting for workload "web": Degraded: recreating 1 container`,
		},
		{
			name: "ready while still reconciling is not done",
			workload: newWorkload("web", ready(rev1),
				condition(tinyforgev1alpha1.ConditionReconciling, metav1.ConditionTrue, tinyforgev1alpha1.ReasonProgressing, "retrying")),
			rollouts:    []tinyforgev1alpha1.Rollout{newRollout("web-g1", succeeded(rev1, time.Minute))},
			wantMessage: `Waiting for workload "web": Succeeded`,
		},
		{
			name:        "no status yet",
			workload:    newWorkload("web"),
			wantMessage: `Waiting for workload "web" to report its status`,
		},
		{
			name:     "suspended with a pending rollout",
			workload: newWorkload("web", suspended(), condition(tinyforgev1alpha1.ConditionReady, metav1.ConditionFalse, tinyforgev1alpha1.ReasonSuspended, "suspended")),
			rollouts: []tinyforgev1alpha1.Rollout{
				newRollout("web-g2", createdAgo(time.Second)),
			},
			wantMessage: `workload "web" is suspended (spec.suspend); rollouts wait until it is resumed`,
		},
		{
			name:        "suspended, nothing pending",
			workload:    newWorkload("web", suspended(), currentRevisionIs(rev1), condition(tinyforgev1alpha1.ConditionReady, metav1.ConditionFalse, tinyforgev1alpha1.ReasonSuspended, "suspended")),
			rollouts:    []tinyforgev1alpha1.Rollout{newRollout("web-g1", succeeded(rev1, time.Minute))},
			wantMessage: "it is suspended",
		},
		{
			name:        "being deleted",
			workload:    newWorkload("web", ready(rev1), deleting()),
			wantErr:     true,
			wantMessage: `workload "web" is being deleted`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := evaluateStatus(tt.workload, tt.rollouts)
			if got.done != tt.wantDone || (got.err != nil) != tt.wantErr {
				t.Errorf("done %t, err %v; want done %t, error %t", got.done, got.err, tt.wantDone, tt.wantErr)
			}
			if !strings.Contains(got.message, tt.wantMessage) {
				t.Errorf("message %q does not contain %q", got.message, tt.wantMessage)
			}
			if got.err != nil && got.err.Error() != got.message {
				t.Errorf("error %q differs from the message %q", got.err, got.message)
			}
		})
	}
}

func TestRolloutStatusRun(t *testing.T) {
	rev1, rev2 := digest("1"), digest("2")
	newOptions := func(c client.WithWatch, watch bool, timeout time.Duration) (*RolloutStatusOptions, *syncBuffer) {
		streams, _, _, _ := genericiooptions.NewTestIOStreams()
		out := &syncBuffer{}
		streams.Out = out
		o := NewRolloutStatusOptions(streams)
		o.Namespace, o.Workload, o.Client, o.Watch, o.Timeout = "default", "web", c, watch, timeout
		if err := o.Validate(); err != nil {
			t.Fatal(err)
		}
		return o, out
	}

	t.Run("once, stalled exits with the message", func(t *testing.T) {
		c := newFakeClient(objects(newWorkload("web", currentRevisionIs(rev1), stalled(tinyforgev1alpha1.WorkloadReasonDeployFailed, "rollout web-g2 failed: boom")),
			newRollout("web-g2", failed(rev2, "boom")))...)
		o, out := newOptions(c, false, 0)
		err := o.Run(context.Background())
		if err == nil || !strings.Contains(err.Error(), "rollout web-g2 failed: boom") {
			t.Errorf("error %v, want the stall's message", err)
		}
		if out.String() != "" {
			t.Errorf("printed %q besides the error", out)
		}
	})
	t.Run("once, in progress exits 0", func(t *testing.T) {
		c := newFakeClient(objects(newWorkload("web", ready(rev1)), newRollout("web-g2"))...)
		o, out := newOptions(c, false, 0)
		if err := o.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		if want := "Waiting for rollout \"web-g2\" to start...\n"; out.String() != want {
			t.Errorf("printed %q, want %q", out, want)
		}
	})
	t.Run("missing workload", func(t *testing.T) {
		c := newFakeClient()
		o, _ := newOptions(c, false, 0)
		if err := o.Run(context.Background()); err == nil || !strings.Contains(err.Error(), `workload "web" not found in namespace "default"`) {
			t.Errorf("error %v", err)
		}
	})
	t.Run("watch until the rollout is done", func(t *testing.T) {
		w := newWorkload("web", ready(rev1))
		ro := newRollout("web-g2")
		c := newFakeClient(objects(w, ro)...)
		o, out := newOptions(c, true, time.Minute)
		done := make(chan error, 1)
		go func() { done <- o.Run(context.Background()) }()
		waitFor(t, "the first status", func() bool { return strings.Contains(out.String(), "to start") })

		// As the controller would: deploy, then record it on the workload.
		updateStatus(t, c, &ro, func() { succeeded(rev2, 0)(&ro) })
		updateStatus(t, c, w, func() { ready(rev2)(w) })
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("status still watching; printed:\n%s", out)
		}
		if want := `workload "web" successfully rolled out: revision ` + rev2 + " is serving\n"; !strings.HasSuffix(out.String(), want) {
			t.Errorf("printed %q, want it to end with %q", out, want)
		}
	})
	t.Run("watch times out", func(t *testing.T) {
		c := newFakeClient(objects(newWorkload("web", ready(rev1)),
			newRollout("web-g2", withPhase(tinyforgev1alpha1.RolloutPhaseAwaitingApproval)))...)
		o, _ := newOptions(c, true, 200*time.Millisecond)
		err := o.Run(context.Background())
		if err == nil || !strings.Contains(err.Error(), "timed out after 200ms") || !strings.Contains(err.Error(), "to be approved") {
			t.Errorf("error %v, want a timeout naming the last status", err)
		}
	})
}
