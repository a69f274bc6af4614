package forgectl

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"k8s.io/cli-runtime/pkg/genericiooptions"
	cmdutil "k8s.io/kubectl/pkg/cmd/util"
	"sigs.k8s.io/controller-runtime/pkg/client"

	tinyforgev1alpha1 "github.com/tinyforge/tinyforge/api/v1alpha1"
	workloadctrl "github.com/tinyforge/tinyforge/controllers/workload"
)

func TestUndoTarget(t *testing.T) {
	a, b, c := digest("a"), digest("b"), digest("c")
	// history is newest first: c serves, b before it, a first; a failed
	// rollout of a and one pending sit on top.
	history := []tinyforgev1alpha1.Rollout{
		newRollout("web-g5", withPhase(tinyforgev1alpha1.RolloutPhaseSuperseded)),
		newRollout("web-g4", failed(a, "boom")),
		newRollout("web-g3", succeeded(c, time.Minute)),
		newRollout("web-g2", succeeded(b, time.Hour)),
		newRollout("web-g1", succeeded(a, 2*time.Hour)),
	}
	tests := []struct {
		name      string
		rollouts  []tinyforgev1alpha1.Rollout
		current   string
		to        string
		want      string
		wantErr   string
		errTarget error
	}{
		{name: "previous revision", rollouts: history, current: c, want: "web-g2"},
		{name: "after a rollback, the revision rolled back from", rollouts: append([]tinyforgev1alpha1.Rollout{
			newRollout("web-undo-x", reason(tinyforgev1alpha1.CauseRollback), succeeded(b, 0)),
		}, history...), current: b, want: "web-g3"},
		{name: "nothing serving: the newest that succeeded", rollouts: history, current: "", want: "web-g3"},
		{name: "named", rollouts: history, current: c, to: "web-g1", want: "web-g1"},
		{
			name: "only the current revision ever succeeded", current: a,
			rollouts: []tinyforgev1alpha1.Rollout{newRollout("web-g2", succeeded(a, 0)), newRollout("web-g1", failed(b, "boom"))},
			wantErr:  "no succeeded rollout deployed a revision other than " + a, errTarget: errNothingToUndo,
		},
		{
			name:     "nothing ever succeeded",
			rollouts: []tinyforgev1alpha1.Rollout{newRollout("web-g1", failed(b, "boom"))},
			wantErr:  "no rollout of this workload has succeeded", errTarget: errNothingToUndo,
		},
		{name: "no rollouts", wantErr: "nothing to roll back to", errTarget: errNothingToUndo},
		{name: "named, unknown", rollouts: history, current: c, to: "web-g9", wantErr: `no rollout "web-g9" of this workload`},
		{name: "named, failed", rollouts: history, current: c, to: "web-g4", wantErr: `rollout "web-g4" is Failed: roll back only to a revision that deployed`},
		{name: "named, superseded", rollouts: history, current: c, to: "web-g5", wantErr: `rollout "web-g5" is Superseded`},
		{
			name: "named, serving now", rollouts: history, current: c, to: "web-g3",
			wantErr: "rollout \"web-g3\" deployed revision " + c + ", which serves now", errTarget: errAlreadyServing,
		},
		{
			name: "named, serving now, but a pending rollout would replace it", current: c, to: "web-g3", want: "web-g3",
			rollouts: append([]tinyforgev1alpha1.Rollout{newRollout("web-g6", withPhase(tinyforgev1alpha1.RolloutPhaseAwaitingApproval))}, history...),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := undoTarget(tt.rollouts, tt.current, tt.to)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
				}
				if tt.errTarget != nil && !errors.Is(err, tt.errTarget) {
					t.Errorf("error %v is not %v", err, tt.errTarget)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Name != tt.want {
				t.Errorf("target %s, want %s", got.Name, tt.want)
			}
		})
	}
}

