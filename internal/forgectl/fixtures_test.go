package forgectl

import (
	"bytes"
	"context"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	tinyforgev1alpha1 "github.com/tinyforge/tinyforge/api/v1alpha1"
	workloadctrl "github.com/tinyforge/tinyforge/controllers/workload"
)

// testNow is the clock of every fixture: ages are computed against it.
var testNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func ago(d time.Duration) *metav1.Time {
	t := metav1.NewTime(testNow.Add(-d))
	return &t
}

// digest is a sha256 digest made of one repeated hex digit.
func digest(c string) string {
	b := make([]byte, 64)
	for i := range b {
		b[i] = c[0]
	}
	return "sha256:" + string(b)
}

type rolloutOption func(*tinyforgev1alpha1.Rollout)

// newRollout is a Rollout of workload web in namespace default, created an
// hour before testNow, Pending.
func newRollout(name string, opts ...rolloutOption) tinyforgev1alpha1.Rollout {
	ro := tinyforgev1alpha1.Rollout{
		ObjectMeta: metav1.ObjectMeta{
			Name:              name,
			Namespace:         "default",
			Labels:            map[string]string{workloadctrl.LabelWorkload: "web"},
			CreationTimestamp: *ago(time.Hour),
		},
		Spec: tinyforgev1alpha1.RolloutSpec{
			WorkloadRef: tinyforgev1alpha1.LocalObjectReference{Name: "web"},
			Reason:      tinyforgev1alpha1.CauseConfigChange,
		},
	}
	for _, o := range opts {
		o(&ro)
	}
	return ro
}

func forWorkload(name string) rolloutOption {
	return func(ro *tinyforgev1alpha1.Rollout) {
		ro.Spec.WorkloadRef.Name = name
		ro.Labels[workloadctrl.LabelWorkload] = name
	}
}

func createdAgo(d time.Duration) rolloutOption {
	return func(ro *tinyforgev1alpha1.Rollout) { ro.CreationTimestamp = *ago(d) }
}

func withPhase(p tinyforgev1alpha1.RolloutPhase) rolloutOption {
	return func(ro *tinyforgev1alpha1.Rollout) { ro.Status.Phase = p }
}

// succeeded deployed revision rev, taking 30s, ending end ago.
func succeeded(rev string, end time.Duration) rolloutOption {
	return func(ro *tinyforgev1alpha1.Rollout) {
		ro.Status.Phase = tinyforgev1alpha1.RolloutPhaseSucceeded
		ro.Status.Revision = rev
		ro.Status.StartTime = ago(end + 30*time.Second)
		ro.Status.CompletionTime = ago(end)
		ro.Status.Message = "revision " + rev + " is serving"
	}
}

func failed(rev, msg string) rolloutOption {
	return func(ro *tinyforgev1alpha1.Rollout) {
		ro.Status.Phase = tinyforgev1alpha1.RolloutPhaseFailed
		ro.Status.Revision = rev
		ro.Status.StartTime = ago(2 * time.Minute)
		ro.Status.CompletionTime = ago(time.Minute)
		ro.Status.Message = msg
	}
}

func pinned(rev string) rolloutOption {
	return func(ro *tinyforgev1alpha1.Rollout) { ro.Spec.Revision = rev }
}

func reason(r tinyforgev1alpha1.RolloutCause) rolloutOption {
	return func(ro *tinyforgev1alpha1.Rollout) { ro.Spec.Reason = r }
}

func approved() rolloutOption {
	return func(ro *tinyforgev1alpha1.Rollout) { ro.Spec.Approved = true }
}

func withIntent(in tinyforgev1alpha1.DeploymentIntent) rolloutOption {
	return func(ro *tinyforgev1alpha1.Rollout) { ro.Spec.Intent = &in }
}

func withMessage(m string) rolloutOption {
	return func(ro *tinyforgev1alpha1.Rollout) { ro.Status.Message = m }
}

func startedAgo(d time.Duration) rolloutOption {
	return func(ro *tinyforgev1alpha1.Rollout) { ro.Status.StartTime = ago(d) }
}

type workloadOption func(*tinyforgev1alpha1.Workload)

