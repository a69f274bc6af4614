package forgectl

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/rest"
	cmdutil "k8s.io/kubectl/pkg/cmd/util"
	"k8s.io/kubectl/pkg/util/templates"
	"sigs.k8s.io/controller-runtime/pkg/client"

	tinyforgev1alpha1 "github.com/tinyforge/tinyforge/api/v1alpha1"
	"github.com/tinyforge/tinyforge/controllers"
	workloadctrl "github.com/tinyforge/tinyforge/controllers/workload"
)

var (
	rolloutLong = templates.LongDesc(`
		Manage the rollouts of a TinyForge workload.

		A Rollout is one deploy of one revision of a workload. The workload
		controller deploys the newest pending one; a rollback is a new Rollout
		of an older revision.

		These commands replace kubectl's rollout command, whose subcommands
		only know Deployments, DaemonSets and StatefulSets, which TinyForge
		does not serve. Each takes a workload as workload/NAME, workload NAME
		or NAME alone.`)

	rolloutExample = templates.Examples(`
		# List the rollouts of workload web, newest first
		forgectl rollout history workload/web

		# Wait until web's newest rollout has deployed (or failed)
		forgectl rollout status workload/web --timeout=5m

		# Roll back to the revision that served before the current one
		forgectl rollout undo workload/web

		# Let the rollout that waits for approval deploy
		forgectl rollout approve workload/web`)
)

// NewCmdRollout returns TinyForge's `rollout` command, which takes the place
// of kubectl's.
func NewCmdRollout(f cmdutil.Factory, streams genericiooptions.IOStreams) *cobra.Command {
	cmd := &cobra.Command{
		Use:                   "rollout SUBCOMMAND",
		DisableFlagsInUseLine: true,
		Short:                 "Manage the rollouts of a workload: history, status, undo, approve",
		Long:                  rolloutLong,
		Example:               rolloutExample,
		Run:                   cmdutil.DefaultSubCommandRun(streams.Out),
	}
	cmd.AddCommand(NewCmdRolloutHistory(f, streams))
	cmd.AddCommand(NewCmdRolloutStatus(f, streams))
	cmd.AddCommand(NewCmdRolloutUndo(f, streams))
	cmd.AddCommand(NewCmdRolloutApprove(f, streams))
	return cmd
}

// workloadTypes are the resource names a workload argument may be given
// with, as TYPE/NAME or TYPE NAME.
var workloadTypes = map[string]bool{
	"workload":                true,
	"workloads":               true,
	"wl":                      true,
	"workload.tinyforge.dev":  true,
	"workloads.tinyforge.dev": true,
}

// parseWorkloadArgs reads the workload a command acts on from its arguments:
// workload/NAME, workload NAME, or NAME alone. Any other resource type is
// refused, naming the command, since TinyForge's verbs know workloads only.
// workloadTarget reads the workload named in args and the namespace the
// factory selects: what every workload verb resolves first.
func workloadTarget(f cmdutil.Factory, command string, args []string) (workload, namespace string, err error) {
	if workload, err = parseWorkloadArgs(command, args); err != nil {
		return "", "", err
	}
	namespace, err = namespaceFrom(f)
	return workload, namespace, err
}

func parseWorkloadArgs(command string, args []string) (string, error) {
	var typ, name string
	switch len(args) {
	case 0:
		return "", fmt.Errorf("%s needs a workload: workload/NAME", command)
	case 1:
		var found bool
		typ, name, found = strings.Cut(args[0], "/")
		if !found {
			typ, name = "workload", args[0]
		}
	case 2:
		typ, name = args[0], args[1]
	default:
		return "", fmt.Errorf("%s takes one workload, got %q", command, strings.Join(args, " "))
	}
	if !workloadTypes[strings.ToLower(typ)] {
		return "", fmt.Errorf("%s works on workloads only: %q is not a workload (use workload/NAME)",
			command, strings.Join(args, " "))
	}
	if name == "" || strings.Contains(name, "/") {
		return "", fmt.Errorf("%s: %q is not a workload name (use workload/NAME)", command, strings.Join(args, " "))
	}
	return name, nil
}

