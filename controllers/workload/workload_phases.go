package workload

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	tinyforgev1alpha1 "github.com/tinyforge/tinyforge/api/v1alpha1"
	"github.com/tinyforge/tinyforge/internal/reconcile"
	"github.com/tinyforge/tinyforge/plugins"
)

// Annotations and labels the controller puts on Rollouts.
const (
	// AnnotationConfigHash records the workload config a Rollout deployed.
	AnnotationConfigHash = "tinyforge.dev/config-hash"
	// LabelWorkload names a Rollout's Workload, for selectors.
	LabelWorkload = "tinyforge.dev/workload"
	// AnnotationChangeCause is the one line for people on why a Rollout
	// exists (its intent's reason), under the name kubectl uses.
	AnnotationChangeCause = "kubernetes.io/change-cause"
)

// scope carries what one reconcile learns from step to step.
type scope struct {
	workload *tinyforgev1alpha1.Workload
	base     *tinyforgev1alpha1.Workload
	source   plugins.Source
	plugin   plugins.Workload
	hash     string
	// routes records the routes the source publishes in status.routes.
	routes   *routeRecorder
	rollouts []tinyforgev1alpha1.Rollout
	// target is the newest pending Rollout, if any.
	target *tinyforgev1alpha1.Rollout
	// failed is set when the newest Rollout for this config failed.
	failed *tinyforgev1alpha1.Rollout
	// healthy and message come from the last Deploy or Reconcile.
	healthy     bool
	message     string
	progressing bool
	reason      string
	done        bool
}

func (s *scope) outcome(resync time.Duration) reconcile.Outcome {
	o := reconcile.Outcome{Ready: s.healthy, Reason: s.reason, Message: s.message, Progressing: s.progressing}
	if o.Reason == "" {
		o.Reason = tinyforgev1alpha1.ReasonSucceeded
	}
	switch {
	case s.progressing:
		o.Result.RequeueAfter = 5 * time.Second
	default:
		o.Result.RequeueAfter = resync
	}
	return o
}

func (r *Reconciler) resolveSource(ctx context.Context, s *scope) error {
	src, err := r.Sources.Lookup(s.workload.Spec.Source.Kind)
	if err != nil {
		return reconcile.Stalling(tinyforgev1alpha1.ReasonUnknownKind, "%v", err)
	}
	s.source = src
	s.plugin, err = pluginWorkload(ctx, r.APIReader, s.workload)
	if err != nil {
		return err
	}
	s.hash = configHash(s.workload)
	var list tinyforgev1alpha1.RolloutList
	if err := r.APIReader.List(ctx, &list, client.InNamespace(s.workload.Namespace), client.MatchingLabels{LabelWorkload: s.workload.Name}); err != nil {
		return fmt.Errorf("listing rollouts: %w", err)
	}
	s.rollouts = list.Items
	sortNewestFirst(s.rollouts)
	// The Rollouts are the record of what was deployed: should the status
	// write after a deploy have been lost, trust them rather than remove the
	// new revision as a leftover.
	if ro := lastSucceeded(s.rollouts); ro != nil && ro.Status.Revision != "" && ro.Status.Revision != s.workload.Status.CurrentRevision {
		s.workload.Status.CurrentRevision = ro.Status.Revision
		s.plugin.CurrentRevision = ro.Status.Revision
	}
	return nil
}

// lastSucceeded is the Rollout that completed successfully last.
func lastSucceeded(ros []tinyforgev1alpha1.Rollout) *tinyforgev1alpha1.Rollout {
	var last *tinyforgev1alpha1.Rollout
	for i := range ros {
		ro := &ros[i]
		if ro.Status.Phase != tinyforgev1alpha1.RolloutPhaseSucceeded || ro.Status.CompletionTime == nil {
			continue
		}
		if last == nil || last.Status.CompletionTime.Before(ro.Status.CompletionTime) {
			last = ro
		}
	}
	return last
}

