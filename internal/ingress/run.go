package ingress

import (
	"context"
	"fmt"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/cluster"

	tinyforgev1alpha1 "github.com/tinyforge/tinyforge/api/v1alpha1"
	"github.com/tinyforge/tinyforge/controllers/index"
)

// ConfigMap publication of the ingress's public URL, read by
// `forgectl webhook-url`.
const (
	ConfigMapNamespace = "tinyforge-system"
	ConfigMapName      = "tinyforge-ingress"
	ConfigMapURLKey    = "url"
)

// Serve runs the ingress against the API server at cfg until ctx ends: it
// caches Triggers (indexed by webhook path), publishes its public URL, and
// serves deliveries. ready, when not nil, receives the server once it
// listens and its cache is synced.
func Serve(ctx context.Context, cfg *rest.Config, scheme *runtime.Scheme, o Options, log logr.Logger, ready func(*Server)) error {
	cfg = rest.CopyConfig(cfg)
	cfg.ContentType = "application/json"
	cfg.AcceptContentTypes = "application/json"
	if cfg.UserAgent == "" {
		cfg.UserAgent = "tinyforge-ingress"
	}
	cl, err := cluster.New(cfg, func(co *cluster.Options) {
		co.Scheme = scheme
		co.Logger = log
	})
	if err != nil {
		return fmt.Errorf("creating the ingress's API client: %w", err)
	}
	if err := index.AddTriggerIndexes(ctx, cl.GetFieldIndexer()); err != nil {
		return err
	}
	s, err := New(o, cl.GetClient(), cl.GetAPIReader(), log)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	go func() {
		if err := cl.Start(ctx); err != nil {
			cancel(fmt.Errorf("ingress cache: %w", err))
		}
	}()
	// Start the Trigger informer now rather than on the first delivery.
	if _, err := cl.GetCache().GetInformer(ctx, &tinyforgev1alpha1.Trigger{}); err != nil {
		return fmt.Errorf("watching triggers: %w", err)
	}
	if !cl.GetCache().WaitForCacheSync(ctx) {
		return fmt.Errorf("ingress cache did not sync: %w", context.Cause(ctx))
	}
	if err := publishURL(ctx, cl.GetAPIReader(), cl.GetClient(), s.PublicURL()); err != nil {
		log.Error(err, "Publishing the ingress URL; forgectl webhook-url needs --base-url")
	}
	if ready != nil {
		ready(s)
	}
	if err := s.Run(ctx); err != nil {
		return err
	}
	return context.Cause(ctx)
}

// publishURL writes the public URL where forgectl finds it, reading
// uncached so the ingress does not watch every ConfigMap.
func publishURL(ctx context.Context, r client.Reader, c client.Writer, url string) error {
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ConfigMapNamespace, Name: ConfigMapName}}
	err := r.Get(ctx, client.ObjectKeyFromObject(cm), cm)
	switch {
	case apierrors.IsNotFound(err):
		cm.Data = map[string]string{ConfigMapURLKey: url}
		return c.Create(ctx, cm)
	case err != nil:
		return err
	case cm.Data[ConfigMapURLKey] == url:
		return nil
	}
	patch := client.MergeFrom(cm.DeepCopy())
	if cm.Data == nil {
		cm.Data = map[string]string{}
	}
	cm.Data[ConfigMapURLKey] = url
	return c.Patch(ctx, cm, patch)
}
