package forgectl

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/duration"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/cli-runtime/pkg/printers"
	cmdutil "k8s.io/kubectl/pkg/cmd/util"
	"k8s.io/kubectl/pkg/util/completion"
	"k8s.io/kubectl/pkg/util/templates"
	"sigs.k8s.io/controller-runtime/pkg/client"

	tinyforgev1alpha1 "github.com/tinyforge/tinyforge/api/v1alpha1"
)

// maxMessageWidth is how much of a Rollout's message the history table shows.
const maxMessageWidth = 60

var (
	historyLong = templates.LongDesc(`
		List the rollouts of a workload, newest first.

		REVISION is what the rollout deployed (status.revision) or, before it
		resolved one, the revision it pins (spec.revision). STARTED and
		DURATION tell when the deploy started and how long it took (or has
		taken so far). With --revision=ROLLOUT, show that rollout in detail,
		or with -o, print it as an object.`)

	historyExample = templates.Examples(`
		# List the rollouts of workload web
		forgectl rollout history workload/web

		# Show one rollout in detail
		forgectl rollout history workload/web --revision=web-g3

		# Print one rollout as YAML
		forgectl rollout history workload/web --revision=web-g3 -o yaml`)
)

// RolloutHistoryOptions lists a workload's Rollouts or shows one.
type RolloutHistoryOptions struct {
	PrintFlags *genericclioptions.PrintFlags

	// Namespace and Workload name the workload.
	Namespace string
	Workload  string
	// Revision names one Rollout to show; empty lists them all.
	Revision string

	// Client reads Rollouts.
	Client client.Reader
	// Now is the clock ages are computed against.
	Now func() time.Time

	// printObjects is set when -o (or --template) asks for objects rather
	// than the table or the description.
	printObjects bool
	printer      printers.ResourcePrinter

	genericiooptions.IOStreams
}

// NewRolloutHistoryOptions returns options with printing set up.
func NewRolloutHistoryOptions(streams genericiooptions.IOStreams) *RolloutHistoryOptions {
	return &RolloutHistoryOptions{
		PrintFlags: genericclioptions.NewPrintFlags("").WithTypeSetter(scheme()),
		Now:        time.Now,
		IOStreams:  streams,
	}
}

// NewCmdRolloutHistory returns `rollout history`.
func NewCmdRolloutHistory(f cmdutil.Factory, streams genericiooptions.IOStreams) *cobra.Command {
	o := NewRolloutHistoryOptions(streams)
	cmd := &cobra.Command{
		Use:                   "history (workload/NAME | NAME) [--revision=ROLLOUT] [-o FORMAT]",
		DisableFlagsInUseLine: true,
		Short:                 "List a workload's rollouts, newest first",
		Long:                  historyLong,
		Example:               historyExample,
		ValidArgsFunction:     completion.SpecifiedResourceTypeAndNameNoRepeatCompletionFunc(f, []string{"workload"}),
		Run: func(cmd *cobra.Command, args []string) {
			cmdutil.CheckErr(o.Complete(f, args))
			cmdutil.CheckErr(o.Validate())
			cmdutil.CheckErr(o.Run(cmd.Context()))
		},
	}
	cmd.Flags().StringVar(&o.Revision, "revision", o.Revision, "Show the rollout of this name in detail")
	o.PrintFlags.AddFlags(cmd)
	return cmd
}

// Complete reads the workload from args and builds the client and printer.
func (o *RolloutHistoryOptions) Complete(f cmdutil.Factory, args []string) error {
	var err error
	if o.Workload, o.Namespace, err = workloadTarget(f, "rollout history", args); err != nil {
		return err
	}
	if o.Client, err = newClient(f); err != nil {
		return err
	}
	o.printObjects = *o.PrintFlags.OutputFormat != "" ||
		(o.PrintFlags.TemplatePrinterFlags.TemplateArgument != nil && *o.PrintFlags.TemplatePrinterFlags.TemplateArgument != "")
	if o.printObjects {
		if o.printer, err = o.PrintFlags.ToPrinter(); err != nil {
			return err
		}
	}
	return nil
}

// Validate checks the options are usable.
func (o *RolloutHistoryOptions) Validate() error {
	if o.Workload == "" {
		return errors.New("a workload is required")
	}
	if o.Client == nil {
		return errors.New("no API client")
	}
	return nil
}

// Run prints the history, one rollout's description, or objects.
func (o *RolloutHistoryOptions) Run(ctx context.Context) error {
	rollouts, err := listRollouts(ctx, o.Client, o.Namespace, o.Workload)
	if err != nil {
		return err
	}
	if o.Revision != "" {
		ro := findRollout(rollouts, o.Revision)
		if ro == nil {
			return fmt.Errorf("workload %s/%s has no rollout %q (see forgectl rollout history workload/%s)",
				o.Namespace, o.Workload, o.Revision, o.Workload)
		}
		if o.printObjects {
			return o.printer.PrintObj(ro, o.Out)
		}
		return describeRollout(o.Out, ro, o.Now())
	}
	if o.printObjects {
		list, err := asList(rollouts)
		if err != nil {
			return err
		}
		return o.printer.PrintObj(list, o.Out)
	}
	if len(rollouts) == 0 {
		fmt.Fprintf(o.ErrOut, "No rollouts found for workload %s in namespace %s.\n", o.Workload, o.Namespace)
		return nil
	}
	return printHistory(o.Out, rollouts, o.Now())
}