// ensureConfigRollout creates a Rollout when the deploy-relevant spec differs
// from the one the newest Rollout deployed (or is about to).
func (r *Reconciler) ensureConfigRollout(ctx context.Context, s *scope) error {
	for i := range s.rollouts {
		ro := &s.rollouts[i]
		if h := ro.Annotations[AnnotationConfigHash]; h != "" || isPending(ro) {
			if h == s.hash || (h == "" && isPending(ro)) {
				return nil
			}
			break
		}
	}
	w := s.workload
	ro := &tinyforgev1alpha1.Rollout{
		ObjectMeta: metav1.ObjectMeta{
			Name:        rolloutName(w.Name, fmt.Sprintf("g%d", w.Generation)),
			Namespace:   w.Namespace,
			Labels:      map[string]string{LabelWorkload: w.Name},
			Annotations: map[string]string{AnnotationConfigHash: s.hash},
		},
		Spec: tinyforgev1alpha1.RolloutSpec{
			WorkloadRef: tinyforgev1alpha1.LocalObjectReference{Name: w.Name},
			Reason:      tinyforgev1alpha1.CauseConfigChange,
		},
	}
	if err := controllerutil.SetControllerReference(w, ro, r.Client.Scheme()); err != nil {
		return err
	}
	err := r.Client.Create(ctx, ro)
	if apierrors.IsAlreadyExists(err) {
		// A retried reconcile of the same generation: the Rollout exists.
		return r.Client.Get(ctx, client.ObjectKeyFromObject(ro), ro)
	}
	if err != nil {
		return fmt.Errorf("creating rollout: %w", err)
	}
	r.event(w, corev1.EventTypeNormal, "RolloutCreated", "Created rollout %s for generation %d", ro.Name, w.Generation)
	s.rollouts = append([]tinyforgev1alpha1.Rollout{*ro}, s.rollouts...)
	return nil
}

// selectRollout picks the newest pending Rollout and supersedes the others,
// and notes whether the newest finished one failed for the current config.
func (r *Reconciler) selectRollout(ctx context.Context, s *scope) error {
	sawFinished := false
	for i := range s.rollouts {
		ro := &s.rollouts[i]
		if !isPending(ro) {
			if !sawFinished && ro.Status.Phase != tinyforgev1alpha1.RolloutPhaseSuperseded {
				sawFinished = true
				if ro.Status.Phase == tinyforgev1alpha1.RolloutPhaseFailed && ro.Annotations[AnnotationConfigHash] == s.hash {
					s.failed = ro
				}
			}
			continue
		}
		if s.target == nil {
			s.target = ro
			continue
		}
		if err := r.setRolloutPhase(ctx, ro, tinyforgev1alpha1.RolloutPhaseSuperseded, tinyforgev1alpha1.RolloutReasonSuperseded,
			fmt.Sprintf("superseded by rollout %s", s.target.Name)); err != nil {
			return err
		}
	}
	return nil
}

