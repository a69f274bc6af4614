package apiserver

import (
	"context"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/klog/v2"

	tinyforgev1alpha1 "github.com/tinyforge/tinyforge/api/v1alpha1"
	"github.com/tinyforge/tinyforge/plugins"
)

var (
	sourceKindsResource  = tinyforgev1alpha1.GroupVersion.WithResource("sourcekinds")
	triggerKindsResource = tinyforgev1alpha1.GroupVersion.WithResource("triggerkinds")
)

// publishKinds writes one SourceKind and one TriggerKind per registered
// plugin, so users discover kinds with `forgectl get sourcekinds`. It
// creates first and reads only on conflict. Kinds this binary no longer has
// are removed in the background, since a list needs the new CRDs' watch
// caches. The server runs it after /readyz turns green: a freshly
// established CRD takes about two seconds before it accepts a create, and
// that is no reason to keep the whole API unready.
func publishKinds(ctx context.Context, cfg *rest.Config) error {
	dc, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return err
	}
	want := map[schema.GroupVersionResource]map[string]bool{sourceKindsResource: {}, triggerKindsResource: {}}
	for _, s := range plugins.Sources() {
		want[sourceKindsResource][s.Kind()] = true
		if err := upsertKind(ctx, cfg, dc, sourceKindsResource, tinyforgev1alpha1.KindSourceKind, s.Kind(), s); err != nil {
			return err
		}
	}
	for _, t := range plugins.Triggers() {
		want[triggerKindsResource][t.Kind()] = true
		if err := upsertKind(ctx, cfg, dc, triggerKindsResource, tinyforgev1alpha1.KindTriggerKind, t.Kind(), t); err != nil {
			return err
		}
	}
	go removeStaleKinds(ctx, dc, want)
	return nil
}

// upsertKind creates or updates the kind object, its spec filled from the
// plugin's Schemaer when it has one.
func upsertKind(ctx context.Context, cfg *rest.Config, dc dynamic.Interface, gvr schema.GroupVersionResource, kind, name string, p any) error {
	var spec tinyforgev1alpha1.PluginKindSpec
	if s, ok := p.(plugins.Schemaer); ok {
		spec.Description = s.Description()
		if b := s.Schema(); len(b) > 0 {
			spec.Schema = &runtime.RawExtension{Raw: b}
		}
		if b := s.Sample(); len(b) > 0 {
			spec.Sample = &runtime.RawExtension{Raw: b}
		}
	}
	specMap, err := runtime.DefaultUnstructuredConverter.ToUnstructured(&spec)
	if err != nil {
		return err
	}
	obj := &unstructured.Unstructured{Object: map[string]any{"spec": specMap}}
	obj.SetAPIVersion(tinyforgev1alpha1.GroupVersion.String())
	obj.SetKind(kind)
	obj.SetName(name)
	api := dc.Resource(gvr)
	err = createSoon(ctx, cfg, gvr, obj)
	if !apierrors.IsAlreadyExists(err) {
		if err != nil {
			return fmt.Errorf("publishing %s %s: %w", kind, name, err)
		}
		return nil
	}
	got, err := api.Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("reading %s %s: %w", kind, name, err)
	}
	got.Object["spec"] = specMap
	if _, err := api.Update(ctx, got, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("publishing %s %s: %w", kind, name, err)
	}
	return nil
}

// removeStaleKinds deletes kind objects of plugins this binary lacks.
func removeStaleKinds(ctx context.Context, dc dynamic.Interface, want map[schema.GroupVersionResource]map[string]bool) {
	for gvr, names := range want {
		err := wait.PollUntilContextTimeout(ctx, time.Second, 5*time.Minute, true, func(ctx context.Context) (bool, error) {
			list, err := dc.Resource(gvr).List(ctx, metav1.ListOptions{})
			if err != nil {
				return false, nil
			}
			for _, it := range list.Items {
				if names[it.GetName()] {
					continue
				}
				if err := dc.Resource(gvr).Delete(ctx, it.GetName(), metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
					return false, nil
				}
			}
			return true, nil
		})
		if err != nil && ctx.Err() == nil {
			klog.FromContext(ctx).Error(err, "Removing kinds of plugins this server no longer has", "resource", gvr.Resource)
		}
	}
}

// createSoon creates obj, retrying every 50 ms rather than after the
// server's one-second Retry-After while a just-established CRD's storage
// comes up.
func createSoon(ctx context.Context, cfg *rest.Config, gvr schema.GroupVersionResource, obj *unstructured.Unstructured) error {
	c := rest.CopyConfig(cfg)
	c.GroupVersion = &schema.GroupVersion{Group: gvr.Group, Version: gvr.Version}
	c.APIPath = "/apis"
	c.NegotiatedSerializer = clientgoscheme.Codecs.WithoutConversion()
	rc, err := rest.RESTClientFor(c)
	if err != nil {
		return err
	}
	body, err := obj.MarshalJSON()
	if err != nil {
		return err
	}
	var last error
	err = wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		last = rc.Post().Resource(gvr.Resource).Body(body).SetHeader("Content-Type", "application/json").MaxRetries(0).Do(ctx).Error()
		switch {
		case last == nil, apierrors.IsAlreadyExists(last):
			return true, nil
		case apierrors.IsTooManyRequests(last), apierrors.IsServiceUnavailable(last), apierrors.IsNotFound(last):
			return false, nil
		default:
			return false, last
		}
	})
	if last != nil {
		return last
	}
	return err
}
