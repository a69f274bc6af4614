package trigger

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	tinyforgev1alpha1 "github.com/tinyforge/tinyforge/api/v1alpha1"
	"github.com/tinyforge/tinyforge/internal/inbound"
	"github.com/tinyforge/tinyforge/internal/reconcile"
	"github.com/tinyforge/tinyforge/plugins"
)

// PathPrefix starts every webhook path.
const PathPrefix = "/hooks/"

// LabelTrigger marks the token Secrets the controller generates.
const LabelTrigger = inbound.LabelTrigger

// secretWait is how long to wait for a missing Secret before looking
// again; the Secret watch usually notices it sooner.
const secretWait = 30 * time.Second

// maxMissedTicks bounds the walk from the last tick to now, so a schedule
// that fires every second after a month of downtime costs no more than this.
const maxMissedTicks = 100000

// WebhookPath returns the path at which the ingress accepts deliveries for
// the trigger namespace/name with token: a hash of all three, so it reveals
// nothing about the token and changes when the token does.
func WebhookPath(namespace, name string, token []byte) string {
	h := sha256.New()
	h.Write([]byte("tinyforge-webhook\x00" + namespace + "\x00" + name + "\x00"))
	h.Write(token)
	return PathPrefix + hex.EncodeToString(h.Sum(nil))[:40]
}

// GeneratedSecretName is the Secret the controller creates for a trigger
// without spec.secretRef.
func GeneratedSecretName(trigger string) string {
	const suffix = "-webhook-token"
	if len(trigger)+len(suffix) > 253 {
		trigger = trigger[:253-len(suffix)]
	}
	return trigger + suffix
}

// secretName is the Secret holding t's token.
func secretName(t *tinyforgev1alpha1.Trigger) string {
	if t.Spec.SecretRef != nil {
		return t.Spec.SecretRef.Name
	}
	return GeneratedSecretName(t.Name)
}

// secretKey is the key of t's token in its Secret.
func secretKey(t *tinyforgev1alpha1.Trigger) string {
	if t.Spec.SecretRef != nil && t.Spec.SecretRef.Key != "" {
		return t.Spec.SecretRef.Key
	}
	return tinyforgev1alpha1.DefaultTriggerSecretKey
}

// resolvePlugin finds the trigger's plugin and checks its config, which
// admission already did unless the plugin changed since.
func (r *Reconciler) resolvePlugin(_ context.Context, s *scope) error {
	t := s.trigger
	p, err := r.Triggers.Lookup(t.Spec.Kind)
	if err != nil {
		return reconcile.Stalling(tinyforgev1alpha1.ReasonUnknownKind, "%v", err)
	}
	s.plugin = p
	if t.Spec.Config != nil {
		s.config = t.Spec.Config.Raw
	}
	if errs := p.Validate(specConfigPath, s.config); len(errs) > 0 {
		return reconcile.Stalling(tinyforgev1alpha1.ReasonInvalidConfig, "%v", errs.ToAggregate())
	}
	return nil
}

// ensureSecret reads the token, generating its Secret when the spec names
// none.
func (r *Reconciler) ensureSecret(ctx context.Context, s *scope) error {
	t := s.trigger
	name, key := secretName(t), secretKey(t)
	t.Status.SecretName = name
	var sec corev1.Secret
	err := r.APIReader.Get(ctx, types.NamespacedName{Namespace: t.Namespace, Name: name}, &sec)
	if apierrors.IsNotFound(err) && t.Spec.SecretRef == nil {
		return r.generateSecret(ctx, s)
	}
	if apierrors.IsNotFound(err) {
		return reconcile.Waiting(tinyforgev1alpha1.TriggerReasonSecretNotFound, secretWait,
			"Secret %s named by spec.secretRef does not exist; deliveries cannot be verified until it does", name)
	}
	if err != nil {
		return fmt.Errorf("reading Secret %s: %w", name, err)
	}
	if t.Spec.SecretRef == nil && !metav1.IsControlledBy(&sec, t) {
		return reconcile.Stalling(tinyforgev1alpha1.TriggerReasonSecretNotFound,
			"Secret %s exists but was not generated for this trigger; name it in spec.secretRef to use it", name)
	}
	token := sec.Data[key]
	if len(token) == 0 {
		return reconcile.Waiting(tinyforgev1alpha1.TriggerReasonSecretNotFound, secretWait,
			"Secret %s has no key %q (or it is empty); deliveries cannot be verified until it does", name, key)
	}
	s.token = token
	return nil
}

// generateSecret creates the token Secret of a trigger without
// spec.secretRef: 32 random bytes, hex encoded, owned by the trigger.
func (r *Reconciler) generateSecret(ctx context.Context, s *scope) error {
	t := s.trigger
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return fmt.Errorf("generating a webhook token: %w", err)
	}
	token := []byte(hex.EncodeToString(raw))
	sec := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{
			Name:      GeneratedSecretName(t.Name),
			Namespace: t.Namespace,
			Labels:    map[string]string{LabelTrigger: triggerLabel(t.Name)},
		},
		Type: corev1.SecretTypeOpaque,
		Data: map[string][]byte{tinyforgev1alpha1.DefaultTriggerSecretKey: token},
	}
	if err := controllerutil.SetControllerReference(t, sec, r.Client.Scheme()); err != nil {
		return err
	}
	if err := r.Client.Create(ctx, sec); err != nil {
		// AlreadyExists: a concurrent reconcile won; read its token next time.
		return fmt.Errorf("creating webhook token Secret %s: %w", sec.Name, err)
	}
	r.Recorder.Eventf(t, corev1.EventTypeNormal, "SecretGenerated", "Generated webhook token Secret %s", sec.Name)
	s.token = token
	return nil
}

