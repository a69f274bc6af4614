package index

import (
	"context"
	"fmt"

	"sigs.k8s.io/controller-runtime/pkg/client"

	tinyforgev1alpha1 "github.com/tinyforge/tinyforge/api/v1alpha1"
)

// Field index names.
const (
	// BindingTrigger indexes TriggerBindings by spec.triggerRef.name.
	BindingTrigger = "spec.triggerRef.name"
	// BindingWorkload indexes TriggerBindings by spec.workloadRef.name.
	BindingWorkload = "spec.workloadRef.name"
	// TriggerWebhookPath indexes Triggers by status.webhookPath.
	TriggerWebhookPath = "status.webhookPath"
)

// AddBindingIndexes registers the TriggerBinding indexes.
func AddBindingIndexes(ctx context.Context, fi client.FieldIndexer) error {
	if err := fi.IndexField(ctx, &tinyforgev1alpha1.TriggerBinding{}, BindingTrigger, func(o client.Object) []string {
		return []string{o.(*tinyforgev1alpha1.TriggerBinding).Spec.TriggerRef.Name}
	}); err != nil {
		return fmt.Errorf("indexing triggerbindings by trigger: %w", err)
	}
	if err := fi.IndexField(ctx, &tinyforgev1alpha1.TriggerBinding{}, BindingWorkload, func(o client.Object) []string {
		return []string{o.(*tinyforgev1alpha1.TriggerBinding).Spec.WorkloadRef.Name}
	}); err != nil {
		return fmt.Errorf("indexing triggerbindings by workload: %w", err)
	}
	return nil
}

// AddTriggerIndexes registers the Trigger index the ingress looks
// deliveries up by.
func AddTriggerIndexes(ctx context.Context, fi client.FieldIndexer) error {
	if err := fi.IndexField(ctx, &tinyforgev1alpha1.Trigger{}, TriggerWebhookPath, func(o client.Object) []string {
		if p := o.(*tinyforgev1alpha1.Trigger).Status.WebhookPath; p != "" {
			return []string{p}
		}
		return nil
	}); err != nil {
		return fmt.Errorf("indexing triggers by webhook path: %w", err)
	}
	return nil
}
