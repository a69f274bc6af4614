package forgectl

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	cmdutil "k8s.io/kubectl/pkg/cmd/util"
	"k8s.io/kubectl/pkg/util/completion"
	"k8s.io/kubectl/pkg/util/templates"
	"sigs.k8s.io/controller-runtime/pkg/client"

	tinyforgev1alpha1 "github.com/tinyforge/tinyforge/api/v1alpha1"
	workloadctrl "github.com/tinyforge/tinyforge/controllers/workload"
)

var (
	statusLong = templates.LongDesc(`
		Show the status of a workload's rollout.

		By default 'rollout status' watches the workload until its newest
		rollout has deployed: it exits 0 once the workload is Ready for its
		current generation with no rollout pending, and non-zero with the
		controller's message once the workload is Stalled (for example after
		a failed deploy; the previous revision keeps serving). A rollout that
		waits for approval is waited for. With --watch=false, print the
		current state once and exit 0 unless the workload is Stalled.`)

	statusExample = templates.Examples(`
		# Watch the rollout of workload web until it is done
		forgectl rollout status workload/web

		# Give up after five minutes
		forgectl rollout status workload/web --timeout=5m

		# Print the current state and exit
		forgectl rollout status workload/web --watch=false`)
)

// statusResync is how often status looks again even when no watch event
// came, in case a watch broke without saying so.
const statusResync = 5 * time.Second

// RolloutStatusOptions watches a workload until its rollout is done.
type RolloutStatusOptions struct {
	// Namespace and Workload name the workload.
	Namespace string
	Workload  string
	// Watch keeps watching until the rollout is done or stalled.
	Watch bool
	// Timeout bounds the watch; zero means no bound.
	Timeout time.Duration

	// Client reads the Workload and its Rollouts, and watches them.
	Client client.WithWatch

	genericiooptions.IOStreams
}

// NewRolloutStatusOptions returns options that watch without a timeout.
func NewRolloutStatusOptions(streams genericiooptions.IOStreams) *RolloutStatusOptions {
	return &RolloutStatusOptions{Watch: true, IOStreams: streams}
}

// NewCmdRolloutStatus returns `rollout status`.
func NewCmdRolloutStatus(f cmdutil.Factory, streams genericiooptions.IOStreams) *cobra.Command {
	o := NewRolloutStatusOptions(streams)
	cmd := &cobra.Command{
		Use:                   "status (workload/NAME | NAME) [--watch=false] [--timeout=DURATION]",
		DisableFlagsInUseLine: true,
		Short:                 "Show the status of a workload's rollout",
		Long:                  statusLong,
		Example:               statusExample,
		ValidArgsFunction:     completion.SpecifiedResourceTypeAndNameNoRepeatCompletionFunc(f, []string{"workload"}),
		Run: func(cmd *cobra.Command, args []string) {
			cmdutil.CheckErr(o.Complete(f, args))
			cmdutil.CheckErr(o.Validate())
			cmdutil.CheckErr(o.Run(cmd.Context()))
		},
	}
	cmd.Flags().BoolVarP(&o.Watch, "watch", "w", o.Watch, "Watch the rollout until it is done or stalled")
	cmd.Flags().DurationVar(&o.Timeout, "timeout", o.Timeout,
		"How long to watch before giving up (e.g. 30s, 5m); zero means no limit")
	return cmd
}

// Complete reads the workload from args and builds the client.
func (o *RolloutStatusOptions) Complete(f cmdutil.Factory, args []string) error {
	var err error
	if o.Workload, o.Namespace, err = workloadTarget(f, "rollout status", args); err != nil {
		return err
	}
	o.Client, err = newClient(f)
	return err
}

// Validate checks the options are usable.
func (o *RolloutStatusOptions) Validate() error {
	if o.Workload == "" {
		return errors.New("a workload is required")
	}
	if o.Timeout < 0 {
		return fmt.Errorf("--timeout must not be negative, got %v", o.Timeout)
	}
	if o.Client == nil {
		return errors.New("no API client")
	}
	return nil
}