func triggerLabel(name string) string {
	if len(name) > 63 {
		return ""
	}
	return name
}

// publishPath writes the webhook path derived from the token.
func (r *Reconciler) publishPath(_ context.Context, s *scope) error {
	t := s.trigger
	path := WebhookPath(t.Namespace, t.Name, s.token)
	if t.Status.WebhookPath != path && t.Status.WebhookPath != "" {
		r.Recorder.Eventf(t, corev1.EventTypeNormal, "WebhookPathChanged", "The token changed, so did the webhook path; update it at the provider (forgectl webhook-url trigger/%s)", t.Name)
	}
	t.Status.WebhookPath = path
	s.notes = append(s.notes, fmt.Sprintf("accepting deliveries at %s (token in Secret %s)", path, t.Status.SecretName))
	return nil
}

// schedule fires a Scheduler trigger's missed tick, at most one, and asks to
// run again at the next one. The Event is named after the tick, so a tick
// fired twice (by a controller that died before recording it, then by its
// successor) creates one Event.
func (r *Reconciler) schedule(ctx context.Context, s *scope) error {
	sched, ok := s.plugin.(plugins.Scheduler)
	if !ok {
		return nil
	}
	t := s.trigger
	now := r.Now()
	last := t.CreationTimestamp.Time
	if t.Status.LastScheduleTime != nil && t.Status.LastScheduleTime.After(last) {
		last = t.Status.LastScheduleTime.Time
	}
	next, err := sched.Next(s.config, last)
	if err != nil {
		return reconcile.Stalling(tinyforgev1alpha1.ReasonInvalidConfig, "schedule: %v", err)
	}
	if t.Spec.Suspend {
		s.notes = append(s.notes, "suspended: the schedule does not fire")
		return nil
	}
	if !next.After(now) {
		due := next
		for range maxMissedTicks {
			n, err := sched.Next(s.config, due)
			if err != nil || n.After(now) || !n.After(due) {
				break
			}
			due = n
		}
		if err := r.createEvent(ctx, t, plugins.InboundEvent{
			Type:         plugins.EventTypeCronTick,
			DeliveryID:   "cron-" + due.UTC().Format(time.RFC3339),
			ReceivedTime: due,
		}); err != nil {
			return err
		}
		t.Status.LastScheduleTime = &metav1.Time{Time: due}
		if next, err = sched.Next(s.config, due); err != nil {
			return reconcile.Stalling(tinyforgev1alpha1.ReasonInvalidConfig, "schedule: %v", err)
		}
	}
	s.notes = append(s.notes, "next tick at "+next.UTC().Format(time.RFC3339))
	s.requeueWithin(next.Sub(now))
	return nil
}

// poll asks a Poller trigger for the current state of what it watches and
// records it as an Event; the Event's name comes from the state, so an
// unchanged state creates nothing new.
func (r *Reconciler) poll(ctx context.Context, s *scope) error {
	p, ok := s.plugin.(plugins.Poller)
	if !ok {
		return nil
	}
	interval := p.PollInterval(s.config)
	if interval <= 0 || s.trigger.Spec.Suspend {
		return nil
	}
	t := s.trigger
	s.requeueWithin(interval)
	ev, err := p.Poll(ctx, r.deps(ctx), client.ObjectKeyFromObject(t), s.config)
	if err != nil {
		// The next poll may succeed; say why this one did not.
		s.notes = append(s.notes, fmt.Sprintf("last poll failed: %v", err))
		ctrl.LoggerFrom(ctx).Info("Poll failed", "error", err.Error())
		return nil
	}
	if ev.ReceivedTime.IsZero() {
		ev.ReceivedTime = r.Now()
	}
	if err := r.createEvent(ctx, t, ev); err != nil {
		return err
	}
	s.notes = append(s.notes, "polling every "+interval.String())
	return nil
}

// createEvent stores ev as an Event of t unless it exists already.
func (r *Reconciler) createEvent(ctx context.Context, t *tinyforgev1alpha1.Trigger, ev plugins.InboundEvent) error {
	obj := inbound.ToEvent(client.ObjectKeyFromObject(t), ev, "")
	err := r.Client.Create(ctx, obj)
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("creating %s Event %s: %w", ev.Type, obj.Name, err)
	}
	ctrl.LoggerFrom(ctx).Info("Created event", "event", obj.Name, "type", ev.Type)
	return nil
}

func (r *Reconciler) deps(ctx context.Context) plugins.Deps {
	return plugins.Deps{
		Client:   r.Client,
		Recorder: r.Recorder,
		Secrets:  plugins.APISecretReader(r.APIReader),
		Log:      ctrl.LoggerFrom(ctx),
	}
}

func (s *scope) requeueWithin(d time.Duration) {
	if d <= 0 {
		d = time.Millisecond
	}
	if s.requeue == 0 || d < s.requeue {
		s.requeue = d
	}
}

func (s *scope) outcome() reconcile.Outcome {
	out := reconcile.Outcome{
		Ready:   true,
		Reason:  tinyforgev1alpha1.ReasonSucceeded,
		Message: strings.Join(s.notes, "; "),
	}
	out.Result.RequeueAfter = s.requeue
	return out
}
