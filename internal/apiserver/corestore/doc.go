// Package corestore serves the handful of built-in Kubernetes types TinyForge
// needs next to its own resources: core/v1 Namespaces, Secrets, ConfigMaps and
// Events, and coordination.k8s.io/v1 Leases, each a generic etcd-backed store.
package corestore
