package e2e

import (
	"context"
	"strconv"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	"github.com/tinyforge/tinyforge/config/crd"
	"github.com/tinyforge/tinyforge/internal/apiserver/apiservertest"
)

// TestCustomResourcesServedOnceReady starts `tinyforge apiserver` on a fresh
// data dir and, the moment /readyz is green, lists every custom resource
// and creates an Event, with no retry: a script that waits for readiness
// (`make run`, then `forgectl apply`) must not meet a 404.
func TestCustomResourcesServedOnceReady(t *testing.T) {
	ports, err := apiservertest.FreePorts(3)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	s := runServer(t, dir, []string{"apiserver", "--data-dir", dir,
		"--secure-port", strconv.Itoa(ports[0]),
		"--etcd-client-port", strconv.Itoa(ports[1]), "--etcd-peer-port", strconv.Itoa(ports[2])})
	dyn := dynamic.NewForConfigOrDie(s.Admin)
	ctx := context.Background()

	crds, err := crd.CRDs()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range crds {
		for _, v := range c.Spec.Versions {
			if !v.Served {
				continue
			}
			gvr := schema.GroupVersionResource{Group: c.Spec.Group, Version: v.Name, Resource: c.Spec.Names.Plural}
			if _, err := dyn.Resource(gvr).List(ctx, metav1.ListOptions{Limit: 1}); err != nil {
				t.Errorf("listing %s right after /readyz: %v", gvr.GroupResource(), err)
			}
		}
	}

	ev := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "tinyforge.dev/v1alpha1", "kind": "Event",
		"metadata": map[string]any{"name": "first"},
		"spec": map[string]any{
			"triggerRef": map[string]any{"name": "hello"}, "provider": "distribution", "type": "image-push",
			"deliveryID": "first", "receivedTime": "2026-01-01T00:00:00Z", "verification": "Unverified",
			"image": map[string]any{"repository": "localhost:5000/hello", "tag": "v1"},
		},
	}}
	events := schema.GroupVersionResource{Group: "tinyforge.dev", Version: "v1alpha1", Resource: "events"}
	if _, err := dyn.Resource(events).Namespace("default").Create(ctx, ev, metav1.CreateOptions{}); err != nil {
		t.Errorf("creating an Event right after /readyz: %v", err)
	}
}