// Run prints the state of the rollout each time it changes, until it is
// done, stalled, or the timeout passes.
func (o *RolloutStatusOptions) Run(ctx context.Context) error {
	if ctx == nil {
		ctx = context.Background()
	}
	if o.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.Timeout)
		defer cancel()
	}
	var wake <-chan struct{}
	if o.Watch {
		// Watch before the first look, so no change slips between them.
		wctx, stop := context.WithCancel(ctx)
		defer stop()
		wake = o.watch(wctx)
	}
	last := ""
	for {
		st, err := o.check(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return o.timedOut(last)
			}
			return err
		}
		if st.err != nil {
			// Printed once, as the error.
			return st.err
		}
		if st.message != last {
			fmt.Fprintln(o.Out, st.message)
			last = st.message
		}
		if st.done || !o.Watch {
			return nil
		}
		select {
		case <-ctx.Done():
			return o.timedOut(last)
		case <-wake:
		case <-time.After(statusResync):
		}
	}
}

func (o *RolloutStatusOptions) timedOut(last string) error {
	return fmt.Errorf("timed out after %v waiting for the rollout of workload %s/%s; last status: %s",
		o.Timeout, o.Namespace, o.Workload, last)
}

// check reads the workload and its rollouts and evaluates them.
func (o *RolloutStatusOptions) check(ctx context.Context) (rolloutStatus, error) {
	w, err := getWorkload(ctx, o.Client, o.Namespace, o.Workload)
	if err != nil {
		return rolloutStatus{}, err
	}
	rollouts, err := listRollouts(ctx, o.Client, o.Namespace, o.Workload)
	if err != nil {
		return rolloutStatus{}, err
	}
	return evaluateStatus(w, rollouts), nil
}

// watch returns a channel that receives (at most one pending) value whenever
// the workload or one of its rollouts changes, until ctx ends. Broken
// watches are opened again; Run's resync covers the gap.
func (o *RolloutStatusOptions) watch(ctx context.Context) <-chan struct{} {
	wake := make(chan struct{}, 1)
	follow := func(list client.ObjectList, opts ...client.ListOption) {
		for ctx.Err() == nil {
			w, err := o.Client.Watch(ctx, list, opts...)
			if err != nil {
				select {
				case <-ctx.Done():
				case <-time.After(time.Second):
				}
				continue
			}
			for range w.ResultChan() {
				select {
				case wake <- struct{}{}:
				default:
				}
			}
			w.Stop()
		}
	}
	go follow(&tinyforgev1alpha1.WorkloadList{}, client.InNamespace(o.Namespace),
		client.MatchingFieldsSelector{Selector: fields.OneTermEqualSelector("metadata.name", o.Workload)})
	go follow(&tinyforgev1alpha1.RolloutList{}, client.InNamespace(o.Namespace),
		client.MatchingLabels{workloadctrl.LabelWorkload: o.Workload})
	return wake
}

// rolloutStatus is one evaluation of a workload's rollout.
type rolloutStatus struct {
	// message is one line for people.
	message string
	// done is set when the newest rollout has deployed and the workload
	// is Ready.
	done bool
	// err is set when the rollout failed or cannot progress.
	err error
}

