package forgectl

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	cmdutil "k8s.io/kubectl/pkg/cmd/util"
	"k8s.io/kubectl/pkg/util/completion"
	"k8s.io/kubectl/pkg/util/templates"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	tinyforgev1alpha1 "github.com/tinyforge/tinyforge/api/v1alpha1"
	"github.com/tinyforge/tinyforge/internal/inbound"
	"github.com/tinyforge/tinyforge/plugins"
)

var (
	deployLong = templates.LongDesc(`
		Deploy a workload now, by hand.

		When a manual trigger is bound to the workload, this creates a manual
		Event for it: the trigger decides what to deploy, the Event records
		who asked and why, and 'forgectl get events.tinyforge.dev' shows the
		outcome. Without one, it creates a Rollout directly. Without
		--revision the workload's current spec is deployed again (an image
		is pulled again, a branch fetched again).`)

	deployExample = templates.Examples(`
		# Redeploy workload web's current spec
		forgectl deploy workload/web --reason "pick up the new base image"

		# Deploy one revision (an image digest or a git commit)
		forgectl deploy workload/web --revision sha256:4f5e…`)
)

// DeployOptions deploy a workload by hand.
type DeployOptions struct {
	Namespace, Workload string
	// Revision to deploy; empty redeploys the current spec.
	Revision string
	// Reason recorded in the Event or Rollout.
	Reason string
	// Trigger chooses among several bound manual triggers.
	Trigger string

	Client client.Client
	// Now returns the current time; time.Now when nil.
	Now func() time.Time

	genericiooptions.IOStreams
}

// NewCmdDeploy returns `deploy`.
func NewCmdDeploy(f cmdutil.Factory, streams genericiooptions.IOStreams) *cobra.Command {
	o := &DeployOptions{IOStreams: streams}
	cmd := &cobra.Command{
		Use:                   "deploy (workload/NAME | NAME) [--revision=REVISION] [--reason=TEXT]",
		DisableFlagsInUseLine: true,
		Short:                 "Deploy a workload now, through its manual trigger",
		Long:                  deployLong,
		Example:               deployExample,
		ValidArgsFunction:     completion.SpecifiedResourceTypeAndNameNoRepeatCompletionFunc(f, []string{"workload"}),
		Run: func(cmd *cobra.Command, args []string) {
			cmdutil.CheckErr(o.Complete(f, args))
			cmdutil.CheckErr(o.Validate())
			cmdutil.CheckErr(o.Run(cmd.Context()))
		},
	}
	cmd.Flags().StringVar(&o.Revision, "revision", o.Revision, "Revision to deploy (an image digest, a git commit); default: the current spec again")
	cmd.Flags().StringVar(&o.Reason, "reason", o.Reason, "Why, for the history")
	cmd.Flags().StringVar(&o.Trigger, "trigger", o.Trigger, "Manual trigger to use when several are bound to the workload")
	return cmd
}

// Complete reads the workload and builds the client.
func (o *DeployOptions) Complete(f cmdutil.Factory, args []string) error {
	var err error
	if o.Workload, o.Namespace, err = workloadTarget(f, "deploy", args); err != nil {
		return err
	}
	o.Client, err = newClient(f)
	return err
}

// Validate checks the options.
func (o *DeployOptions) Validate() error {
	if o.Workload == "" {
		return errors.New("a workload is required")
	}
	if len(o.Revision) > plugins.MaxRevisionLength || strings.ContainsAny(o.Revision, " \t\n") {
		return fmt.Errorf("--revision %q is not a revision", o.Revision)
	}
	if len(o.Reason) > 1024 {
		return errors.New("--reason is longer than 1024 bytes")
	}
	if o.Client == nil {
		return errors.New("no API client")
	}
	return nil
}