// deploy runs the target Rollout, unless it waits for approval.
func (r *Reconciler) deploy(ctx context.Context, s *scope) error {
	ro := s.target
	if ro == nil {
		return nil
	}
	w := s.workload
	log := ctrl.LoggerFrom(ctx).WithValues("rollout", ro.Name)
	if w.Spec.Approval == tinyforgev1alpha1.ApprovalManual && !ro.Spec.Approved {
		if ro.Status.Phase != tinyforgev1alpha1.RolloutPhaseAwaitingApproval {
			if err := r.setRolloutPhase(ctx, ro, tinyforgev1alpha1.RolloutPhaseAwaitingApproval, tinyforgev1alpha1.RolloutReasonAwaitingApproval,
				"approve with: forgectl rollout approve workload/"+w.Name); err != nil {
				return err
			}
			r.event(w, corev1.EventTypeNormal, "AwaitingApproval", "Rollout %s waits for approval", ro.Name)
		}
		s.healthy = w.Status.CurrentRevision != ""
		s.progressing, s.reason = true, tinyforgev1alpha1.WorkloadReasonAwaitingApproval
		s.message = fmt.Sprintf("rollout %s waits for approval: forgectl rollout approve workload/%s", ro.Name, w.Name)
		s.done = true
		return nil
	}

	// Record that the deploy started before starting it, so a restart
	// mid-deploy finds the Rollout Deploying and runs it again.
	now := metav1.Now()
	previous := w.Status.CurrentRevision
	if err := r.patchRollout(ctx, ro, func(ro *tinyforgev1alpha1.Rollout) {
		ro.Status.Phase = tinyforgev1alpha1.RolloutPhaseDeploying
		ro.Status.StartTime = &now
		ro.Status.PreviousRevision = previous
		ro.Status.Message = ""
		ro.Status.ObservedGeneration = ro.Generation
	}); err != nil {
		return err
	}
	if ro.Annotations[AnnotationConfigHash] != s.hash {
		patch := client.MergeFrom(ro.DeepCopy())
		if ro.Annotations == nil {
			ro.Annotations = map[string]string{}
		}
		ro.Annotations[AnnotationConfigHash] = s.hash
		if err := r.Client.Patch(ctx, ro, patch); err != nil {
			return fmt.Errorf("stamping rollout %s: %w", ro.Name, err)
		}
	}
	setDeploying(w, ro, previous)
	if err := r.patchStatus(ctx, s.base, w); err != nil {
		return err
	}
	s.base = w.DeepCopy()
	r.event(w, corev1.EventTypeNormal, "Deploying", "Deploying rollout %s (%s)", ro.Name, ro.Spec.Reason)
	log.Info("Deploying")

	intent := intentFor(ro)
	deadline := s.plugin.Strategy.ProgressDeadline + s.plugin.Strategy.DrainTimeout + time.Minute
	dctx, cancel := context.WithTimeout(ctx, deadline)
	res, err := s.source.Deploy(dctx, r.deps(ctx, s.routes), s.plugin, intent)
	cancel()
	done := metav1.Now()
	if err != nil {
		msg := err.Error()
		if perr := r.patchRollout(ctx, ro, func(ro *tinyforgev1alpha1.Rollout) {
			ro.Status.Phase = tinyforgev1alpha1.RolloutPhaseFailed
			ro.Status.CompletionTime = &done
			ro.Status.Message = msg
			if res.Revision != "" {
				ro.Status.Revision = res.Revision
			}
		}); perr != nil {
			return perr
		}
		setDeployed(w, ro, res)
		serving := "nothing is serving"
		if previous != "" {
			serving = "revision " + previous + " still serving"
		}
		r.event(w, corev1.EventTypeWarning, "DeployFailed", "Rollout %s failed: %s; %s", ro.Name, msg, serving)
		log.Info("Deploy failed", "error", msg)
		s.failed = ro
		return reconcile.Stalling(tinyforgev1alpha1.WorkloadReasonDeployFailed, "rollout %s (revision %s) failed: %s; %s",
			ro.Name, orUnknown(res.Revision), msg, serving)
	}
	if err := r.patchRollout(ctx, ro, func(ro *tinyforgev1alpha1.Rollout) {
		ro.Status.Phase = tinyforgev1alpha1.RolloutPhaseSucceeded
		ro.Status.CompletionTime = &done
		ro.Status.Revision = res.Revision
		ro.Status.Message = res.Message
		ro.Status.Services = serviceStatuses(res.Services)
	}); err != nil {
		return err
	}
	w.Status.CurrentRevision = res.Revision
	w.Status.Endpoints = res.Endpoints
	w.Status.URL = r.url(s.plugin)
	setDeployed(w, ro, res)
	s.plugin.CurrentRevision = res.Revision
	r.event(w, corev1.EventTypeNormal, "Deployed", "Rollout %s deployed revision %s", ro.Name, res.Revision)
	log.Info("Deployed", "revision", res.Revision)
	s.failed = nil
	s.healthy, s.message = true, fmt.Sprintf("revision %s is serving", res.Revision)
	return nil
}

// reconcileDrift puts back what should run: a crashed or removed container
// of the current revision is recreated, and routes are set again.
func (r *Reconciler) reconcileDrift(ctx context.Context, s *scope) error {
	w := s.workload
	if w.Status.CurrentRevision == "" && s.target == nil {
		if s.failed != nil {
			return reconcile.Stalling(tinyforgev1alpha1.WorkloadReasonDeployFailed, "rollout %s failed: %s; nothing is serving",
				s.failed.Name, s.failed.Status.Message)
		}
		s.message = "nothing deployed yet"
		return nil
	}
	res, err := s.source.Reconcile(ctx, r.deps(ctx, s.routes), s.plugin)
	if err != nil {
		return fmt.Errorf("reconciling revision %s: %w", w.Status.CurrentRevision, err)
	}
	if len(res.Recreated) > 0 {
		r.event(w, corev1.EventTypeNormal, "Recreated", "Recreated %s", strings.Join(res.Recreated, ", "))
	}
	if len(res.Endpoints) > 0 {
		w.Status.Endpoints = res.Endpoints
	}
	if w.Status.URL == "" {
		w.Status.URL = r.url(s.plugin)
	}
	if s.failed != nil {
		return reconcile.Stalling(tinyforgev1alpha1.WorkloadReasonDeployFailed, "rollout %s (revision %s) failed: %s; revision %s still serving",
			s.failed.Name, orUnknown(s.failed.Status.Revision), s.failed.Status.Message, w.Status.CurrentRevision)
	}
	// The config the spec asks for is deployed: routes it no longer has
	// (a changed host or path) stop being served.
	if err := s.routes.prune(ctx, s.plugin.Routes); err != nil {
		return err
	}
	if !res.Healthy {
		s.healthy, s.progressing = false, true
		s.reason, s.message = tinyforgev1alpha1.WorkloadReasonDegraded, res.Message
		return nil
	}
	s.healthy = true
	if s.message == "" {
		s.message = fmt.Sprintf("revision %s is serving", w.Status.CurrentRevision)
	}
	return nil
}

