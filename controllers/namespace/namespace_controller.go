package namespace

import (
	"context"
	"fmt"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/metadata"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	"github.com/tinyforge/tinyforge/internal/apiserver/corestore"
)

// contentsPollInterval is how soon a namespace whose contents are still
// going away is looked at again: their own finalizers may take a while.
const contentsPollInterval = time.Second

// Reconciler deletes the contents of namespaces being deleted.
type Reconciler struct {
	Client    client.Client
	Discovery discovery.DiscoveryInterface
	Metadata  metadata.Interface
}

// SetupWithManager registers the controller.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.Discovery == nil || r.Metadata == nil {
		cfg := mgr.GetConfig()
		dc, err := discovery.NewDiscoveryClientForConfig(cfg)
		if err != nil {
			return err
		}
		mc, err := metadata.NewForConfig(cfg)
		if err != nil {
			return err
		}
		r.Discovery, r.Metadata = dc, mc
	}
	r.Client = mgr.GetClient()
	return ctrl.NewControllerManagedBy(mgr).
		Named("namespace").
		For(&corev1.Namespace{}, builder.WithPredicates(predicate.NewPredicateFuncs(func(o client.Object) bool {
			return o.GetDeletionTimestamp() != nil
		}))).
		Complete(r)
}

// Reconcile deletes what is left in a terminating namespace and removes the
// finalizer once nothing is.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	log := ctrl.LoggerFrom(ctx).WithValues("namespace", req.Name)
	var ns corev1.Namespace
	if err := r.Client.Get(ctx, req.NamespacedName, &ns); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if ns.DeletionTimestamp == nil || !slices.Contains(ns.Finalizers, corestore.NamespaceFinalizer) {
		return ctrl.Result{}, nil
	}
	if ns.Status.Phase != corev1.NamespaceTerminating {
		// Any update records the phase: the server derives it.
		if err := r.Client.Update(ctx, &ns); err != nil {
			return ctrl.Result{}, client.IgnoreNotFound(err)
		}
	}
	remaining, err := r.deleteContents(ctx, ns.Name)
	if err != nil {
		return ctrl.Result{}, err
	}
	if remaining > 0 {
		log.V(1).Info("Waiting for namespace contents to go", "remaining", remaining)
		return ctrl.Result{RequeueAfter: contentsPollInterval}, nil
	}
	patch := client.MergeFrom(ns.DeepCopy())
	ns.Finalizers = slices.DeleteFunc(ns.Finalizers, func(f string) bool { return f == corestore.NamespaceFinalizer })
	if err := r.Client.Patch(ctx, &ns, patch); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	log.Info("Namespace emptied and released")
	return ctrl.Result{}, nil
}

// deleteContents asks every namespaced resource to delete its objects in ns
// and counts those still there.
func (r *Reconciler) deleteContents(ctx context.Context, ns string) (int, error) {
	lists, err := r.Discovery.ServerPreferredNamespacedResources()
	if err != nil && len(lists) == 0 {
		return 0, fmt.Errorf("discovering namespaced resources: %w", err)
	}
	remaining := 0
	for _, l := range lists {
		gv, err := schema.ParseGroupVersion(l.GroupVersion)
		if err != nil {
			continue
		}
		for _, res := range l.APIResources {
			if !slices.Contains(res.Verbs, "list") || !slices.Contains(res.Verbs, "delete") {
				continue
			}
			api := r.Metadata.Resource(gv.WithResource(res.Name)).Namespace(ns)
			items, err := api.List(ctx, metav1.ListOptions{})
			if err != nil {
				return 0, fmt.Errorf("listing %s in %s: %w", res.Name, ns, err)
			}
			for _, it := range items.Items {
				remaining++
				if it.DeletionTimestamp != nil {
					continue
				}
				bg := metav1.DeletePropagationBackground
				if err := api.Delete(ctx, it.Name, metav1.DeleteOptions{PropagationPolicy: &bg}); err != nil && !apierrors.IsNotFound(err) {
					return 0, fmt.Errorf("deleting %s %s/%s: %w", res.Name, ns, it.Name, err)
				}
			}
		}
	}
	return remaining, nil
}
