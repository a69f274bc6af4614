package ingress

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Outcomes of a delivery, the values of the outcome label.
const (
	outcomeAccepted    = "accepted"
	outcomeDuplicate   = "duplicate"
	outcomeIgnored     = "ignored"
	outcomePong        = "pong"
	outcomeNotFound    = "not_found"
	outcomeUnverified  = "unauthorized"
	outcomeTooLarge    = "too_large"
	outcomeBadRequest  = "bad_request"
	outcomeRateLimited = "rate_limited"
	outcomeUnavailable = "unavailable"
	outcomeError       = "error"
)

// metrics are the ingress's own, served on its /metrics.
type metrics struct {
	registry   *prometheus.Registry
	deliveries *prometheus.CounterVec
	latency    *prometheus.HistogramVec
}

func newMetrics() *metrics {
	m := &metrics{
		registry: prometheus.NewRegistry(),
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tinyforge_ingress_deliveries_total",
			Help: "Webhook deliveries by provider (empty when not detected), HTTP status code and outcome.",
		}, []string{"provider", "code", "outcome"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "tinyforge_ingress_request_duration_seconds",
			Help:    "Time from receiving a delivery to answering it, by outcome.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}, []string{"outcome"}),
	}
	m.registry.MustRegister(m.deliveries, m.latency, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}
