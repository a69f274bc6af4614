package apiserver

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	tinyforgev1alpha1 "github.com/tinyforge/tinyforge/api/v1alpha1"
	"github.com/tinyforge/tinyforge/plugins"
)

// publishKinds writes one SourceKind and one TriggerKind per registered
// plugin, and removes those of plugins this binary no longer has, so users
// discover kinds with `forgectl get sourcekinds`.
func publishKinds(ctx context.Context, cfg *rest.Config) error {
	scheme := runtime.NewScheme()
	if err := tinyforgev1alpha1.AddToScheme(scheme); err != nil {
		return err
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return err
	}
	want := map[string]bool{}
	for _, s := range plugins.Sources() {
		want[s.Kind()] = true
		k := &tinyforgev1alpha1.SourceKind{}
		k.Name = s.Kind()
		if err := upsertKind(ctx, c, k, &k.Spec, s); err != nil {
			return err
		}
	}
	var sks tinyforgev1alpha1.SourceKindList
	if err := c.List(ctx, &sks); err != nil {
		return fmt.Errorf("listing source kinds: %w", err)
	}
	for i := range sks.Items {
		if !want[sks.Items[i].Name] {
			if err := client.IgnoreNotFound(c.Delete(ctx, &sks.Items[i])); err != nil {
				return err
			}
		}
	}

	want = map[string]bool{}
	for _, t := range plugins.Triggers() {
		want[t.Kind()] = true
		k := &tinyforgev1alpha1.TriggerKind{}
		k.Name = t.Kind()
		if err := upsertKind(ctx, c, k, &k.Spec, t); err != nil {
			return err
		}
	}
	var tks tinyforgev1alpha1.TriggerKindList
	if err := c.List(ctx, &tks); err != nil {
		return fmt.Errorf("listing trigger kinds: %w", err)
	}
	for i := range tks.Items {
		if !want[tks.Items[i].Name] {
			if err := client.IgnoreNotFound(c.Delete(ctx, &tks.Items[i])); err != nil {
				return err
			}
		}
	}
	return nil
}

// upsertKind creates or updates obj, whose spec is filled from the plugin's
// Schemaer when it has one.
func upsertKind(ctx context.Context, c client.Client, obj client.Object, spec *tinyforgev1alpha1.PluginKindSpec, p any) error {
	fill := func() {
		*spec = tinyforgev1alpha1.PluginKindSpec{}
		if s, ok := p.(plugins.Schemaer); ok {
			spec.Description = s.Description()
			if b := s.Schema(); len(b) > 0 {
				spec.Schema = &runtime.RawExtension{Raw: b}
			}
			if b := s.Sample(); len(b) > 0 {
				spec.Sample = &runtime.RawExtension{Raw: b}
			}
		}
	}
	err := c.Get(ctx, client.ObjectKeyFromObject(obj), obj)
	if apierrors.IsNotFound(err) {
		fill()
		if err := c.Create(ctx, obj); err != nil {
			return fmt.Errorf("publishing kind %s: %w", obj.GetName(), err)
		}
		return nil
	}
	if err != nil {
		return err
	}
	fill()
	if err := c.Update(ctx, obj); err != nil {
		return fmt.Errorf("publishing kind %s: %w", obj.GetName(), err)
	}
	return nil
}
