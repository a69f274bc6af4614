// Package controllers assembles TinyForge's controller manager: the scheme,
// leader election on a coordination.k8s.io Lease, and the controllers of each
// resource, which live in the packages below this one.
package controllers
