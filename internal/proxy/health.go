package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/tinyforge/tinyforge/api/v1alpha1"
)

// ErrUnhealthy is wrapped by Deploy when a new backend did not pass its
// health check in time; the route keeps its old backends.
var ErrUnhealthy = errors.New("backend did not become healthy")

// Health check defaults, the same as a Workload's spec.healthCheck.
const (
	DefaultHealthCheckInterval         = 2 * time.Second
	DefaultHealthCheckTimeout          = 2 * time.Second
	DefaultHealthCheckFailureThreshold = 3
)

// maxProbeBody bounds what a probe reads of an answer, to reuse nothing and
// hang on nothing: only the status counts.
const maxProbeBody = 4 << 10

// HealthCheck is an HTTP probe the proxy runs against every backend of a
// route, from the moment it is deployed until it is drained: a new backend
// gets requests only once a probe passed, a serving one stops getting them
// after FailureThreshold probes in a row failed.
type HealthCheck struct {
	// Path is probed with GET; any 2xx or 3xx answer passes. Required.
	Path string
	// Interval between two probes of one backend; 0 means 2s.
	Interval time.Duration
	// Timeout of one probe; 0 means 2s.
	Timeout time.Duration
	// FailureThreshold is how many probes in a row must fail before a
	// serving backend counts as unhealthy; 0 means 3.
	FailureThreshold int
}

// HealthCheckFromSpec turns a Workload's health check into the proxy's, or
// nil when it has no HTTP path (the source then decides health by itself).
// Its port is not used: the proxy probes the backend address it routes to.
func HealthCheckFromSpec(hc *v1alpha1.HealthCheck) *HealthCheck {
	if hc == nil || hc.Path == "" {
		return nil
	}
	out := &HealthCheck{Path: hc.Path, FailureThreshold: int(hc.FailureThreshold)}
	if hc.Interval != nil {
		out.Interval = hc.Interval.Duration
	}
	if hc.Timeout != nil {
		out.Timeout = hc.Timeout.Duration
	}
	return out.withDefaults()
}

func (hc HealthCheck) withDefaults() *HealthCheck {
	if hc.Interval <= 0 {
		hc.Interval = DefaultHealthCheckInterval
	}
	if hc.Timeout <= 0 {
		hc.Timeout = DefaultHealthCheckTimeout
	}
	if hc.FailureThreshold <= 0 {
		hc.FailureThreshold = DefaultHealthCheckFailureThreshold
	}
	return &hc
}

func (hc *HealthCheck) validate() error {
	if hc.Path == "" || hc.Path[0] != '/' {
		return fmt.Errorf("health check path %q must start with /: %w", hc.Path, ErrInvalidRoute)
	}
	return nil
}

// healthObserver is told what a prober concluded, so the prober knows
// nothing of routing and the target nothing of HTTP probes.
type healthObserver interface {
	markHealthy()
	markUnhealthy(err error)
}

var _ healthObserver = (*target)(nil)

// prober probes one backend over fresh connections, so that a backend which
// stopped accepting connections fails even while old keep-alive connections
// still work.
type prober struct {
	url, host string
	check     HealthCheck
	client    *http.Client

	mu      sync.Mutex
	lastErr error
}

func newProber(address, host string, check *HealthCheck) *prober {
	return &prober{
		url:   "http://" + address + check.Path,
		host:  host,
		check: *check,
		client: &http.Client{
			Transport: &http.Transport{DisableKeepAlives: true, DisableCompression: true},
			// A redirect passes: it proves the app answers, and following
			// it could leave the backend.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
}

func (p *prober) run(ctx context.Context, obs healthObserver) {
	failures := 0
	// The first probe goes out at once: a deploy waits on it.
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		err := p.probeOnce(ctx)
		if ctx.Err() != nil {
			return
		}
		p.mu.Lock()
		p.lastErr = err
		p.mu.Unlock()
		if err == nil {
			failures = 0
			obs.markHealthy()
		} else if failures++; failures >= p.check.FailureThreshold {
			obs.markUnhealthy(err)
		}
		timer.Reset(p.check.Interval)
	}
}

func (p *prober) probeOnce(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, p.check.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.url, nil)
	if err != nil {
		return fmt.Errorf("building health probe: %w", err)
	}
	if p.host != "" {
		req.Host = p.host
	}
	req.Header.Set("User-Agent", "tinyforge-proxy-healthcheck")
	resp, err := p.client.Do(req)
	if err != nil {
		return fmt.Errorf("health probe: %w", err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxProbeBody))
	_ = resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 399 {
		return fmt.Errorf("health probe GET %s answered %s", p.check.Path, resp.Status)
	}
	return nil
}

func (p *prober) lastError() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.lastErr
}
