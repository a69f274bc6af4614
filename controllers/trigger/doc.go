// Package trigger owns the Trigger controller: it generates webhook token
// Secrets, publishes each trigger's webhook path, and, on the leader, fires
// cron schedules and polls triggers that look for changes themselves.
package trigger