// pruneHistory keeps revisionHistoryLimit finished Rollouts.
func (r *Reconciler) pruneHistory(ctx context.Context, s *scope) error {
	limit := tinyforgev1alpha1.DefaultRevisionHistoryLimit
	if l := s.workload.Spec.RevisionHistoryLimit; l != nil {
		limit = *l
	}
	kept := int32(0)
	for i := range s.rollouts {
		ro := &s.rollouts[i]
		if isPending(ro) || ro.Name == s.currentRollout() {
			continue
		}
		if kept < limit {
			kept++
			continue
		}
		if err := r.Client.Delete(ctx, ro); client.IgnoreNotFound(err) != nil {
			return fmt.Errorf("pruning rollout %s: %w", ro.Name, err)
		}
	}
	return nil
}

func (s *scope) currentRollout() string {
	if d := s.workload.Status.LastDeploy; d != nil && d.Phase == tinyforgev1alpha1.RolloutPhaseSucceeded {
		return d.Rollout
	}
	return ""
}

// reconcileDelete tears down what the workload runs, deletes its Rollouts
// and lets it go.
func (r *Reconciler) reconcileDelete(ctx context.Context, w *tinyforgev1alpha1.Workload) (ctrl.Result, error) {
	if !controllerutil.ContainsFinalizer(w, Finalizer) {
		return ctrl.Result{}, nil
	}
	log := ctrl.LoggerFrom(ctx)
	routes := newRouteRecorder(r.Routes, r.Client, w, r.RouteGrace)
	src, err := r.Sources.Lookup(w.Spec.Source.Kind)
	if err == nil {
		pw, perr := pluginWorkload(ctx, r.APIReader, w)
		if perr != nil {
			var waiting *reconcile.WaitingError
			if !errors.As(perr, &waiting) {
				return ctrl.Result{}, perr
			}
		}
		if err := src.Teardown(ctx, r.deps(ctx, routes), pw); err != nil {
			r.event(w, corev1.EventTypeWarning, "TeardownFailed", "Teardown failed: %v", err)
			return ctrl.Result{}, fmt.Errorf("tearing down: %w", err)
		}
	} else {
		// The plugin is gone from this binary: remove its containers by label.
		if err := removeContainers(ctx, r.Docker, w.Namespace, w.Name); err != nil {
			return ctrl.Result{}, err
		}
	}
	// Routes the source did not remove itself (one whose host changed
	// while the old one still served) go with the workload.
	if err := routes.prune(ctx, nil); client.IgnoreNotFound(err) != nil {
		return ctrl.Result{}, err
	}
	if err := r.Client.DeleteAllOf(ctx, &tinyforgev1alpha1.Rollout{}, client.InNamespace(w.Namespace),
		client.MatchingLabels{LabelWorkload: w.Name}); err != nil {
		return ctrl.Result{}, fmt.Errorf("deleting rollouts: %w", err)
	}
	before := w.DeepCopy()
	controllerutil.RemoveFinalizer(w, Finalizer)
	if err := r.Client.Patch(ctx, w, client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{})); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	log.Info("Torn down")
	return ctrl.Result{}, nil
}

func (r *Reconciler) url(pw plugins.Workload) string {
	if r.URLFor == nil || len(pw.Routes) == 0 {
		return ""
	}
	return r.URLFor(pw.Routes[0].Host, pw.Routes[0].PathPrefix)
}

func isPending(ro *tinyforgev1alpha1.Rollout) bool {
	switch ro.Status.Phase {
	case "", tinyforgev1alpha1.RolloutPhasePending, tinyforgev1alpha1.RolloutPhaseAwaitingApproval, tinyforgev1alpha1.RolloutPhaseDeploying:
		return true
	}
	return false
}

func sortNewestFirst(ros []tinyforgev1alpha1.Rollout) {
	sort.SliceStable(ros, func(i, j int) bool {
		ti, tj := ros[i].CreationTimestamp, ros[j].CreationTimestamp
		if !ti.Equal(&tj) {
			return tj.Before(&ti)
		}
		return ros[i].Name > ros[j].Name
	})
}

// rolloutName is <workload>-<suffix>, shortened to fit a name.
func rolloutName(workload, suffix string) string {
	const max = 253
	if len(workload)+1+len(suffix) > max {
		workload = workload[:max-1-len(suffix)]
	}
	return workload + "-" + suffix
}

func orUnknown(s string) string {
	if s == "" {
		return "unresolved"
	}
	return s
}
