package workload

import (
	"context"
	"time"

	"k8s.io/client-go/tools/record"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/source"

	tinyforgev1alpha1 "github.com/tinyforge/tinyforge/api/v1alpha1"
	"github.com/tinyforge/tinyforge/internal/docker"
	"github.com/tinyforge/tinyforge/internal/reconcile"
	"github.com/tinyforge/tinyforge/plugins"
)

// Finalizer holds a Workload until its containers, networks and volumes are
// gone.
const Finalizer = "tinyforge.dev/teardown"

// Reconciler reconciles Workloads.
type Reconciler struct {
	Client client.Client
	// APIReader reads Workloads, Rollouts and Secrets uncached: decisions
	// to deploy must not rest on a cache that lags the last write, and
	// every Secret need not sit in memory.
	APIReader client.Reader
	Docker    docker.API
	Routes    plugins.RouteTable
	Recorder  record.EventRecorder
	// Sources is the source registry; plugins.DefaultSources when nil.
	Sources *plugins.Registry[plugins.Source]
	// ResyncPeriod is how often a workload's containers are checked
	// against its spec even when nothing happened.
	ResyncPeriod time.Duration
	// MaxConcurrentReconciles bounds parallel deploys; one workload never
	// has two at once.
	MaxConcurrentReconciles int
	// URLFor builds status.url for a route's host and path; nil leaves it
	// empty.
	URLFor func(host, pathPrefix string) string
	// RouteGrace is the least time a switch waits before the old backends
	// stop, for proxies in other processes (`tinyforge proxy`), which route
	// from status.routes, to see it and finish their requests.
	RouteGrace time.Duration
	// PublishedUpstreams is plugins.Deps.PublishedUpstreams: the proxy
	// reaches containers on their published loopback ports only.
	PublishedUpstreams bool

	// dockerEvents enqueues workloads whose containers changed.
	dockerEvents chan event.GenericEvent
}

// SetupWithManager registers the controller and its Docker watcher.
func (r *Reconciler) SetupWithManager(ctx context.Context, mgr ctrl.Manager) error {
	if r.Sources == nil {
		r.Sources = plugins.DefaultSources
	}
	if r.ResyncPeriod == 0 {
		r.ResyncPeriod = 5 * time.Minute
	}
	if r.MaxConcurrentReconciles == 0 {
		r.MaxConcurrentReconciles = 8
	}
	r.dockerEvents = make(chan event.GenericEvent, 256)
	if err := mgr.Add(&dockerWatcher{r: r, client: mgr.GetClient()}); err != nil {
		return err
	}
	return ctrl.NewControllerManagedBy(mgr).
		Named("workload").
		For(&tinyforgev1alpha1.Workload{}, builder.WithPredicates(predicate.Or(
			predicate.GenerationChangedPredicate{}, predicate.AnnotationChangedPredicate{},
			deletionPredicate{}))).
		Watches(&tinyforgev1alpha1.Rollout{}, handler.EnqueueRequestsFromMapFunc(func(_ context.Context, o client.Object) []ctrl.Request {
			ro := o.(*tinyforgev1alpha1.Rollout)
			return []ctrl.Request{{NamespacedName: client.ObjectKey{Namespace: ro.Namespace, Name: ro.Spec.WorkloadRef.Name}}}
		}), builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		WatchesRawSource(source.Channel(r.dockerEvents, &handler.EnqueueRequestForObject{})).
		WithOptions(controller.Options{MaxConcurrentReconciles: r.MaxConcurrentReconciles}).
		Complete(r)
}

// deletionPredicate passes updates that start a deletion, which change no
// generation.
type deletionPredicate struct{ predicate.Funcs }

func (deletionPredicate) Update(e event.UpdateEvent) bool {
	return e.ObjectNew.GetDeletionTimestamp() != nil
}

// Reconcile brings one Workload's containers to its spec.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (result ctrl.Result, retErr error) {
	// Read through to the API server: acting on a cached copy that lags our
	// own last status write could deploy twice.
	w := &tinyforgev1alpha1.Workload{}
	if err := r.APIReader.Get(ctx, req.NamespacedName, w); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	log := ctrl.LoggerFrom(ctx).WithValues("workload", klog.KObj(w))
	ctx = ctrl.LoggerInto(ctx, log)

	if !w.DeletionTimestamp.IsZero() {
		return r.reconcileDelete(ctx, w)
	}
	// Patch only the finalizer: a full update round-trips the spec through
	// Go types, which can change its serialization and the generation.
	if before := w.DeepCopy(); controllerutil.AddFinalizer(w, Finalizer) {
		if err := r.Client.Patch(ctx, w, client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{})); err != nil {
			return ctrl.Result{}, client.IgnoreNotFound(err)
		}
	}

	base := w.DeepCopy()
	defer func() {
		if err := r.patchStatus(ctx, base, w); err != nil && retErr == nil {
			retErr = err
		}
	}()
	if w.Spec.Suspend {
		w.Status.ObservedGeneration = w.Generation
		return reconcile.Summarize(w, w.Generation, reconcile.Outcome{
			Reason: tinyforgev1alpha1.ReasonSuspended, Message: "spec.suspend is set: TinyForge leaves this workload's containers as they are",
		}, nil)
	}
	s := &scope{workload: w, base: base, routes: newRouteRecorder(r.Routes, r.Client, w, r.RouteGrace)}
	out, err := r.reconcilePhases(ctx, s)
	w.Status.ObservedGeneration = w.Generation
	return reconcile.Summarize(w, w.Generation, out, err)
}

// reconcilePhases runs the steps in order and stops at the first error.
func (r *Reconciler) reconcilePhases(ctx context.Context, s *scope) (reconcile.Outcome, error) {
	for _, phase := range []func(context.Context, *scope) error{
		r.resolveSource,
		r.ensureConfigRollout,
		r.selectRollout,
		r.deploy,
		r.reconcileDrift,
		r.pruneHistory,
	} {
		if err := phase(ctx, s); err != nil {
			return reconcile.Outcome{}, err
		}
		if s.done {
			break
		}
	}
	return s.outcome(r.ResyncPeriod), nil
}

// deps are the plugins' dependencies for one reconcile; routes is its
// route recorder.
func (r *Reconciler) deps(ctx context.Context, routes *routeRecorder) plugins.Deps {
	return plugins.Deps{
		Client:             r.Client,
		Docker:             r.Docker,
		Routes:             routes,
		PublishedUpstreams: r.PublishedUpstreams,
		Recorder:           r.Recorder,
		Secrets:            plugins.APISecretReader(r.APIReader),
		Log:                ctrl.LoggerFrom(ctx),
	}
}

// patchStatus writes what changed in w's status since base, whatever else
// changed meanwhile: base gets w's resourceVersion, so the merge patch
// carries none, which the server would take as a precondition. The route
// recorder writes status.routes in the middle of a deploy, and that write
// must not fail the deploy's own status write.
func (r *Reconciler) patchStatus(ctx context.Context, base, w *tinyforgev1alpha1.Workload) error {
	if base.ResourceVersion != w.ResourceVersion {
		base = base.DeepCopy()
		base.ResourceVersion = w.ResourceVersion
	}
	if err := r.Client.Status().Patch(ctx, w, client.MergeFrom(base)); err != nil {
		return client.IgnoreNotFound(err)
	}
	return nil
}
