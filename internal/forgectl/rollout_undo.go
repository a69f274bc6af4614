package forgectl

import (
	"context"
	"errors"
	"fmt"
	"github.com/tinyforge/tinyforge/plugins"
	"strings"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/cli-runtime/pkg/printers"
	cmdutil "k8s.io/kubectl/pkg/cmd/util"
	"k8s.io/kubectl/pkg/util/completion"
	"k8s.io/kubectl/pkg/util/templates"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	tinyforgev1alpha1 "github.com/tinyforge/tinyforge/api/v1alpha1"
	workloadctrl "github.com/tinyforge/tinyforge/controllers/workload"
)

var (
	undoLong = templates.LongDesc(`
		Roll a workload back to an earlier revision.

		Rolling back creates a new Rollout (reason Rollback) that pins the
		revision an earlier, succeeded Rollout deployed, with that Rollout's
		intent made to deploy exactly that revision again (an image by digest
		rather than by a tag that may have moved). The workload controller
		deploys it like any other Rollout, so manual approval still applies.

		Without --to-revision the target is the newest succeeded Rollout whose
		revision is not the one serving now. With --to-revision=ROLLOUT it is
		that Rollout (see forgectl rollout history).`)

	undoExample = templates.Examples(`
		# Roll workload web back to the revision before the current one
		forgectl rollout undo workload/web

		# Roll back to the revision rollout web-g3 deployed
		forgectl rollout undo workload/web --to-revision=web-g3

		# Show the Rollout that would be created, without creating it
		forgectl rollout undo workload/web --dry-run=client -o yaml`)
)

var (
	// errNothingToUndo is returned when no Rollout holds a revision to go
	// back to.
	errNothingToUndo = errors.New("nothing to roll back to")
	// errAlreadyServing is returned when the named target's revision is the
	// one serving and nothing is about to replace it: there is nothing to do.
	errAlreadyServing = errors.New("revision already serving")
)

// RolloutUndoOptions rolls a workload back to an earlier revision.
type RolloutUndoOptions struct {
	PrintFlags *genericclioptions.PrintFlags
	ToPrinter  func(operation string) (printers.ResourcePrinter, error)

	// Namespace and Workload name the workload.
	Namespace string
	Workload  string
	// ToRevision names the Rollout whose revision to go back to; empty
	// means the previous one.
	ToRevision string
	// DryRunStrategy creates nothing (client) or asks the server to check
	// without storing (server).
	DryRunStrategy cmdutil.DryRunStrategy

	// Client reads the Workload and its Rollouts and creates the rollback.
	Client client.Client

	genericiooptions.IOStreams
}

// NewRolloutUndoOptions returns options with printing set up.
func NewRolloutUndoOptions(streams genericiooptions.IOStreams) *RolloutUndoOptions {
	return &RolloutUndoOptions{
		PrintFlags: genericclioptions.NewPrintFlags("created").WithTypeSetter(scheme()),
		IOStreams:  streams,
	}
}

// NewCmdRolloutUndo returns `rollout undo`.
func NewCmdRolloutUndo(f cmdutil.Factory, streams genericiooptions.IOStreams) *cobra.Command {
	o := NewRolloutUndoOptions(streams)
	cmd := &cobra.Command{
		Use:                   "undo (workload/NAME | NAME) [--to-revision=ROLLOUT]",
		DisableFlagsInUseLine: true,
		Short:                 "Roll a workload back to an earlier revision",
		Long:                  undoLong,
		Example:               undoExample,
		ValidArgsFunction:     completion.SpecifiedResourceTypeAndNameNoRepeatCompletionFunc(f, []string{"workload"}),
		Run: func(cmd *cobra.Command, args []string) {
			cmdutil.CheckErr(o.Complete(f, cmd, args))
			cmdutil.CheckErr(o.Validate())
			cmdutil.CheckErr(o.Run(cmd.Context()))
		},
	}
	cmd.Flags().StringVar(&o.ToRevision, "to-revision", o.ToRevision,
		"The rollout whose revision to roll back to; default: the previous revision")
	cmdutil.AddDryRunFlag(cmd)
	o.PrintFlags.AddFlags(cmd)
	return cmd
}

