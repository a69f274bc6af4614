package workload

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"

	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	tinyforgev1alpha1 "github.com/tinyforge/tinyforge/api/v1alpha1"
	"github.com/tinyforge/tinyforge/internal/reconcile"
	"github.com/tinyforge/tinyforge/plugins"
)

// DefaultHost is the host of a route that names none: *.localhost reaches
// this machine from curl and browsers with no DNS set up.
func DefaultHost(workload, namespace string) string {
	return workload + "." + namespace + ".localhost"
}

// configHash identifies what a deploy depends on in the spec, so a change of
// anything else (suspend, approval, history limit) does not redeploy.
func configHash(w *tinyforgev1alpha1.Workload) string {
	b, _ := json.Marshal(struct {
		Source      tinyforgev1alpha1.WorkloadSource    `json:"source"`
		Env         []tinyforgev1alpha1.EnvVar          `json:"env,omitempty"`
		Routes      []tinyforgev1alpha1.Route           `json:"routes,omitempty"`
		HealthCheck *tinyforgev1alpha1.HealthCheck      `json:"healthCheck,omitempty"`
		Strategy    *tinyforgev1alpha1.WorkloadStrategy `json:"strategy,omitempty"`
	}{w.Spec.Source, w.Spec.Env, w.Spec.Routes, w.Spec.HealthCheck, w.Spec.Strategy})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])[:16]
}

// pluginWorkload is what a source sees of a Workload: defaults applied and
// secrets resolved. A missing secret is waited for.
func pluginWorkload(ctx context.Context, secrets client.Reader, w *tinyforgev1alpha1.Workload) (plugins.Workload, error) {
	pw := plugins.Workload{
		Namespace:       w.Namespace,
		Name:            w.Name,
		UID:             w.UID,
		Generation:      w.Generation,
		CurrentRevision: w.Status.CurrentRevision,
		RemoveVolumes:   w.Spec.RemoveVolumesOnDelete,
	}
	if w.Spec.Source.Config != nil {
		pw.Config = w.Spec.Source.Config.Raw
	}
	for _, e := range w.Spec.Env {
		if e.ValueFrom == nil {
			pw.Env = append(pw.Env, plugins.EnvVar{Name: e.Name, Value: e.Value})
			continue
		}
		ref := e.ValueFrom.SecretKeyRef
		var s corev1.Secret
		err := secrets.Get(ctx, client.ObjectKey{Namespace: w.Namespace, Name: ref.Name}, &s)
		optional := ref.Optional != nil && *ref.Optional
		switch {
		case apierrors.IsNotFound(err) && optional:
			continue
		case apierrors.IsNotFound(err):
			return pw, reconcile.Waiting(tinyforgev1alpha1.WorkloadReasonSecretNotFound, 10*time.Second,
				"env %s: secret %q not found", e.Name, ref.Name)
		case err != nil:
			return pw, fmt.Errorf("reading secret %q for env %s: %w", ref.Name, e.Name, err)
		}
		v, ok := s.Data[ref.Key]
		if !ok {
			if optional {
				continue
			}
			return pw, reconcile.Waiting(tinyforgev1alpha1.WorkloadReasonSecretNotFound, 10*time.Second,
				"env %s: secret %q has no key %q", e.Name, ref.Name, ref.Key)
		}
		pw.Env = append(pw.Env, plugins.EnvVar{Name: e.Name, Value: string(v)})
	}
	for _, r := range w.Spec.Routes {
		host := r.Host
		if host == "" {
			host = DefaultHost(w.Name, w.Namespace)
		}
		prefix := r.PathPrefix
		if prefix == "" {
			prefix = tinyforgev1alpha1.DefaultPathPrefix
		}
		pw.Routes = append(pw.Routes, plugins.Route{Host: host, PathPrefix: prefix, Port: r.Port, Service: r.Service})
	}
	hc := tinyforgev1alpha1.HealthCheck{}
	if w.Spec.HealthCheck != nil {
		hc = *w.Spec.HealthCheck
	}
	pw.HealthCheck = plugins.HealthCheck{
		Path:             hc.Path,
		Port:             hc.Port,
		Interval:         duration(hc.Interval, tinyforgev1alpha1.DefaultHealthCheckInterval),
		Timeout:          duration(hc.Timeout, tinyforgev1alpha1.DefaultHealthCheckTimeout),
		StartPeriod:      duration(hc.StartPeriod, tinyforgev1alpha1.DefaultHealthCheckStartPeriod),
		MinReady:         time.Duration(hc.MinReadySeconds) * time.Second,
		FailureThreshold: hc.FailureThreshold,
	}
	if pw.HealthCheck.FailureThreshold == 0 {
		pw.HealthCheck.FailureThreshold = tinyforgev1alpha1.DefaultFailureThreshold
	}
	st := tinyforgev1alpha1.WorkloadStrategy{}
	if w.Spec.Strategy != nil {
		st = *w.Spec.Strategy
	}
	pw.Strategy = plugins.Strategy{
		Type:             plugins.StrategyBlueGreen,
		DrainTimeout:     duration(st.DrainTimeout, tinyforgev1alpha1.DefaultDrainTimeout),
		ProgressDeadline: duration(st.ProgressDeadline, tinyforgev1alpha1.DefaultProgressDeadline),
	}
	if st.Type == tinyforgev1alpha1.StrategyRecreate {
		pw.Strategy.Type = plugins.StrategyRecreate
	}
	return pw, nil
}

func duration(d *metav1.Duration, def string) time.Duration {
	if d != nil {
		return d.Duration
	}
	v, err := time.ParseDuration(def)
	if err != nil {
		panic(fmt.Sprintf("bad default duration %q: %v", def, err))
	}
	return v
}

// intentFor turns a Rollout into what the source is asked to deploy.
func intentFor(ro *tinyforgev1alpha1.Rollout) plugins.DeploymentIntent {
	in := plugins.DeploymentIntent{
		Revision: ro.Spec.Revision,
		Reason:   string(ro.Spec.Reason),
		Rollout:  ro.Name,
	}
	if cause := ro.Annotations[AnnotationChangeCause]; cause != "" {
		in.Reason = cause
	}
	if ro.Spec.EventRef != nil {
		in.EventName = ro.Spec.EventRef.Name
	}
	if i := ro.Spec.Intent; i != nil {
		if i.Image != "" {
			ref := parseImageRef(i.Image)
			in.Image = &ref
		}
		if i.GitURL != "" || i.GitCommit != "" || i.GitRef != "" {
			in.Git = &plugins.GitRef{URL: i.GitURL, Ref: i.GitRef, Commit: i.GitCommit}
		}
	}
	return in
}

// parseImageRef splits repo[:tag][@digest]; the tag's colon is the last one
// after the last slash, so registry ports are kept in the repository.
func parseImageRef(s string) plugins.ImageRef {
	var ref plugins.ImageRef
	if at := strings.Index(s, "@"); at >= 0 {
		ref.Digest = s[at+1:]
		s = s[:at]
	}
	slash := strings.LastIndex(s, "/")
	if colon := strings.LastIndex(s, ":"); colon > slash {
		ref.Tag = s[colon+1:]
		s = s[:colon]
	}
	ref.Repository = s
	return ref
}