// Run creates the manual Event, or the Rollout when no manual trigger is
// bound.
func (o *DeployOptions) Run(ctx context.Context) error {
	if o.Now == nil {
		o.Now = time.Now
	}
	w, err := getWorkload(ctx, o.Client, o.Namespace, o.Workload)
	if err != nil {
		return err
	}
	triggers, err := o.manualTriggers(ctx)
	if err != nil {
		return err
	}
	switch {
	case o.Trigger != "" && !slices.Contains(triggers, o.Trigger):
		return fmt.Errorf("no manual trigger %q is bound to workload %s (bound: %s)", o.Trigger, o.Workload, orNone(triggers))
	case o.Trigger == "" && len(triggers) > 1:
		return fmt.Errorf("several manual triggers are bound to workload %s (%s): choose one with --trigger", o.Workload, strings.Join(triggers, ", "))
	case o.Trigger == "" && len(triggers) == 1:
		o.Trigger = triggers[0]
	}
	if o.Trigger != "" {
		return o.createEvent(ctx)
	}
	return o.createRollout(ctx, w)
}

// manualTriggers lists the enabled manual triggers bound to the workload.
func (o *DeployOptions) manualTriggers(ctx context.Context) ([]string, error) {
	var bindings tinyforgev1alpha1.TriggerBindingList
	if err := o.Client.List(ctx, &bindings, client.InNamespace(o.Namespace)); err != nil {
		return nil, fmt.Errorf("listing trigger bindings: %w", err)
	}
	var out []string
	for _, b := range bindings.Items {
		if b.Spec.WorkloadRef.Name != o.Workload || b.Spec.Suspend || slices.Contains(out, b.Spec.TriggerRef.Name) {
			continue
		}
		var t tinyforgev1alpha1.Trigger
		if err := o.Client.Get(ctx, client.ObjectKey{Namespace: o.Namespace, Name: b.Spec.TriggerRef.Name}, &t); err != nil {
			continue
		}
		if t.Spec.Kind == "manual" && !t.Spec.Suspend {
			out = append(out, t.Name)
		}
	}
	slices.Sort(out)
	return out, nil
}

func (o *DeployOptions) createEvent(ctx context.Context) error {
	ev := inbound.ToEvent(client.ObjectKey{Namespace: o.Namespace, Name: o.Trigger}, plugins.InboundEvent{
		Type:         plugins.EventTypeManual,
		DeliveryID:   "manual-" + o.Now().UTC().Format("20060102T150405Z") + "-" + randomHex(4),
		ReceivedTime: o.Now(),
		Manual:       &plugins.ManualEvent{Workload: o.Workload, Revision: o.Revision, Reason: o.Reason},
	}, "")
	if err := o.Client.Create(ctx, ev); err != nil {
		return fmt.Errorf("creating the manual Event: %w", err)
	}
	fmt.Fprintf(o.Out, "event.tinyforge.dev/%s created (manual trigger %s)\n", ev.Name, o.Trigger)
	return nil
}

func (o *DeployOptions) createRollout(ctx context.Context, w *tinyforgev1alpha1.Workload) error {
	ro := &tinyforgev1alpha1.Rollout{
		ObjectMeta: metav1.ObjectMeta{
			Name:      rolloutNameFor(w.Name, "m"+o.Now().UTC().Format("0102150405")+randomHex(2)),
			Namespace: o.Namespace,
		},
		Spec: tinyforgev1alpha1.RolloutSpec{
			WorkloadRef: tinyforgev1alpha1.LocalObjectReference{Name: w.Name},
			Revision:    o.Revision,
			Reason:      tinyforgev1alpha1.CauseManual,
		},
	}
	cause := "manual deploy"
	if o.Reason != "" {
		cause += ": " + o.Reason
	}
	ro.Annotations = map[string]string{"kubernetes.io/change-cause": cause}
	if err := controllerutil.SetControllerReference(w, ro, scheme()); err != nil {
		return err
	}
	if err := o.Client.Create(ctx, ro); err != nil {
		return fmt.Errorf("creating the Rollout: %w", err)
	}
	fmt.Fprintf(o.Out, "rollout.tinyforge.dev/%s created (no manual trigger is bound to workload %s)\n", ro.Name, w.Name)
	return nil
}

func rolloutNameFor(workload, suffix string) string {
	if len(workload)+1+len(suffix) > 253 {
		workload = workload[:253-1-len(suffix)]
	}
	return workload + "-" + suffix
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}