// scheme knows TinyForge's kinds, so typed objects round-trip and printers
// can set their apiVersion and kind.
var scheme = sync.OnceValue(func() *runtime.Scheme { return controllers.Scheme() })

// newClient returns a controller-runtime client over f's REST config (and so
// its kubeconfig, context and flags), sharing f's cached discovery.
func newClient(f cmdutil.Factory) (client.WithWatch, error) {
	cfg, err := f.ToRESTConfig()
	if err != nil {
		return nil, fmt.Errorf("loading the client config: %w", err)
	}
	cfg = rest.CopyConfig(cfg)
	// TinyForge's kinds are served as JSON only.
	cfg.ContentType = runtime.ContentTypeJSON
	cfg.AcceptContentTypes = runtime.ContentTypeJSON
	mapper, err := f.ToRESTMapper()
	if err != nil {
		return nil, fmt.Errorf("building the REST mapper: %w", err)
	}
	c, err := client.NewWithWatch(cfg, client.Options{Scheme: scheme(), Mapper: mapper})
	if err != nil {
		return nil, fmt.Errorf("creating the API client: %w", err)
	}
	return c, nil
}

// namespaceFrom returns the namespace f selects (-n, else the kubeconfig's).
func namespaceFrom(f cmdutil.Factory) (string, error) {
	ns, _, err := f.ToRawKubeConfigLoader().Namespace()
	if err != nil {
		return "", fmt.Errorf("reading the namespace: %w", err)
	}
	return ns, nil
}

// getWorkload reads a Workload, turning NotFound into a message naming it.
func getWorkload(ctx context.Context, c client.Reader, namespace, name string) (*tinyforgev1alpha1.Workload, error) {
	w := &tinyforgev1alpha1.Workload{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, w); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("workload %q not found in namespace %q: %w", name, namespace, err)
		}
		return nil, fmt.Errorf("reading workload %s/%s: %w", namespace, name, err)
	}
	return w, nil
}

// listRollouts returns the Rollouts of one workload, newest first, selected
// by the label the server's admission sets from spec.workloadRef.
func listRollouts(ctx context.Context, c client.Reader, namespace, workload string) ([]tinyforgev1alpha1.Rollout, error) {
	var list tinyforgev1alpha1.RolloutList
	if err := c.List(ctx, &list, client.InNamespace(namespace),
		client.MatchingLabels{workloadctrl.LabelWorkload: workload}); err != nil {
		return nil, fmt.Errorf("listing the rollouts of workload %s/%s: %w", namespace, workload, err)
	}
	sortNewestFirst(list.Items)
	return list.Items, nil
}

// sortNewestFirst orders Rollouts as the workload controller does: by
// creation time, then, within the second the timestamps resolve, by name.
func sortNewestFirst(ros []tinyforgev1alpha1.Rollout) {
	sort.SliceStable(ros, func(i, j int) bool {
		ti, tj := ros[i].CreationTimestamp, ros[j].CreationTimestamp
		if !ti.Equal(&tj) {
			return tj.Before(&ti)
		}
		return ros[i].Name > ros[j].Name
	})
}

// isPending reports whether the controller has yet to finish ro, as the
// controller decides it.
func isPending(ro *tinyforgev1alpha1.Rollout) bool {
	switch ro.Status.Phase {
	case "", tinyforgev1alpha1.RolloutPhasePending, tinyforgev1alpha1.RolloutPhaseAwaitingApproval,
		tinyforgev1alpha1.RolloutPhaseDeploying:
		return true
	}
	return false
}

// revisionOf is what a Rollout deployed (status.revision) or, before it
// resolved one, what it pins (spec.revision).
func revisionOf(ro *tinyforgev1alpha1.Rollout) string {
	if ro.Status.Revision != "" {
		return ro.Status.Revision
	}
	return ro.Spec.Revision
}

// phaseOf shows an unset phase as Pending, which is what the controller
// makes of it.
func phaseOf(ro *tinyforgev1alpha1.Rollout) tinyforgev1alpha1.RolloutPhase {
	if ro.Status.Phase == "" {
		return tinyforgev1alpha1.RolloutPhasePending
	}
	return ro.Status.Phase
}
