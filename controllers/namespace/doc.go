// Package namespace empties a Namespace that is being deleted, so deleting it
// deletes everything in it as Kubernetes users expect, then lets it go.
package namespace
