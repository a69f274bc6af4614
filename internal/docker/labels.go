package docker

import (
	"github.com/docker/docker/api/types/filters"
)

// Labels on every Docker object TinyForge creates (containers, networks,
// volumes, images it builds). With them Docker is the record of what runs:
// a restarted controller finds its objects by label, and objects whose
// workload no longer exists are removed.
const (
	// LabelNamespace is the namespace of the owning Workload.
	LabelNamespace = "tinyforge.dev/namespace"
	// LabelWorkload is the name of the owning Workload.
	LabelWorkload = "tinyforge.dev/workload"
	// LabelRevision is the revision the object belongs to (an image digest,
	// a git commit or a config hash).
	LabelRevision = "tinyforge.dev/revision"
	// LabelRollout is the Rollout that created the object.
	LabelRollout = "tinyforge.dev/rollout"
	// LabelManagedBy marks objects TinyForge manages, with the value
	// ManagedByValue; objects without it are never touched.
	LabelManagedBy = "app.kubernetes.io/managed-by"
	// ManagedByValue is the value of LabelManagedBy.
	ManagedByValue = "tinyforge"
)

// Labels returns the labels for an object of the workload namespace/workload.
// Revision and rollout are left out when empty, for objects shared by all
// revisions (such as a workload's network or volumes). The map is new; the
// caller may add to it.
func Labels(namespace, workload, revision, rollout string) map[string]string {
	l := map[string]string{
		LabelManagedBy: ManagedByValue,
		LabelNamespace: namespace,
		LabelWorkload:  workload,
	}
	if revision != "" {
		l[LabelRevision] = revision
	}
	if rollout != "" {
		l[LabelRollout] = rollout
	}
	return l
}

// ManagedFilter selects every object TinyForge manages, for the sweep that
// removes objects whose workload is gone.
func ManagedFilter() filters.Args {
	return filters.NewArgs(filters.Arg("label", LabelManagedBy+"="+ManagedByValue))
}

// WorkloadFilter selects the objects of the workload namespace/workload, of
// every revision. Use it in ContainerList, NetworkList, VolumeList and
// Events options.
func WorkloadFilter(namespace, workload string) filters.Args {
	f := ManagedFilter()
	f.Add("label", LabelNamespace+"="+namespace)
	f.Add("label", LabelWorkload+"="+workload)
	return f
}

// RevisionFilter selects the objects of one revision of the workload
// namespace/workload.
func RevisionFilter(namespace, workload, revision string) filters.Args {
	f := WorkloadFilter(namespace, workload)
	f.Add("label", LabelRevision+"="+revision)
	return f
}