func TestCurrentRevision(t *testing.T) {
	rollouts := []tinyforgev1alpha1.Rollout{
		newRollout("web-g3", failed(digest("c"), "boom")),
		newRollout("web-g2", succeeded(digest("b"), 0)),
		newRollout("web-g1", succeeded(digest("a"), time.Hour)),
	}
	tests := []struct {
		name     string
		workload *tinyforgev1alpha1.Workload
		want     string
	}{
		{name: "the workload's record", workload: newWorkload("web", currentRevisionIs(digest("a"))), want: digest("a")},
		{name: "a workload serving nothing", workload: newWorkload("web"), want: ""},
		{name: "no workload: the newest that succeeded", want: digest("b")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := currentRevision(tt.workload, rollouts); got != tt.want {
				t.Errorf("current revision %q, want %q", got, tt.want)
			}
		})
	}
}

func TestRollbackIntent(t *testing.T) {
	a := digest("a")
	commit := "0123456789abcdef0123456789abcdef01234567"
	tests := []struct {
		name   string
		target tinyforgev1alpha1.Rollout
		want   *tinyforgev1alpha1.DeploymentIntent
	}{
		{
			name:   "registry digest: the image by digest, tag dropped, registry port kept",
			target: newRollout("web-g1", succeeded(a, 0), withIntent(tinyforgev1alpha1.DeploymentIntent{Image: "localhost:5000/team/web:1.4@" + a, ConfigHash: "h1"})),
			want:   &tinyforgev1alpha1.DeploymentIntent{Image: "localhost:5000/team/web@" + a, ConfigHash: "h1"},
		},
		{
			name:   "registry digest without a tag",
			target: newRollout("web-g1", succeeded(a, 0), withIntent(tinyforgev1alpha1.DeploymentIntent{Image: "ghcr.io/acme/web@" + a})),
			want:   &tinyforgev1alpha1.DeploymentIntent{Image: "ghcr.io/acme/web@" + a},
		},
		{
			// The tag may have moved, and the digest may be a local image
			// ID, which no repository@ form names: spec.revision decides.
			name:   "digest deployed from a tag: the image is dropped",
			target: newRollout("web-g1", succeeded(a, 0), withIntent(tinyforgev1alpha1.DeploymentIntent{Image: "localhost:5000/team/web:1.4", ConfigHash: "h1"})),
			want:   &tinyforgev1alpha1.DeploymentIntent{ConfigHash: "h1"},
		},
		{
			name:   "image of another digest is dropped",
			target: newRollout("web-g1", succeeded(a, 0), withIntent(tinyforgev1alpha1.DeploymentIntent{Image: "web@" + digest("f")})),
			want:   nil,
		},
		{
			name:   "digest without an intent: the pinned revision alone",
			target: newRollout("web-g1", succeeded(a, 0)),
			want:   nil,
		},
		{
			name:   "git commit of a git intent",
			target: newRollout("web-g1", succeeded(commit, 0), withIntent(tinyforgev1alpha1.DeploymentIntent{GitURL: "https://git.example/web.git", GitRef: "refs/heads/main", GitCommit: "ffff"})),
			want:   &tinyforgev1alpha1.DeploymentIntent{GitURL: "https://git.example/web.git", GitRef: "refs/heads/main", GitCommit: commit},
		},
		{
			name:   "a config hash is not mistaken for a commit",
			target: newRollout("web-g1", succeeded("3f2a9c0d1e2b4a5c", 0), withIntent(tinyforgev1alpha1.DeploymentIntent{ConfigHash: "3f2a9c0d1e2b4a5c"})),
			want:   &tinyforgev1alpha1.DeploymentIntent{ConfigHash: "3f2a9c0d1e2b4a5c"},
		},
		{
			name:   "other revisions keep the intent",
			target: newRollout("web-g1", succeeded("v2", 0), withIntent(tinyforgev1alpha1.DeploymentIntent{Image: "web:v2"})),
			want:   &tinyforgev1alpha1.DeploymentIntent{Image: "web:v2"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := tt.target.DeepCopy()
			got := rollbackIntent(&tt.target)
			switch {
			case (got == nil) != (tt.want == nil):
				t.Fatalf("intent %+v, want %+v", got, tt.want)
			case got != nil && *got != *tt.want:
				t.Errorf("intent\n %+v\nwant\n %+v", *got, *tt.want)
			}
			if tt.target.Spec.Intent != nil && *tt.target.Spec.Intent != *before.Spec.Intent {
				t.Errorf("the target's intent changed to %+v", *tt.target.Spec.Intent)
			}
		})
	}
}

