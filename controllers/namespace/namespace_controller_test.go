package namespace_test

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	tinyforgev1alpha1 "github.com/tinyforge/tinyforge/api/v1alpha1"
	"github.com/tinyforge/tinyforge/controllers"
	"github.com/tinyforge/tinyforge/internal/apiserver/apiservertest"
)

func TestDeletingANamespaceDeletesItsContents(t *testing.T) {
	s := apiservertest.Start(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	o := controllers.NewOptions()
	o.LeaderElect = false
	mgr, err := controllers.NewManager(s.Admin, o)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	defer func() { cancel(); <-done }()

	kube := kubernetes.NewForConfigOrDie(s.Admin)
	dc := dynamic.NewForConfigOrDie(s.Admin)
	if _, err := kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "doomed"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := kube.CoreV1().ConfigMaps("doomed").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cm"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	rollouts := tinyforgev1alpha1.GroupVersion.WithResource("rollouts")
	ro := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": tinyforgev1alpha1.GroupVersion.String(), "kind": "Rollout",
		"metadata": map[string]any{"name": "r1", "namespace": "doomed", "finalizers": []any{"test.tinyforge.dev/hold"}},
		"spec":     map[string]any{"workloadRef": map[string]any{"name": "w"}, "revision": "r1", "reason": "ConfigChange"},
	}}
	if _, err := dc.Resource(rollouts).Namespace("doomed").Create(ctx, ro, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	if err := kube.CoreV1().Namespaces().Delete(ctx, "doomed", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	poll := func(what string, cond func(context.Context) (bool, error)) {
		t.Helper()
		if err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, cond); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	poll("namespace Terminating", func(ctx context.Context) (bool, error) {
		ns, err := kube.CoreV1().Namespaces().Get(ctx, "doomed", metav1.GetOptions{})
		return err == nil && ns.Status.Phase == corev1.NamespaceTerminating, nil
	})
	if _, err := kube.CoreV1().ConfigMaps("doomed").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "late"}}, metav1.CreateOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("creating in a terminating namespace: err = %v, want Forbidden", err)
	}

	poll("configmap deleted", func(ctx context.Context) (bool, error) {
		_, err := kube.CoreV1().ConfigMaps("doomed").Get(ctx, "cm", metav1.GetOptions{})
		return apierrors.IsNotFound(err), nil
	})
	// The rollout's own finalizer holds the namespace until it is released.
	if _, err := kube.CoreV1().Namespaces().Get(ctx, "doomed", metav1.GetOptions{}); err != nil {
		t.Fatalf("namespace went away while its contents were still finalizing: %v", err)
	}
	var got *unstructured.Unstructured
	poll("rollout marked for deletion", func(ctx context.Context) (bool, error) {
		got, err = dc.Resource(rollouts).Namespace("doomed").Get(ctx, "r1", metav1.GetOptions{})
		return err == nil && got.GetDeletionTimestamp() != nil, nil
	})
	got.SetFinalizers(nil)
	if _, err := dc.Resource(rollouts).Namespace("doomed").Update(ctx, got, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	poll("namespace gone", func(ctx context.Context) (bool, error) {
		_, err := kube.CoreV1().Namespaces().Get(ctx, "doomed", metav1.GetOptions{})
		return apierrors.IsNotFound(err), nil
	})
}

func TestSystemNamespacesCannotBeDeleted(t *testing.T) {
	s := apiservertest.Start(t)
	kube := kubernetes.NewForConfigOrDie(s.Admin)
	for _, name := range []string{"default", "tinyforge-system"} {
		if err := kube.CoreV1().Namespaces().Delete(context.Background(), name, metav1.DeleteOptions{}); !apierrors.IsForbidden(err) {
			t.Errorf("deleting %s: err = %v, want Forbidden", name, err)
		}
	}
}
