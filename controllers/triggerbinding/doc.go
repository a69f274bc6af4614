// Package triggerbinding owns the TriggerBinding controller: it resolves a
// binding's Trigger and Workload and shows the effective config, the
// trigger's config with the binding's override merged over it.
package triggerbinding
