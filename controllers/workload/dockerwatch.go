package workload

import (
	"context"
	"fmt"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/events"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"

	tinyforgev1alpha1 "github.com/tinyforge/tinyforge/api/v1alpha1"
	"github.com/tinyforge/tinyforge/internal/docker"
)

// dockerWatcher turns Docker's container events into reconciles of the
// workloads they belong to, so a container that dies or is removed by hand
// is back within seconds, and it removes TinyForge containers that no
// Workload owns. It runs on the leader only.
type dockerWatcher struct {
	r      *Reconciler
	client client.Client
}

// NeedLeaderElection keeps standbys from acting on Docker.
func (*dockerWatcher) NeedLeaderElection() bool { return true }

// Start watches until ctx ends, reconnecting after errors.
func (d *dockerWatcher) Start(ctx context.Context) error {
	log := ctrl.LoggerFrom(ctx).WithName("docker-watcher")
	sweep := time.NewTicker(d.r.ResyncPeriod)
	defer sweep.Stop()
	d.removeOrphans(ctx)
	backoff := time.Second
	for ctx.Err() == nil {
		f := docker.ManagedFilter()
		f.Add("type", string(events.ContainerEventType))
		for _, a := range []events.Action{events.ActionDie, events.ActionDestroy, events.ActionOOM, events.ActionStop} {
			f.Add("event", string(a))
		}
		msgs, errs := d.r.Docker.Events(ctx, events.ListOptions{Filters: f})
	watch:
		for {
			select {
			case <-ctx.Done():
				return nil
			case <-sweep.C:
				d.removeOrphans(ctx)
			case m := <-msgs:
				backoff = time.Second
				ns, name := m.Actor.Attributes[docker.LabelNamespace], m.Actor.Attributes[docker.LabelWorkload]
				if ns == "" || name == "" {
					continue
				}
				w := &tinyforgev1alpha1.Workload{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
				select {
				case d.r.dockerEvents <- event.GenericEvent{Object: w}:
				case <-ctx.Done():
					return nil
				}
			case err := <-errs:
				if ctx.Err() != nil {
					return nil
				}
				log.Error(err, "Docker event stream ended; reconnecting", "after", backoff)
				break watch
			}
		}
		select {
		case <-ctx.Done():
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 30*time.Second)
	}
	return nil
}

// removeOrphans removes managed containers whose Workload is gone.
func (d *dockerWatcher) removeOrphans(ctx context.Context) {
	log := ctrl.LoggerFrom(ctx).WithName("docker-watcher")
	list, err := d.r.Docker.ContainerList(ctx, container.ListOptions{All: true, Filters: docker.ManagedFilter()})
	if err != nil {
		log.Error(err, "Listing managed containers")
		return
	}
	seen := map[client.ObjectKey]bool{}
	for _, c := range list {
		key := client.ObjectKey{Namespace: c.Labels[docker.LabelNamespace], Name: c.Labels[docker.LabelWorkload]}
		if key.Namespace == "" || key.Name == "" || seen[key] {
			continue
		}
		seen[key] = true
		err := d.client.Get(ctx, key, &tinyforgev1alpha1.Workload{})
		if !apierrors.IsNotFound(err) {
			continue
		}
		log.Info("Removing containers of a workload that no longer exists", "workload", key)
		if err := removeContainers(ctx, d.r.Docker, key.Namespace, key.Name); err != nil {
			log.Error(err, "Removing orphaned containers", "workload", key)
		}
	}
}

// removeContainers force-removes every container of a workload.
func removeContainers(ctx context.Context, api docker.API, namespace, workload string) error {
	list, err := api.ContainerList(ctx, container.ListOptions{All: true, Filters: docker.WorkloadFilter(namespace, workload)})
	if err != nil {
		return fmt.Errorf("listing containers of %s/%s: %w", namespace, workload, err)
	}
	for _, c := range list {
		if err := api.ContainerRemove(ctx, c.ID, container.RemoveOptions{Force: true, RemoveVolumes: true}); err != nil {
			return fmt.Errorf("removing container %s: %w", c.ID, err)
		}
	}
	return nil
}
