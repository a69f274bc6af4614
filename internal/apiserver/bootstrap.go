package apiserver

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiextensionsclient "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	genericapiserver "k8s.io/apiserver/pkg/server"
	"k8s.io/client-go/kubernetes"
	"k8s.io/klog/v2"

	"github.com/tinyforge/tinyforge/config/crd"
)

// SystemNamespace holds TinyForge's own objects, such as leader-election
// Leases.
const SystemNamespace = "tinyforge-system"

// crdEstablishTimeout bounds the wait for the CRDs at start.
const crdEstablishTimeout = time.Minute

// bootstrap creates the default namespaces and installs or updates the CRDs,
// returning only when every CRD is established, so /readyz turns green only
// when the whole API is served.
func bootstrap(hc genericapiserver.PostStartHookContext) error {
	ctx := hc.Context
	kube, err := kubernetes.NewForConfig(hc.LoopbackClientConfig)
	if err != nil {
		return err
	}
	for _, name := range []string{metav1.NamespaceDefault, SystemNamespace} {
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
		if err := retry(ctx, func() error {
			_, err := kube.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{})
			if apierrors.IsAlreadyExists(err) {
				return nil
			}
			return err
		}); err != nil {
			return fmt.Errorf("creating namespace %s: %w", name, err)
		}
	}
	ext, err := apiextensionsclient.NewForConfig(hc.LoopbackClientConfig)
	if err != nil {
		return err
	}
	crds, err := crd.CRDs()
	if err != nil {
		return err
	}
	for _, want := range crds {
		if err := retry(ctx, func() error { return applyCRD(ctx, ext, want) }); err != nil {
			return fmt.Errorf("installing CRD %s: %w", want.Name, err)
		}
	}
	waitCtx, cancel := context.WithTimeout(ctx, crdEstablishTimeout)
	defer cancel()
	for _, want := range crds {
		err := wait.PollUntilContextCancel(waitCtx, 50*time.Millisecond, true, func(ctx context.Context) (bool, error) {
			got, err := ext.ApiextensionsV1().CustomResourceDefinitions().Get(ctx, want.Name, metav1.GetOptions{})
			if err != nil {
				return false, nil
			}
			for _, c := range got.Status.Conditions {
				if c.Type == apiextensionsv1.Established && c.Status == apiextensionsv1.ConditionTrue {
					return true, nil
				}
			}
			return false, nil
		})
		if err != nil {
			return fmt.Errorf("waiting for CRD %s to be established: %w", want.Name, err)
		}
	}
	klog.FromContext(ctx).V(1).Info("CRDs established", "count", len(crds))
	go func() {
		if err := retry(ctx, func() error { return publishKinds(ctx, hc.LoopbackClientConfig) }); err != nil && ctx.Err() == nil {
			klog.FromContext(ctx).Error(err, "Publishing plugin kinds")
		}
	}()
	return nil
}

// applyCRD creates the CRD or brings an older one up to this binary's spec.
func applyCRD(ctx context.Context, c apiextensionsclient.Interface, want *apiextensionsv1.CustomResourceDefinition) error {
	api := c.ApiextensionsV1().CustomResourceDefinitions()
	got, err := api.Get(ctx, want.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		_, err = api.Create(ctx, want.DeepCopy(), metav1.CreateOptions{})
		return err
	}
	if err != nil {
		return err
	}
	if apiequality.Semantic.DeepDerivative(want.Spec, got.Spec) {
		return nil
	}
	got.Spec = want.Spec
	_, err = api.Update(ctx, got, metav1.UpdateOptions{})
	return err
}

// retry retries f briefly: right after start, the loopback client can race
// the server's own storage initialisation.
func retry(ctx context.Context, f func() error) error {
	var last error
	err := wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		last = f()
		return last == nil, nil
	})
	if err != nil && last != nil {
		return last
	}
	return err
}
