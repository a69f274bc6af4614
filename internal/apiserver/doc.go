// Package apiserver wires TinyForge's kube-compatible API server: embedded or
// external etcd, the apiextensions server serving TinyForge's CRDs, the core
// types next to them, token authentication, group authorization and the
// admission that asks the plugins to validate their config.
package apiserver
