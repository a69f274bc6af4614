// Package workload reconciles Workloads: it turns spec changes into
// Rollouts, runs the newest one through its source plugin's Deploy, keeps
// the running revision as declared with Reconcile, and tears everything down
// on delete. It is the only code that acts on Docker for a workload.
package workload