// asList is rollouts as `kubectl get -o` prints several objects: a v1 List
// of objects that each carry their kind, which every printer takes.
func asList(rollouts []tinyforgev1alpha1.Rollout) (*unstructured.UnstructuredList, error) {
	list := &unstructured.UnstructuredList{}
	list.SetAPIVersion("v1")
	list.SetKind("List")
	for i := range rollouts {
		ro := rollouts[i].DeepCopy()
		ro.SetGroupVersionKind(tinyforgev1alpha1.GroupVersion.WithKind(tinyforgev1alpha1.KindRollout))
		u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(ro)
		if err != nil {
			return nil, fmt.Errorf("converting rollout %s: %w", ro.Name, err)
		}
		list.Items = append(list.Items, unstructured.Unstructured{Object: u})
	}
	return list, nil
}

// findRollout returns the Rollout called name, or nil.
func findRollout(rollouts []tinyforgev1alpha1.Rollout, name string) *tinyforgev1alpha1.Rollout {
	for i := range rollouts {
		if rollouts[i].Name == name {
			return &rollouts[i]
		}
	}
	return nil
}

// printHistory writes the history table of rollouts, in the order given.
func printHistory(out io.Writer, rollouts []tinyforgev1alpha1.Rollout, now time.Time) error {
	w := printers.GetNewTabWriter(out)
	fmt.Fprintln(w, "NAME\tREASON\tREVISION\tPHASE\tSTARTED\tDURATION\tMESSAGE")
	for i := range rollouts {
		ro := &rollouts[i]
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n",
			ro.Name, orDash(string(ro.Spec.Reason)), orDash(revisionOf(ro)), phaseOf(ro),
			started(ro, now), deployDuration(ro, now), orDash(truncate(ro.Status.Message, maxMessageWidth)))
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("writing the history: %w", err)
	}
	return nil
}

// started is how long ago the deploy started, or "-" when it has not.
func started(ro *tinyforgev1alpha1.Rollout, now time.Time) string {
	if ro.Status.StartTime == nil {
		return "-"
	}
	return duration.HumanDuration(now.Sub(ro.Status.StartTime.Time)) + " ago"
}

// deployDuration is how long the deploy took, or has taken while it still
// runs; "-" when it never started.
func deployDuration(ro *tinyforgev1alpha1.Rollout, now time.Time) string {
	start := ro.Status.StartTime
	if start == nil {
		return "-"
	}
	end := now
	if ro.Status.CompletionTime != nil {
		end = ro.Status.CompletionTime.Time
	} else if ro.Status.Phase.IsFinal() {
		return "-"
	}
	return duration.HumanDuration(end.Sub(start.Time))
}

// truncate shortens s to max runes on one line, marking a cut with "...".
func truncate(s string, max int) string {
	s = strings.Join(strings.Fields(s), " ")
	r := []rune(s)
	if len(r) <= max {
		return s
	}
	return string(r[:max-3]) + "..."
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// describeRollout writes everything a person wants to know about one
// Rollout, in the layout of kubectl describe.
func describeRollout(out io.Writer, ro *tinyforgev1alpha1.Rollout, now time.Time) error {
	w := printers.GetNewTabWriter(out)
	field := func(indent int, name, value string) {
		fmt.Fprintf(w, "%s%s:\t%s\n", strings.Repeat("  ", indent), name, value)
	}
	timestamp := func(t *metav1.Time) string {
		if t == nil {
			return "<none>"
		}
		return fmt.Sprintf("%s (%s ago)", t.UTC().Format(time.RFC3339), duration.HumanDuration(now.Sub(t.Time)))
	}
	orNone := func(s string) string {
		if s == "" {
			return "<none>"
		}
		return s
	}

	field(0, "Name", ro.Name)
	field(0, "Namespace", ro.Namespace)
	field(0, "Workload", ro.Spec.WorkloadRef.Name)
	field(0, "Reason", string(ro.Spec.Reason))
	field(0, "Phase", string(phaseOf(ro)))
	field(0, "Revision", orNone(ro.Status.Revision))
	field(0, "Pinned Revision", orNone(ro.Spec.Revision))
	field(0, "Previous Revision", orNone(ro.Status.PreviousRevision))
	field(0, "Approved", fmt.Sprint(ro.Spec.Approved))
	if ro.Spec.EventRef != nil {
		field(0, "Event", ro.Spec.EventRef.Name)
	}
	if in := ro.Spec.Intent; in != nil {
		fmt.Fprintln(w, "Intent:")
		for _, f := range []struct{ name, value string }{
			{"Image", in.Image}, {"Git URL", in.GitURL}, {"Git Ref", in.GitRef},
			{"Git Commit", in.GitCommit}, {"Config Hash", in.ConfigHash},
		} {
			if f.value != "" {
				field(1, f.name, f.value)
			}
		}
	}
	field(0, "Created", timestamp(&ro.CreationTimestamp))
	field(0, "Started", timestamp(ro.Status.StartTime))
	field(0, "Completed", timestamp(ro.Status.CompletionTime))
	field(0, "Duration", deployDuration(ro, now))
	field(0, "Message", orNone(ro.Status.Message))
	if len(ro.Status.Services) > 0 {
		fmt.Fprintln(w, "Services:")
		for _, s := range ro.Status.Services {
			field(1, s.Name, string(s.Action))
		}
	}
	if len(ro.Status.Conditions) > 0 {
		fmt.Fprintln(w, "Conditions:")
		fmt.Fprintln(w, "  TYPE\tSTATUS\tREASON\tMESSAGE")
		for _, c := range ro.Status.Conditions {
			fmt.Fprintf(w, "  %s\t%s\t%s\t%s\n", c.Type, c.Status, orDash(c.Reason), orDash(c.Message))
		}
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("writing rollout %s: %w", ro.Name, err)
	}
	return nil
}
