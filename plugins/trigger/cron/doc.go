// Package cron is the "cron" trigger plugin: on a schedule in a time zone, it
// redeploys each bound workload's current spec, so moving tags and branches
// are fetched again.
package cron
