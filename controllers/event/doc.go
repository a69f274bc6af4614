// Package event owns the Event controller: it fans a new Event out to its
// Trigger's bindings, asks Trigger.Match for each, creates one Rollout per
// match, records every binding's outcome, and deletes Events past their TTL.
package event
