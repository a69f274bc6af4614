// Package ingress owns the webhook ingress: an HTTP listener, routed with
// go-restful, that accepts provider deliveries at POST /hooks/<webhookPath>,
// verifies and normalizes them (package webhook), and stores each as an
// Event resource for the Event controller to fan out. It answers at once
// and never waits for a deploy.
package ingress
