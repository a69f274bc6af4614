package forgectl

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"k8s.io/cli-runtime/pkg/genericiooptions"
	"sigs.k8s.io/yaml"

	tinyforgev1alpha1 "github.com/tinyforge/tinyforge/api/v1alpha1"
)

func TestParseWorkloadArgs(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		want    string
		wantErr string
	}{
		{name: "type/name", args: []string{"workload/web"}, want: "web"},
		{name: "plural", args: []string{"workloads/web"}, want: "web"},
		{name: "short name", args: []string{"wl/web"}, want: "web"},
		{name: "qualified", args: []string{"workloads.tinyforge.dev/web"}, want: "web"},
		{name: "upper-case type", args: []string{"Workload/web"}, want: "web"},
		{name: "type and name", args: []string{"workload", "web"}, want: "web"},
		{name: "bare name", args: []string{"web"}, want: "web"},
		{name: "none", args: nil, wantErr: "needs a workload"},
		{name: "pod", args: []string{"pod/web"}, wantErr: `works on workloads only: "pod/web" is not a workload`},
		{name: "deployment and name", args: []string{"deployment", "web"}, wantErr: "works on workloads only"},
		{name: "empty name", args: []string{"workload/"}, wantErr: "not a workload name"},
		{name: "two slashes", args: []string{"workload/a/b"}, wantErr: "not a workload name"},
		{name: "too many", args: []string{"workload", "a", "b"}, wantErr: "takes one workload"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseWorkloadArgs("test", tt.args)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestSortNewestFirst(t *testing.T) {
	rollouts := []tinyforgev1alpha1.Rollout{
		newRollout("web-a", createdAgo(3*time.Hour)),
		newRollout("web-c", createdAgo(time.Hour)),
		newRollout("web-b", createdAgo(time.Hour)),
		newRollout("web-d", createdAgo(2*time.Hour)),
	}
	sortNewestFirst(rollouts)
	var got []string
	for _, ro := range rollouts {
		got = append(got, ro.Name)
	}
	// Within one second, by name descending, as the controller orders them.
	if want := "web-c web-b web-d web-a"; strings.Join(got, " ") != want {
		t.Errorf("order %v, want %s", got, want)
	}
}

func TestPrintHistory(t *testing.T) {
	long := strings.Repeat("x", 100)
	tests := []struct {
		name     string
		rollouts []tinyforgev1alpha1.Rollout
		// want are the rows after the header, as fields.
		want [][]string
	}{
		{
			name: "succeeded shows its revision, start and duration",
			rollouts: []tinyforgev1alpha1.Rollout{
				newRollout("web-g1", succeeded("sha256:aaa", 10*time.Minute), withMessage("ok")),
			},
			want: [][]string{{"web-g1", "ConfigChange", "sha256:aaa", "Succeeded", "10m", "ago", "30s", "ok"}},
		},
		{
			name:     "unset phase is Pending, nothing started",
			rollouts: []tinyforgev1alpha1.Rollout{newRollout("web-g2")},
			want:     [][]string{{"web-g2", "ConfigChange", "-", "Pending", "-", "-", "-"}},
		},
		{
			name: "pinned revision shows before it is resolved",
			rollouts: []tinyforgev1alpha1.Rollout{
				newRollout("web-undo-x", reason(tinyforgev1alpha1.CauseRollback), pinned("sha256:bbb"),
					withPhase(tinyforgev1alpha1.RolloutPhaseAwaitingApproval)),
			},
			want: [][]string{{"web-undo-x", "Rollback", "sha256:bbb", "AwaitingApproval", "-", "-", "-"}},
		},
		{
			name: "deploying counts the time so far",
			rollouts: []tinyforgev1alpha1.Rollout{
				newRollout("web-g3", withPhase(tinyforgev1alpha1.RolloutPhaseDeploying), startedAgo(90*time.Second)),
			},
			want: [][]string{{"web-g3", "ConfigChange", "-", "Deploying", "90s", "ago", "90s", "-"}},
		},
		{
			name: "long messages are cut to one line",
			rollouts: []tinyforgev1alpha1.Rollout{
				newRollout("web-g4", failed("sha256:ccc", "pull failed:\n"+long)),
			},
			want: [][]string{{"web-g4", "ConfigChange", "sha256:ccc", "Failed", "2m", "ago", "60s", "pull", "failed:",
				strings.Repeat("x", maxMessageWidth-len("pull failed: ")-3) + "..."}},
		},
		{
			name: "order is kept",
			rollouts: []tinyforgev1alpha1.Rollout{
				newRollout("web-g2"), newRollout("web-g1", succeeded("sha256:aaa", time.Hour)),
			},
			want: [][]string{
				{"web-g2", "ConfigChange", "-", "Pending", "-", "-", "-"},
				{"web-g1", "ConfigChange", "sha256:aaa", "Succeeded", "60m", "ago", "30s", "revision", "sha256:aaa", "is", "serving"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			if err := printHistory(&out, tt.rollouts, testNow); err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
			if got, want := strings.Fields(lines[0]), []string{"NAME", "REASON", "REVISION", "PHASE", "STARTED", "DURATION", "MESSAGE"}; strings.Join(got, " ") != strings.Join(want, " ") {
				t.Errorf("header %q", lines[0])
			}
			if len(lines)-1 != len(tt.want) {
				t.Fatalf("%d rows, want %d:\n%s", len(lines)-1, len(tt.want), out.String())
			}
			for i, want := range tt.want {
				if got := strings.Fields(lines[i+1]); strings.Join(got, " ") != strings.Join(want, " ") {
					t.Errorf("row %d:\n got %q\nwant %q", i, got, want)
				}
			}
		})
	}
}

func TestTruncate(t *testing.T) {
	tests := []struct {
		name, in string
		max      int
		want     string
	}{
		{name: "short", in: "ok", max: 10, want: "ok"},
		{name: "exact", in: "0123456789", max: 10, want: "0123456789"},
		{name: "cut", in: "0123456789a", max: 10, want: "0123456..."},
		{name: "newlines and runs of spaces", in: "a\n  b\tc", max: 10, want: "a b c"},
		{name: "runes, not bytes", in: "ééééééééééé", max: 10, want: "ééééééé..."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := truncate(tt.in, tt.max); got != tt.want {
				t.Errorf("truncate(%q, %d) = %q, want %q", tt.in, tt.max, got, tt.want)
			}
		})
	}
}

func TestDescribeRollout(t *testing.T) {
	ro := newRollout("web-undo-x", reason(tinyforgev1alpha1.CauseRollback), pinned(digest("a")),
		withIntent(tinyforgev1alpha1.DeploymentIntent{Image: "reg:5000/web@" + digest("a")}),
		succeeded(digest("a"), time.Minute), approved())
	ro.Status.PreviousRevision = digest("b")
	ro.Status.Services = []tinyforgev1alpha1.ServiceStatus{{Name: "app", Action: tinyforgev1alpha1.ServiceActionBlueGreen}}
	var out bytes.Buffer
	if err := describeRollout(&out, &ro, testNow); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"Name:", "web-undo-x", "Workload:", "Reason:", "Rollback", "Phase:", "Succeeded",
		"Pinned Revision:", "Previous Revision:", digest("b"), "Approved:", "true",
		"Intent:\n", "  Image:", "reg:5000/web@" + digest("a"),
		"Started:", "(90s ago)", "Completed:", "(60s ago)", "Duration:", "30s",
		"Services:\n", "app", "BlueGreen",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("description lacks %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "Event:") {
		t.Errorf("description shows an event the rollout does not have:\n%s", out.String())
	}
}

func TestRolloutHistoryRun(t *testing.T) {
	rollouts := []tinyforgev1alpha1.Rollout{
		newRollout("web-g1", createdAgo(3*time.Hour), succeeded(digest("a"), 2*time.Hour)),
		newRollout("web-g2", createdAgo(2*time.Hour), succeeded(digest("b"), time.Hour)),
		newRollout("web-g3", createdAgo(time.Hour), withPhase(tinyforgev1alpha1.RolloutPhaseAwaitingApproval)),
		newRollout("api-g1", forWorkload("api"), succeeded(digest("c"), time.Hour)),
	}
	c := newFakeClient(objects(nil, rollouts...)...)
	run := func(t *testing.T, revision, output string) (string, string, error) {
		t.Helper()
		streams, _, out, errOut := genericiooptions.NewTestIOStreams()
		o := NewRolloutHistoryOptions(streams)
		o.Namespace, o.Workload, o.Revision, o.Client = "default", "web", revision, c
		o.Now = func() time.Time { return testNow }
		if output != "" {
			*o.PrintFlags.OutputFormat = output
			o.printObjects = true
			p, err := o.PrintFlags.ToPrinter()
			if err != nil {
				t.Fatal(err)
			}
			o.printer = p
		}
		if err := o.Validate(); err != nil {
			t.Fatal(err)
		}
		err := o.Run(context.Background())
		return out.String(), errOut.String(), err
	}

	t.Run("table newest first, other workloads left out", func(t *testing.T) {
		out, _, err := run(t, "", "")
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, l := range strings.Split(strings.TrimSpace(out), "\n")[1:] {
			names = append(names, strings.Fields(l)[0])
		}
		if got := strings.Join(names, " "); got != "web-g3 web-g2 web-g1" {
			t.Errorf("rows %q, want web-g3 web-g2 web-g1:\n%s", got, out)
		}
	})
	t.Run("one in detail", func(t *testing.T) {
		out, _, err := run(t, "web-g2", "")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out, "Name:") || !strings.Contains(out, digest("b")) {
			t.Errorf("description of web-g2:\n%s", out)
		}
	})
	t.Run("one as yaml", func(t *testing.T) {
		out, _, err := run(t, "web-g2", "yaml")
		if err != nil {
			t.Fatal(err)
		}
		var got tinyforgev1alpha1.Rollout
		if err := yaml.Unmarshal([]byte(out), &got); err != nil {
			t.Fatalf("decoding %q: %v", out, err)
		}
		if got.Kind != "Rollout" || got.APIVersion != "tinyforge.dev/v1alpha1" || got.Name != "web-g2" || got.Status.Revision != digest("b") {
			t.Errorf("printed %+v", got)
		}
	})
	t.Run("all as names", func(t *testing.T) {
		out, _, err := run(t, "", "name")
		if err != nil {
			t.Fatal(err)
		}
		if want := "rollout.tinyforge.dev/web-g3\nrollout.tinyforge.dev/web-g2\nrollout.tinyforge.dev/web-g1\n"; out != want {
			t.Errorf("printed %q, want %q", out, want)
		}
	})
	t.Run("unknown rollout", func(t *testing.T) {
		_, _, err := run(t, "api-g1", "")
		if err == nil || !strings.Contains(err.Error(), `has no rollout "api-g1"`) {
			t.Errorf("error %v, want one saying web has no rollout api-g1", err)
		}
	})
	t.Run("no rollouts", func(t *testing.T) {
		streams, _, out, errOut := genericiooptions.NewTestIOStreams()
		o := NewRolloutHistoryOptions(streams)
		o.Namespace, o.Workload, o.Client = "default", "nothing", c
		if err := o.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		if out.Len() != 0 || !strings.Contains(errOut.String(), "No rollouts found for workload nothing") {
			t.Errorf("stdout %q, stderr %q", out, errOut)
		}
	})
}