// newWorkload is an observed Workload in namespace default with no
// conditions.
func newWorkload(name string, opts ...workloadOption) *tinyforgev1alpha1.Workload {
	w := &tinyforgev1alpha1.Workload{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", Generation: 1, UID: types.UID("uid-" + name)},
		Spec: tinyforgev1alpha1.WorkloadSpec{
			Source: tinyforgev1alpha1.WorkloadSource{Kind: "image"},
		},
		Status: tinyforgev1alpha1.WorkloadStatus{ObservedGeneration: 1},
	}
	for _, o := range opts {
		o(w)
	}
	return w
}

func generation(gen, observed int64) workloadOption {
	return func(w *tinyforgev1alpha1.Workload) {
		w.Generation, w.Status.ObservedGeneration = gen, observed
	}
}

func condition(typ string, status metav1.ConditionStatus, reason, msg string) workloadOption {
	return func(w *tinyforgev1alpha1.Workload) {
		meta.SetStatusCondition(&w.Status.Conditions, metav1.Condition{
			Type: typ, Status: status, Reason: reason, Message: msg, ObservedGeneration: w.Generation,
		})
	}
}

// ready is Ready=True with the controller's message for rev.
func ready(rev string) workloadOption {
	return func(w *tinyforgev1alpha1.Workload) {
		w.Status.CurrentRevision = rev
		condition(tinyforgev1alpha1.ConditionReady, metav1.ConditionTrue, tinyforgev1alpha1.ReasonSucceeded,
			"revision "+rev+" is serving")(w)
	}
}

// stalled is the controller's summary of a failed deploy.
func stalled(reason, msg string) workloadOption {
	return func(w *tinyforgev1alpha1.Workload) {
		condition(tinyforgev1alpha1.ConditionStalled, metav1.ConditionTrue, reason, msg)(w)
		condition(tinyforgev1alpha1.ConditionReconciling, metav1.ConditionFalse, reason, "")(w)
		condition(tinyforgev1alpha1.ConditionReady, metav1.ConditionFalse, reason, msg)(w)
	}
}

func currentRevisionIs(rev string) workloadOption {
	return func(w *tinyforgev1alpha1.Workload) { w.Status.CurrentRevision = rev }
}

func suspended() workloadOption {
	return func(w *tinyforgev1alpha1.Workload) { w.Spec.Suspend = true }
}

func deleting() workloadOption {
	return func(w *tinyforgev1alpha1.Workload) {
		w.DeletionTimestamp = ago(time.Second)
		w.Finalizers = []string{workloadctrl.Finalizer}
	}
}

// newFakeClient is a client over objs with status subresources, as the
// server has them.
func newFakeClient(objs ...client.Object) client.WithWatch {
	return fake.NewClientBuilder().
		WithScheme(scheme()).
		WithObjects(objs...).
		WithStatusSubresource(&tinyforgev1alpha1.Workload{}, &tinyforgev1alpha1.Rollout{}).
		Build()
}

// objects turns Rollouts into client objects for newFakeClient.
func objects(w *tinyforgev1alpha1.Workload, rollouts ...tinyforgev1alpha1.Rollout) []client.Object {
	var objs []client.Object
	if w != nil {
		objs = append(objs, w)
	}
	for i := range rollouts {
		objs = append(objs, &rollouts[i])
	}
	return objs
}

// updateStatus reads obj afresh, applies mutate and writes its status, as
// the controller would.
func updateStatus(t *testing.T, c client.Client, obj client.Object, mutate func()) {
	t.Helper()
	ctx := context.Background()
	if err := c.Get(ctx, client.ObjectKeyFromObject(obj), obj); err != nil {
		t.Fatal(err)
	}
	mutate()
	if err := c.Status().Update(ctx, obj); err != nil {
		t.Fatal(err)
	}
}

// waitFor polls cond until it holds, failing the test after a deadline.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// syncBuffer is a bytes.Buffer safe for a command writing on one goroutine
// while the test reads on another.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func inNamespace(ns string) workloadOption {
	return func(w *tinyforgev1alpha1.Workload) { w.Namespace = ns }
}