// Complete reads the workload from args and builds the client and printer.
func (o *RolloutUndoOptions) Complete(f cmdutil.Factory, cmd *cobra.Command, args []string) error {
	var err error
	if o.Workload, o.Namespace, err = workloadTarget(f, "rollout undo", args); err != nil {
		return err
	}
	if o.DryRunStrategy, err = cmdutil.GetDryRunStrategy(cmd); err != nil {
		return err
	}
	o.ToPrinter = func(operation string) (printers.ResourcePrinter, error) {
		o.PrintFlags.NamePrintFlags.Operation = operation
		cmdutil.PrintFlagsWithDryRunStrategy(o.PrintFlags, o.DryRunStrategy)
		return o.PrintFlags.ToPrinter()
	}
	o.Client, err = newClient(f)
	return err
}

// Validate checks the options are usable.
func (o *RolloutUndoOptions) Validate() error {
	if o.Workload == "" {
		return errors.New("a workload is required")
	}
	if o.Client == nil {
		return errors.New("no API client")
	}
	return nil
}

// Run creates the rollback Rollout and says what it rolls back to.
func (o *RolloutUndoOptions) Run(ctx context.Context) error {
	w := &tinyforgev1alpha1.Workload{}
	err := o.Client.Get(ctx, client.ObjectKey{Namespace: o.Namespace, Name: o.Workload}, w)
	switch {
	case apierrors.IsNotFound(err):
		w = nil
	case err != nil:
		return fmt.Errorf("reading workload %s/%s: %w", o.Namespace, o.Workload, err)
	}
	rollouts, err := listRollouts(ctx, o.Client, o.Namespace, o.Workload)
	if err != nil {
		return err
	}
	if w == nil {
		if len(rollouts) == 0 {
			return fmt.Errorf("workload %q not found in namespace %q", o.Workload, o.Namespace)
		}
		fmt.Fprintf(o.ErrOut, "Warning: workload %s/%s not found; its rollback waits until it exists\n", o.Namespace, o.Workload)
	}
	current := currentRevision(w, rollouts)
	target, err := undoTarget(rollouts, current, o.ToRevision)
	if errors.Is(err, errAlreadyServing) {
		fmt.Fprintf(o.Out, "workload/%s skipped rollback: %v\n", o.Workload, err)
		return nil
	}
	if err != nil {
		return fmt.Errorf("rolling back workload %s/%s: %w", o.Namespace, o.Workload, err)
	}
	ro := rollbackRollout(o.Workload, w, target)
	ro.Namespace = o.Namespace
	if o.DryRunStrategy != cmdutil.DryRunClient {
		var opts []client.CreateOption
		if o.DryRunStrategy == cmdutil.DryRunServer {
			opts = append(opts, client.DryRunAll)
		}
		if err := o.Client.Create(ctx, ro, opts...); err != nil {
			return fmt.Errorf("creating the rollback rollout for workload %s/%s: %w", o.Namespace, o.Workload, err)
		}
	}
	if *o.PrintFlags.OutputFormat != "" {
		p, err := o.ToPrinter("created")
		if err != nil {
			return err
		}
		return p.PrintObj(ro, o.Out)
	}
	name := ro.Name
	if name == "" {
		name = ro.GenerateName + "<generated>"
	}
	suffix := ""
	switch o.DryRunStrategy {
	case cmdutil.DryRunClient:
		suffix = " (dry run)"
	case cmdutil.DryRunServer:
		suffix = " (server dry run)"
	}
	fmt.Fprintf(o.Out, "rollout.tinyforge.dev/%s created%s: workload/%s rolls back to revision %s (from rollout %s)\n",
		name, suffix, o.Workload, ro.Spec.Revision, target.Name)
	return nil
}

// currentRevision is the revision serving now: the Workload's record of it,
// or, without a Workload, that of the newest Rollout that succeeded (the
// controller serves what it deployed last).
func currentRevision(w *tinyforgev1alpha1.Workload, rollouts []tinyforgev1alpha1.Rollout) string {
	if w != nil {
		return w.Status.CurrentRevision
	}
	for i := range rollouts {
		if rollouts[i].Status.Phase == tinyforgev1alpha1.RolloutPhaseSucceeded {
			return rollouts[i].Status.Revision
		}
	}
	return ""
}

