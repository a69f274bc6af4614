// Package reconcile owns the three kinds of reconcile error (stalling,
// waiting, generic) and the one place that turns them into kstatus
// conditions (Ready, Reconciling, Stalled) and a controller-runtime result.
package reconcile
