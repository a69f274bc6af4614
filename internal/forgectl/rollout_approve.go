package forgectl

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	cmdutil "k8s.io/kubectl/pkg/cmd/util"
	"k8s.io/kubectl/pkg/util/completion"
	"k8s.io/kubectl/pkg/util/templates"
	"sigs.k8s.io/controller-runtime/pkg/client"

	tinyforgev1alpha1 "github.com/tinyforge/tinyforge/api/v1alpha1"
)

var (
	approveLong = templates.LongDesc(`
		Approve the rollout that waits for approval, so it deploys.

		A workload with spec.approval: Manual holds each Rollout in the phase
		AwaitingApproval until its spec.approved is set; approving sets it
		(it cannot be withdrawn). Without --rollout, the rollout approved is
		the newest one AwaitingApproval or, if the controller has not got to
		it yet, the newest one still Pending.`)

	approveExample = templates.Examples(`
		# Approve the rollout of workload web that waits for approval
		forgectl rollout approve workload/web

		# Approve one rollout by name
		forgectl rollout approve workload/web --rollout=web-g4`)
)

// RolloutApproveOptions approves a workload's waiting Rollout.
type RolloutApproveOptions struct {
	// Namespace and Workload name the workload.
	Namespace string
	Workload  string
	// Rollout names the Rollout to approve; empty picks the waiting one.
	Rollout string

	// Client reads and patches Rollouts.
	Client client.Client

	genericiooptions.IOStreams
}

// NewRolloutApproveOptions returns empty options.
func NewRolloutApproveOptions(streams genericiooptions.IOStreams) *RolloutApproveOptions {
	return &RolloutApproveOptions{IOStreams: streams}
}

// NewCmdRolloutApprove returns `rollout approve`.
func NewCmdRolloutApprove(f cmdutil.Factory, streams genericiooptions.IOStreams) *cobra.Command {
	o := NewRolloutApproveOptions(streams)
	cmd := &cobra.Command{
		Use:                   "approve (workload/NAME | NAME) [--rollout=ROLLOUT]",
		DisableFlagsInUseLine: true,
		Short:                 "Approve the rollout of a workload that waits for approval",
		Long:                  approveLong,
		Example:               approveExample,
		ValidArgsFunction:     completion.SpecifiedResourceTypeAndNameNoRepeatCompletionFunc(f, []string{"workload"}),
		Run: func(cmd *cobra.Command, args []string) {
			cmdutil.CheckErr(o.Complete(f, args))
			cmdutil.CheckErr(o.Validate())
			cmdutil.CheckErr(o.Run(cmd.Context()))
		},
	}
	cmd.Flags().StringVar(&o.Rollout, "rollout", o.Rollout, "The rollout to approve; default: the one waiting for approval")
	return cmd
}

// Complete reads the workload from args and builds the client.
func (o *RolloutApproveOptions) Complete(f cmdutil.Factory, args []string) error {
	var err error
	if o.Workload, o.Namespace, err = workloadTarget(f, "rollout approve", args); err != nil {
		return err
	}
	o.Client, err = newClient(f)
	return err
}

// Validate checks the options are usable.
func (o *RolloutApproveOptions) Validate() error {
	if o.Workload == "" {
		return errors.New("a workload is required")
	}
	if o.Client == nil {
		return errors.New("no API client")
	}
	return nil
}

// Run sets spec.approved on the chosen Rollout.
func (o *RolloutApproveOptions) Run(ctx context.Context) error {
	rollouts, err := listRollouts(ctx, o.Client, o.Namespace, o.Workload)
	if err != nil {
		return err
	}
	ro, note, err := approvalTarget(rollouts, o.Rollout)
	if err != nil {
		return fmt.Errorf("approving a rollout of workload %s/%s: %w", o.Namespace, o.Workload, err)
	}
	patch := client.MergeFrom(ro.DeepCopy())
	ro.Spec.Approved = true
	if err := o.Client.Patch(ctx, ro, patch); err != nil {
		return fmt.Errorf("approving rollout %s/%s: %w", o.Namespace, ro.Name, err)
	}
	fmt.Fprintf(o.Out, "rollout.tinyforge.dev/%s approved\n", ro.Name)
	if note != "" {
		fmt.Fprintf(o.ErrOut, "Note: %s\n", note)
	}
	return nil
}

// approvalTarget chooses the Rollout to approve from rollouts, newest first:
// the one named, or the newest AwaitingApproval, or the newest not yet
// picked up. The note warns when a newer pending Rollout will supersede the
// one chosen: the controller deploys only the newest.
func approvalTarget(rollouts []tinyforgev1alpha1.Rollout, name string) (*tinyforgev1alpha1.Rollout, string, error) {
	var target *tinyforgev1alpha1.Rollout
	if name != "" {
		target = findRollout(rollouts, name)
		switch {
		case target == nil:
			return nil, "", fmt.Errorf("no rollout %q of this workload (see forgectl rollout history)", name)
		case target.Status.Phase.IsFinal():
			return nil, "", fmt.Errorf("rollout %q is %s: only a pending rollout can be approved", name, target.Status.Phase)
		case target.Status.Phase == tinyforgev1alpha1.RolloutPhaseDeploying:
			return nil, "", fmt.Errorf("rollout %q is already deploying", name)
		case target.Spec.Approved:
			return nil, "", fmt.Errorf("rollout %q is already approved", name)
		}
	} else {
		target = newestUnapproved(rollouts, tinyforgev1alpha1.RolloutPhaseAwaitingApproval)
		if target == nil {
			target = newestUnapproved(rollouts, "", tinyforgev1alpha1.RolloutPhasePending)
		}
		if target == nil {
			msg := "no rollout awaits approval"
			for i := range rollouts {
				if ro := &rollouts[i]; isPending(ro) && ro.Spec.Approved {
					msg += fmt.Sprintf(" (rollout %q is approved and waits for the controller)", ro.Name)
					break
				}
			}
			return nil, "", errors.New(msg)
		}
	}
	for i := range rollouts {
		ro := &rollouts[i]
		if ro.Name == target.Name {
			break
		}
		if isPending(ro) {
			return target, fmt.Sprintf("rollout %q is newer and pending: the controller will deploy it instead of %q",
				ro.Name, target.Name), nil
		}
	}
	return target, "", nil
}

// newestUnapproved returns the first Rollout of rollouts (newest first) in
// one of phases that is not approved, or nil.
func newestUnapproved(rollouts []tinyforgev1alpha1.Rollout, phases ...tinyforgev1alpha1.RolloutPhase) *tinyforgev1alpha1.Rollout {
	for i := range rollouts {
		ro := &rollouts[i]
		if ro.Spec.Approved {
			continue
		}
		for _, p := range phases {
			if ro.Status.Phase == p {
				return ro
			}
		}
	}
	return nil
}