// undoTarget chooses the Rollout whose revision to roll back to, from
// rollouts newest first: the one named toRollout, or else the newest
// succeeded one that deployed a revision other than current.
func undoTarget(rollouts []tinyforgev1alpha1.Rollout, current, toRollout string) (*tinyforgev1alpha1.Rollout, error) {
	if toRollout != "" {
		ro := findRollout(rollouts, toRollout)
		switch {
		case ro == nil:
			return nil, fmt.Errorf("no rollout %q of this workload (see forgectl rollout history)", toRollout)
		case ro.Status.Phase != tinyforgev1alpha1.RolloutPhaseSucceeded:
			return nil, fmt.Errorf("rollout %q is %s: roll back only to a revision that deployed", ro.Name, phaseOf(ro))
		case ro.Status.Revision == "":
			return nil, fmt.Errorf("rollout %q recorded no revision", ro.Name)
		case ro.Status.Revision == current && !anyPending(rollouts):
			return nil, fmt.Errorf("%w: rollout %q deployed revision %s, which serves now", errAlreadyServing, ro.Name, current)
		}
		return ro, nil
	}
	for i := range rollouts {
		ro := &rollouts[i]
		if ro.Status.Phase == tinyforgev1alpha1.RolloutPhaseSucceeded && ro.Status.Revision != "" && ro.Status.Revision != current {
			return ro, nil
		}
	}
	if current == "" {
		return nil, fmt.Errorf("%w: no rollout of this workload has succeeded", errNothingToUndo)
	}
	return nil, fmt.Errorf("%w: no succeeded rollout deployed a revision other than %s, which serves now", errNothingToUndo, current)
}

func anyPending(rollouts []tinyforgev1alpha1.Rollout) bool {
	for i := range rollouts {
		if isPending(&rollouts[i]) {
			return true
		}
	}
	return false
}

// rollbackRollout builds the Rollout that deploys target's revision again
// for the workload called name (w, when it exists, owns it).
func rollbackRollout(name string, w *tinyforgev1alpha1.Workload, target *tinyforgev1alpha1.Rollout) *tinyforgev1alpha1.Rollout {
	ro := &tinyforgev1alpha1.Rollout{
		ObjectMeta: metav1.ObjectMeta{
			GenerateName: name + "-undo-",
			Labels:       map[string]string{workloadctrl.LabelWorkload: name},
		},
		Spec: tinyforgev1alpha1.RolloutSpec{
			WorkloadRef: tinyforgev1alpha1.LocalObjectReference{Name: name},
			Revision:    target.Status.Revision,
			Reason:      tinyforgev1alpha1.CauseRollback,
			Intent:      rollbackIntent(target),
		},
	}
	ro.SetGroupVersionKind(tinyforgev1alpha1.GroupVersion.WithKind(tinyforgev1alpha1.KindRollout))
	if w != nil {
		ro.Namespace = w.Namespace
		// As the controller does for the Rollouts it creates.
		ro.OwnerReferences = []metav1.OwnerReference{{
			APIVersion:         tinyforgev1alpha1.GroupVersion.String(),
			Kind:               tinyforgev1alpha1.KindWorkload,
			Name:               w.Name,
			UID:                w.UID,
			Controller:         ptr.To(true),
			BlockOwnerDeletion: ptr.To(true),
		}}
	}
	return ro
}

// rollbackIntent is target's intent made to deploy exactly target's
// revision. Sources read the image from the intent before the revision, so
// an image by tag (which may have moved since) must not stay:
//   - an image digest is kept as <repository>@<digest> when the target's
//     image named that digest (a registry digest of that repository, as a
//     registry trigger resolves it); otherwise the image is dropped and the
//     source resolves spec.revision, which may also be the ID of an image
//     never pushed to a registry, that no <repository>@ form can name;
//   - a git commit becomes the commit of a git intent.
func rollbackIntent(target *tinyforgev1alpha1.Rollout) *tinyforgev1alpha1.DeploymentIntent {
	in := tinyforgev1alpha1.DeploymentIntent{}
	if target.Spec.Intent != nil {
		in = *target.Spec.Intent.DeepCopy()
	}
	rev := target.Status.Revision
	switch {
	case plugins.IsDigest(rev):
		image := in.Image
		in.Image = ""
		if _, d, ok := strings.Cut(image, "@"); ok && d == rev {
			in.Image = imageRepository(image) + "@" + rev
		}
	case plugins.IsHex(rev) && (in.GitURL != "" || in.GitCommit != ""):
		in.GitCommit = rev
	}
	if in == (tinyforgev1alpha1.DeploymentIntent{}) {
		return nil
	}
	return &in
}

// imageRepository is the repository of an image reference
// repository[:tag][@digest], read as the workload controller reads it: the
// tag's colon is the last one after the last slash, so a registry's port
// stays in the repository.
func imageRepository(ref string) string {
	if at := strings.Index(ref, "@"); at >= 0 {
		ref = ref[:at]
	}
	slash := strings.LastIndex(ref, "/")
	if colon := strings.LastIndex(ref, ":"); colon > slash {
		ref = ref[:colon]
	}
	return ref
}