// evaluateStatus decides from a workload and its rollouts (newest first)
// whether its rollout is done, still going, or failed.
//
// The newest rollout that was not superseded decides, since the workload's
// conditions, written after it, may still describe an earlier failure
// (right after `rollout undo`, say, or while the rollback deploys): a
// Stalled condition from a failed deploy fails the wait only when the
// newest rollout is the one that failed. A stall that has nothing to do
// with a deploy (an unknown source kind) fails it at once: no rollout can
// start.
func evaluateStatus(w *tinyforgev1alpha1.Workload, rollouts []tinyforgev1alpha1.Rollout) rolloutStatus {
	name := w.Name
	if w.DeletionTimestamp != nil {
		msg := fmt.Sprintf("workload %q is being deleted", name)
		return rolloutStatus{message: msg, err: errors.New(msg)}
	}
	if w.Status.ObservedGeneration < w.Generation {
		return rolloutStatus{message: fmt.Sprintf("Waiting for workload %q generation %d to be observed (observed %d)...",
			name, w.Generation, w.Status.ObservedGeneration)}
	}
	stalled := meta.FindStatusCondition(w.Status.Conditions, tinyforgev1alpha1.ConditionStalled)
	isStalled := stalled != nil && stalled.Status == metav1.ConditionTrue
	var latest *tinyforgev1alpha1.Rollout
	for i := range rollouts {
		if rollouts[i].Status.Phase != tinyforgev1alpha1.RolloutPhaseSuperseded {
			latest = &rollouts[i]
			break
		}
	}
	deployStall := isStalled && (stalled.Reason == tinyforgev1alpha1.WorkloadReasonDeployFailed ||
		stalled.Reason == tinyforgev1alpha1.WorkloadReasonHealthCheckFailed ||
		stalled.Reason == tinyforgev1alpha1.WorkloadReasonProgressDeadlineExceeded)
	stalledStatus := func() rolloutStatus {
		msg := fmt.Sprintf("workload %q is stalled (%s): %s", name, stalled.Reason, stalled.Message)
		return rolloutStatus{message: msg, err: errors.New(msg)}
	}
	if isStalled && !deployStall {
		return stalledStatus()
	}
	if latest != nil && isPending(latest) {
		return rolloutStatus{message: pendingMessage(w, latest)}
	}
	if latest != nil && latest.Status.Phase == tinyforgev1alpha1.RolloutPhaseFailed {
		if deployStall {
			return stalledStatus()
		}
		// The workload's Stalled condition is written just after the
		// Rollout's phase; the Rollout already says enough.
		msg := fmt.Sprintf("rollout %q of workload %q failed (revision %s): %s",
			latest.Name, name, orDash(revisionOf(latest)), latest.Status.Message)
		return rolloutStatus{message: msg, err: errors.New(msg)}
	}
	if deployStall && latest == nil {
		return stalledStatus()
	}
	if latest != nil && latest.Status.Phase == tinyforgev1alpha1.RolloutPhaseSucceeded &&
		(deployStall || latest.Status.Revision != "" && latest.Status.Revision != w.Status.CurrentRevision) {
		// Likewise the workload's record of what serves, written last:
		// until it names the new revision (and drops the stall of an
		// earlier failure), its conditions are about the old one.
		return rolloutStatus{message: fmt.Sprintf("Waiting for workload %q to record revision %s of rollout %q...",
			name, orDash(latest.Status.Revision), latest.Name)}
	}
	ready := meta.FindStatusCondition(w.Status.Conditions, tinyforgev1alpha1.ConditionReady)
	reconciling := meta.IsStatusConditionTrue(w.Status.Conditions, tinyforgev1alpha1.ConditionReconciling)
	if ready != nil && ready.Status == metav1.ConditionTrue && !reconciling &&
		(ready.ObservedGeneration == 0 || ready.ObservedGeneration == w.Generation) {
		msg := fmt.Sprintf("workload %q successfully rolled out", name)
		if w.Status.CurrentRevision != "" {
			msg += ": revision " + w.Status.CurrentRevision + " is serving"
		}
		return rolloutStatus{message: msg, done: true}
	}
	if ready == nil {
		return rolloutStatus{message: fmt.Sprintf("Waiting for workload %q to report its status...", name)}
	}
	if ready.Reason == tinyforgev1alpha1.ReasonSuspended {
		return rolloutStatus{message: fmt.Sprintf("Waiting for workload %q: it is suspended (spec.suspend)...", name)}
	}
	return rolloutStatus{message: fmt.Sprintf("Waiting for workload %q: %s: %s...", name, ready.Reason, ready.Message)}
}

// pendingMessage says what a pending rollout waits for, adding what the
// controller says it is doing (its Reconciling message) when it says so.
func pendingMessage(w *tinyforgev1alpha1.Workload, ro *tinyforgev1alpha1.Rollout) string {
	doing := ""
	// Once approved, a message about waiting for approval is stale.
	if c := meta.FindStatusCondition(w.Status.Conditions, tinyforgev1alpha1.ConditionReconciling); c != nil &&
		c.Status == metav1.ConditionTrue && c.Message != "" && c.Reason != tinyforgev1alpha1.WorkloadReasonAwaitingApproval {
		doing = ": " + c.Message
	}
	switch {
	case w.Spec.Suspend:
		return fmt.Sprintf("Waiting for rollout %q: workload %q is suspended (spec.suspend); rollouts wait until it is resumed...",
			ro.Name, w.Name)
	case ro.Status.Phase == tinyforgev1alpha1.RolloutPhaseAwaitingApproval && !ro.Spec.Approved:
		return fmt.Sprintf("Waiting for rollout %q to be approved (forgectl rollout approve workload/%s -n %s)...",
			ro.Name, w.Name, w.Namespace)
	case ro.Status.Phase == tinyforgev1alpha1.RolloutPhaseDeploying:
		return fmt.Sprintf("Waiting for rollout %q to finish%s...", ro.Name, doing)
	default:
		return fmt.Sprintf("Waiting for rollout %q to start%s...", ro.Name, doing)
	}
}