func TestImageRepository(t *testing.T) {
	tests := []struct{ in, want string }{
		{"web", "web"},
		{"web:1.0", "web"},
		{"localhost:5000/web", "localhost:5000/web"},
		{"localhost:5000/web:1.0", "localhost:5000/web"},
		{"localhost:5000/web:1.0@" + digest("a"), "localhost:5000/web"},
		{"ghcr.io/acme/web@" + digest("a"), "ghcr.io/acme/web"},
	}
	for _, tt := range tests {
		if got := imageRepository(tt.in); got != tt.want {
			t.Errorf("imageRepository(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestRollbackRollout(t *testing.T) {
	a := digest("a")
	w := newWorkload("web", currentRevisionIs(digest("b")))
	target := newRollout("web-g1", succeeded(a, 0), approved(), withIntent(tinyforgev1alpha1.DeploymentIntent{Image: "web:1@" + a}))
	target.Annotations = map[string]string{workloadctrl.AnnotationConfigHash: "old"}

	ro := rollbackRollout("web", w, &target)
	if ro.GenerateName != "web-undo-" || ro.Name != "" {
		t.Errorf("name %q, generateName %q; want generateName web-undo-", ro.Name, ro.GenerateName)
	}
	if ro.Spec.Reason != tinyforgev1alpha1.CauseRollback || ro.Spec.Revision != a || ro.Spec.WorkloadRef.Name != "web" {
		t.Errorf("spec %+v", ro.Spec)
	}
	if ro.Spec.Approved {
		t.Error("the rollback inherited the target's approval")
	}
	if ro.Spec.Intent == nil || ro.Spec.Intent.Image != "web@"+a {
		t.Errorf("intent %+v, want image web@%s", ro.Spec.Intent, a)
	}
	if ro.Labels[workloadctrl.LabelWorkload] != "web" {
		t.Errorf("labels %v", ro.Labels)
	}
	// A copied config hash would make the controller see a config change
	// and roll forward again.
	if _, ok := ro.Annotations[workloadctrl.AnnotationConfigHash]; ok {
		t.Error("the rollback carries the target's config hash")
	}
	if len(ro.OwnerReferences) != 1 || ro.OwnerReferences[0].UID != w.UID || !*ro.OwnerReferences[0].Controller {
		t.Errorf("owner references %+v", ro.OwnerReferences)
	}
	if ro := rollbackRollout("web", nil, &target); len(ro.OwnerReferences) != 0 {
		t.Errorf("without a workload, owner references %+v", ro.OwnerReferences)
	}
}

func TestRolloutUndoRun(t *testing.T) {
	a, b := digest("a"), digest("b")
	history := func() []tinyforgev1alpha1.Rollout {
		return []tinyforgev1alpha1.Rollout{
			newRollout("web-g2", createdAgo(time.Hour), succeeded(b, time.Hour)),
			newRollout("web-g1", createdAgo(2*time.Hour), succeeded(a, 2*time.Hour),
				withIntent(tinyforgev1alpha1.DeploymentIntent{Image: "reg.example/web:1@" + a})),
		}
	}
	run := func(t *testing.T, c client.Client, to string, dryRun cmdutil.DryRunStrategy) (string, string, error) {
		t.Helper()
		streams, _, out, errOut := genericiooptions.NewTestIOStreams()
		o := NewRolloutUndoOptions(streams)
		o.Namespace, o.Workload, o.ToRevision, o.DryRunStrategy, o.Client = "default", "web", to, dryRun, c
		if err := o.Validate(); err != nil {
			t.Fatal(err)
		}
		err := o.Run(context.Background())
		return out.String(), errOut.String(), err
	}
	rollbacks := func(t *testing.T, c client.Client) []tinyforgev1alpha1.Rollout {
		t.Helper()
		var list tinyforgev1alpha1.RolloutList
		if err := c.List(context.Background(), &list); err != nil {
			t.Fatal(err)
		}
		var got []tinyforgev1alpha1.Rollout
		for _, ro := range list.Items {
			if ro.Spec.Reason == tinyforgev1alpha1.CauseRollback {
				got = append(got, ro)
			}
		}
		return got
	}

	t.Run("creates the rollback", func(t *testing.T) {
		c := newFakeClient(objects(newWorkload("web", currentRevisionIs(b)), history()...)...)
		out, errOut, err := run(t, c, "", cmdutil.DryRunNone)
		if err != nil {
			t.Fatalf("%v\n%s", err, errOut)
		}
		got := rollbacks(t, c)
		if len(got) != 1 {
			t.Fatalf("%d rollback rollouts, want 1", len(got))
		}
		ro := got[0]
		if !strings.HasPrefix(ro.Name, "web-undo-") || ro.Spec.Revision != a || ro.Spec.Intent == nil || ro.Spec.Intent.Image != "reg.example/web@"+a {
			t.Errorf("created %s with spec %+v", ro.Name, ro.Spec)
		}
		want := "rollout.tinyforge.dev/" + ro.Name + " created: workload/web rolls back to revision " + a + " (from rollout web-g1)\n"
		if out != want {
			t.Errorf("printed %q, want %q", out, want)
		}
	})
	t.Run("dry run creates nothing", func(t *testing.T) {
		c := newFakeClient(objects(newWorkload("web", currentRevisionIs(b)), history()...)...)
		out, _, err := run(t, c, "", cmdutil.DryRunClient)
		if err != nil {
			t.Fatal(err)
		}
		if n := len(rollbacks(t, c)); n != 0 {
			t.Errorf("%d rollback rollouts created", n)
		}
		if !strings.Contains(out, "web-undo-<generated> created (dry run)") {
			t.Errorf("printed %q", out)
		}
	})
	t.Run("nothing to roll back to", func(t *testing.T) {
		c := newFakeClient(objects(newWorkload("web", currentRevisionIs(b)), history()[0])...)
		_, _, err := run(t, c, "", cmdutil.DryRunNone)
		if !errors.Is(err, errNothingToUndo) || !strings.Contains(err.Error(), "rolling back workload default/web") {
			t.Errorf("error %v, want one saying there is nothing to roll back to", err)
		}
	})
	t.Run("to the revision serving now is skipped", func(t *testing.T) {
		c := newFakeClient(objects(newWorkload("web", currentRevisionIs(b)), history()...)...)
		out, _, err := run(t, c, "web-g2", cmdutil.DryRunNone)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out, "workload/web skipped rollback") || len(rollbacks(t, c)) != 0 {
			t.Errorf("printed %q and created %d rollouts", out, len(rollbacks(t, c)))
		}
	})
	t.Run("without the workload, from the rollouts, with a warning", func(t *testing.T) {
		c := newFakeClient(objects(nil, history()...)...)
		_, errOut, err := run(t, c, "", cmdutil.DryRunNone)
		if err != nil {
			t.Fatal(err)
		}
		if got := rollbacks(t, c); len(got) != 1 || got[0].Spec.Revision != a {
			t.Errorf("rollbacks %+v, want one of revision %s", got, a)
		}
		if !strings.Contains(errOut, "Warning: workload default/web not found") {
			t.Errorf("stderr %q", errOut)
		}
	})
	t.Run("no workload, no rollouts", func(t *testing.T) {
		_, _, err := run(t, newFakeClient(), "", cmdutil.DryRunNone)
		if err == nil || !strings.Contains(err.Error(), `workload "web" not found in namespace "default"`) {
			t.Errorf("error %v", err)
		}
	})
}
