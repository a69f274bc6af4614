package controllers

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/uuid"
	coordinationv1client "k8s.io/client-go/kubernetes/typed/coordination/v1"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
)

// newLeaseLock is the Lease the manager campaigns for, as controller-runtime
// would build it (identity hostname_uuid, API calls bounded by half the
// renew deadline), but with its LeaderElection Events written at once:
// through the manager's recorder, which sends them in the background and is
// stopped without waiting, a manager that released its Lease at shutdown
// lost its "stopped leading" Event and logged errors about it.
func newLeaseLock(cfg *rest.Config, o *Options) (resourcelock.Interface, error) {
	host, err := os.Hostname()
	if err != nil {
		return nil, fmt.Errorf("naming this manager for leader election: %w", err)
	}
	id := host + "_" + string(uuid.NewUUID())
	cfg = rest.AddUserAgent(rest.CopyConfig(cfg), "leader-election")
	cfg.Timeout = max(o.RenewDeadline/2, time.Second)
	core, err := corev1client.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	coordination, err := coordinationv1client.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	return resourcelock.New(resourcelock.LeasesResourceLock, o.LeaderElectionNamespace, LeaderElectionID,
		core, coordination, resourcelock.ResourceLockConfig{
			Identity:      id,
			EventRecorder: leaseEvents{events: core, component: id, log: ctrl.Log.WithName("leader-election")},
		})
}

// leaseEvents writes the Lease's LeaderElection Events synchronously. They
// are rare: one when a manager takes the Lease, one when it lets go.
type leaseEvents struct {
	events    corev1client.EventsGetter
	component string
	log       logr.Logger
}

// Eventf implements resourcelock.EventRecorder. obj is the Lease, of which
// the lock knows only the name and namespace.
func (r leaseEvents) Eventf(obj runtime.Object, eventType, reason, message string, args ...any) {
	m, err := meta.Accessor(obj)
	if err != nil {
		return
	}
	now := metav1.Now()
	ev := &corev1.Event{
		ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%s.%x", m.GetName(), now.UnixNano()), Namespace: m.GetNamespace()},
		InvolvedObject: corev1.ObjectReference{
			APIVersion: "coordination.k8s.io/v1", Kind: "Lease",
			Namespace: m.GetNamespace(), Name: m.GetName(), UID: m.GetUID(),
		},
		Reason:         reason,
		Message:        fmt.Sprintf(message, args...),
		Type:           eventType,
		Source:         corev1.EventSource{Component: r.component},
		FirstTimestamp: now,
		LastTimestamp:  now,
		Count:          1,
	}
	// The client's timeout bounds the write.
	if _, err := r.events.Events(ev.Namespace).Create(context.Background(), ev, metav1.CreateOptions{}); err != nil {
		r.log.Info("Could not record a leader-election Event", "lease", klog.KObj(m), "message", ev.Message, "err", err)
	}
}
