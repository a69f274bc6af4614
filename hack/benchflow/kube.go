package main

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	tinyforgev1alpha1 "github.com/tinyforge/tinyforge/api/v1alpha1"
	"github.com/tinyforge/tinyforge/controllers"
)

// Workload settings every benchmark Workload shares.
const (
	drainTimeout     = time.Second
	progressDeadline = 2 * time.Minute
	probeTimeout     = time.Second
	// startPeriod forgives failed probes while a container starts: on a
	// busy machine docker-proxy accepts and resets connections for longer
	// than three probe intervals before the app listens. It does not delay
	// a probe that passes.
	startPeriod = 30 * time.Second
	// apiWorkers is how many objects are created at once when many are.
	apiWorkers = 16
)

// newKubeClient is a client with the admin kubeconfig of the server's data
// dir, talking JSON, with client-go's rate limit lifted so the server sets
// the pace.
func newKubeClient(dataDir string) (client.WithWatch, *rest.Config, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", filepath.Join(dataDir, "kubeconfig"))
	if err != nil {
		return nil, nil, fmt.Errorf("loading the admin kubeconfig: %w", err)
	}
	cfg.QPS, cfg.Burst = 1e6, 1e6
	cfg.ContentType = "application/json"
	cfg.UserAgent = "tinyforge-benchflow"
	c, err := client.NewWithWatch(cfg, client.Options{Scheme: controllers.Scheme()})
	if err != nil {
		return nil, nil, fmt.Errorf("creating the API client: %w", err)
	}
	return c, cfg, nil
}

// imageWorkload is an image Workload of the test app, routed by the proxy
// at <name>.<namespace>.localhost, probed at /healthz every probe.
func imageWorkload(ns, name, image string, probe time.Duration) *tinyforgev1alpha1.Workload {
	cfg, _ := json.Marshal(map[string]any{"image": image, "ports": []map[string]any{{"containerPort": testAppPort}}})
	return &tinyforgev1alpha1.Workload{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: tinyforgev1alpha1.WorkloadSpec{
			Source: tinyforgev1alpha1.WorkloadSource{Kind: "image", Config: &runtime.RawExtension{Raw: cfg}},
			Routes: []tinyforgev1alpha1.Route{{Port: testAppPort}},
			HealthCheck: &tinyforgev1alpha1.HealthCheck{
				Path:        "/healthz",
				Interval:    &metav1.Duration{Duration: probe},
				Timeout:     &metav1.Duration{Duration: probeTimeout},
				StartPeriod: &metav1.Duration{Duration: startPeriod},
			},
			Strategy: &tinyforgev1alpha1.WorkloadStrategy{
				DrainTimeout:     &metav1.Duration{Duration: drainTimeout},
				ProgressDeadline: &metav1.Duration{Duration: progressDeadline},
			},
		},
	}
}

// routeHost is the host the proxy routes to a Workload without a host.
func routeHost(ns, name string) string { return name + "." + ns + ".localhost" }

// tokenSecret holds a trigger's webhook token under the default key.
func tokenSecret(ns, name, token string) *corev1.Secret {
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		StringData: map[string]string{tinyforgev1alpha1.DefaultTriggerSecretKey: token},
	}
}

// registryTrigger is a registry Trigger of repository, every tag matching
// glob deploying, with its token in the Secret secret.
func registryTrigger(ns, name string, provider tinyforgev1alpha1.Provider, secret, repository, glob string) *tinyforgev1alpha1.Trigger {
	cfg, _ := json.Marshal(map[string]any{"repository": repository, "tagPolicy": map[string]string{"glob": glob}})
	return &tinyforgev1alpha1.Trigger{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: tinyforgev1alpha1.TriggerSpec{
			Kind:      "registry",
			Provider:  provider,
			SecretRef: &tinyforgev1alpha1.TriggerSecretReference{Name: secret},
			Config:    &runtime.RawExtension{Raw: cfg},
		},
	}
}

