package forgectl

import (
	"context"
	"strings"
	"testing"
	"time"

	"k8s.io/cli-runtime/pkg/genericiooptions"
	"sigs.k8s.io/controller-runtime/pkg/client"

	tinyforgev1alpha1 "github.com/tinyforge/tinyforge/api/v1alpha1"
)

func TestApprovalTarget(t *testing.T) {
	awaiting := withPhase(tinyforgev1alpha1.RolloutPhaseAwaitingApproval)
	done := newRollout("web-g1", succeeded(digest("a"), time.Hour))
	tests := []struct {
		name     string
		rollouts []tinyforgev1alpha1.Rollout
		rollout  string
		want     string
		wantNote string
		wantErr  string
	}{
		{
			name:     "the one awaiting approval",
			rollouts: []tinyforgev1alpha1.Rollout{newRollout("web-g2", awaiting), done},
			want:     "web-g2",
		},
		{
			name:     "the newest pending when none awaits yet",
			rollouts: []tinyforgev1alpha1.Rollout{newRollout("web-g3"), newRollout("web-g2", withPhase(tinyforgev1alpha1.RolloutPhasePending)), done},
			want:     "web-g3",
			wantNote: "",
		},
		{
			name:     "awaiting beats a newer pending, with a note",
			rollouts: []tinyforgev1alpha1.Rollout{newRollout("web-g3"), newRollout("web-g2", awaiting), done},
			want:     "web-g2",
			wantNote: `rollout "web-g3" is newer and pending: the controller will deploy it instead of "web-g2"`,
		},
		{
			name:     "approved ones are skipped",
			rollouts: []tinyforgev1alpha1.Rollout{newRollout("web-g3", awaiting, approved()), newRollout("web-g2", awaiting), done},
			want:     "web-g2",
			wantNote: `rollout "web-g3" is newer and pending`,
		},
		{
			name:     "none waits",
			rollouts: []tinyforgev1alpha1.Rollout{done},
			wantErr:  "no rollout awaits approval",
		},
		{
			name:     "deploying does not wait",
			rollouts: []tinyforgev1alpha1.Rollout{newRollout("web-g2", withPhase(tinyforgev1alpha1.RolloutPhaseDeploying)), done},
			wantErr:  "no rollout awaits approval",
		},
		{
			name:     "none waits, one approved",
			rollouts: []tinyforgev1alpha1.Rollout{newRollout("web-g2", awaiting, approved()), done},
			wantErr:  `no rollout awaits approval (rollout "web-g2" is approved and waits for the controller)`,
		},
		{name: "no rollouts", wantErr: "no rollout awaits approval"},
		{
			name:     "named",
			rollouts: []tinyforgev1alpha1.Rollout{newRollout("web-g3", awaiting), newRollout("web-g2", withPhase(tinyforgev1alpha1.RolloutPhasePending)), done},
			rollout:  "web-g2",
			want:     "web-g2",
			wantNote: `rollout "web-g3" is newer and pending`,
		},
		{name: "named, unknown", rollouts: []tinyforgev1alpha1.Rollout{done}, rollout: "web-g9", wantErr: `no rollout "web-g9" of this workload`},
		{name: "named, finished", rollouts: []tinyforgev1alpha1.Rollout{done}, rollout: "web-g1", wantErr: `rollout "web-g1" is Succeeded: only a pending rollout can be approved`},
		{
			name:     "named, deploying",
			rollouts: []tinyforgev1alpha1.Rollout{newRollout("web-g2", withPhase(tinyforgev1alpha1.RolloutPhaseDeploying))},
			rollout:  "web-g2", wantErr: `rollout "web-g2" is already deploying`,
		},
		{
			name:     "named, approved",
			rollouts: []tinyforgev1alpha1.Rollout{newRollout("web-g2", awaiting, approved())},
			rollout:  "web-g2", wantErr: `rollout "web-g2" is already approved`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, note, err := approvalTarget(tt.rollouts, tt.rollout)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr && !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Name != tt.want {
				t.Errorf("target %s, want %s", got.Name, tt.want)
			}
			if tt.wantNote == "" && note != "" || !strings.Contains(note, tt.wantNote) {
				t.Errorf("note %q, want %q", note, tt.wantNote)
			}
		})
	}
}

func TestRolloutApproveRun(t *testing.T) {
	c := newFakeClient(objects(nil,
		newRollout("web-g2", createdAgo(time.Minute), withPhase(tinyforgev1alpha1.RolloutPhaseAwaitingApproval)),
		newRollout("web-g1", createdAgo(time.Hour), succeeded(digest("a"), time.Hour)),
	)...)
	run := func() (string, error) {
		streams, _, out, _ := genericiooptions.NewTestIOStreams()
		o := NewRolloutApproveOptions(streams)
		o.Namespace, o.Workload, o.Client = "default", "web", c
		err := o.Run(context.Background())
		return out.String(), err
	}

	out, err := run()
	if err != nil {
		t.Fatal(err)
	}
	if out != "rollout.tinyforge.dev/web-g2 approved\n" {
		t.Errorf("printed %q", out)
	}
	var ro tinyforgev1alpha1.Rollout
	if err := c.Get(context.Background(), client.ObjectKey{Namespace: "default", Name: "web-g2"}, &ro); err != nil {
		t.Fatal(err)
	}
	if !ro.Spec.Approved {
		t.Error("web-g2 is not approved")
	}

	_, err = run()
	if err == nil || !strings.Contains(err.Error(), `approving a rollout of workload default/web: no rollout awaits approval (rollout "web-g2" is approved`) {
		t.Errorf("second approval: error %v", err)
	}
}