func triggerBinding(ns, name, trig, workload string) *tinyforgev1alpha1.TriggerBinding {
	return &tinyforgev1alpha1.TriggerBinding{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: tinyforgev1alpha1.TriggerBindingSpec{
			TriggerRef:  tinyforgev1alpha1.LocalObjectReference{Name: trig},
			WorkloadRef: tinyforgev1alpha1.LocalObjectReference{Name: workload},
		},
	}
}

// readyAt is true for a Workload that is Ready at generation gen or later.
func readyAt(gen int64) func(client.Object) bool {
	return func(o client.Object) bool {
		w, ok := o.(*tinyforgev1alpha1.Workload)
		return ok && w.Status.ObservedGeneration >= gen && meta.IsStatusConditionTrue(w.Status.Conditions, tinyforgev1alpha1.ConditionReady)
	}
}

// readyWithRevision is true for a Ready Workload whose current revision is
// revision.
func readyWithRevision(revision string) func(client.Object) bool {
	return func(o client.Object) bool {
		w, ok := o.(*tinyforgev1alpha1.Workload)
		return ok && w.Status.CurrentRevision == revision && meta.IsStatusConditionTrue(w.Status.Conditions, tinyforgev1alpha1.ConditionReady)
	}
}

// conditionTrue is true for an object whose condition typ is True.
func conditionTrue(typ string) func(client.Object) bool {
	return func(o client.Object) bool {
		conds := conditionsOf(o)
		return conds != nil && meta.IsStatusConditionTrue(conds, typ)
	}
}

func conditionsOf(o client.Object) []metav1.Condition {
	switch v := o.(type) {
	case *tinyforgev1alpha1.Workload:
		return v.Status.Conditions
	case *tinyforgev1alpha1.Trigger:
		return v.Status.Conditions
	case *tinyforgev1alpha1.TriggerBinding:
		return v.Status.Conditions
	case *tinyforgev1alpha1.Rollout:
		return v.Status.Conditions
	}
	return nil
}

// explainObject sums up an object's conditions for a timeout's error.
func explainObject(o client.Object) string {
	var parts []string
	switch v := o.(type) {
	case *tinyforgev1alpha1.Workload:
		parts = append(parts, fmt.Sprintf("generation %d observed %d, revision %q", v.Generation, v.Status.ObservedGeneration, v.Status.CurrentRevision))
	case *tinyforgev1alpha1.Rollout:
		parts = append(parts, fmt.Sprintf("phase %s: %s", v.Status.Phase, v.Status.Message))
	case *tinyforgev1alpha1.Event:
		parts = append(parts, fmt.Sprintf("phase %s", v.Status.Phase))
	case *tinyforgev1alpha1.Trigger:
		parts = append(parts, fmt.Sprintf("webhookPath set %t", v.Status.WebhookPath != ""))
	}
	for _, c := range conditionsOf(o) {
		parts = append(parts, fmt.Sprintf("%s=%s (%s: %s)", c.Type, c.Status, c.Reason, c.Message))
	}
	return strings.Join(parts, "; ")
}

// createAll creates objs with apiWorkers clients at once and returns when
// all are created, or the first error.
func createAll(ctx context.Context, c client.Client, objs []client.Object) error {
	errs := make(chan error, len(objs))
	next := make(chan client.Object)
	for range min(apiWorkers, len(objs)) {
		go func() {
			for obj := range next {
				if err := c.Create(ctx, obj); err != nil {
					errs <- fmt.Errorf("creating %s: %w", obj.GetName(), err)
					continue
				}
				errs <- nil
			}
		}()
	}
	go func() {
		defer close(next)
		for _, obj := range objs {
			select {
			case next <- obj:
			case <-ctx.Done():
				return
			}
		}
	}()
	var first error
	for range objs {
		select {
		case err := <-errs:
			if first == nil {
				first = err
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return first
}
