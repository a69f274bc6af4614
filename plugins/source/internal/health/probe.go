package health

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"
)

// Prober sends the HTTP health probes of one container.
type Prober struct {
	url    string
	client *http.Client
}

// NewProber probes url, giving each probe timeout to answer. Close it when
// done.
func NewProber(url string, timeout time.Duration) *Prober {
	return &Prober{url: url, client: &http.Client{
		Timeout: timeout,
		// A fresh connection per probe, as a restarted server would see
		// it, and no proxy from the environment: the target is local.
		Transport: &http.Transport{DisableKeepAlives: true, Proxy: nil},
		// A redirect answer passes; following it could leave loopback.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// URL is what p probes, for messages.
func (p *Prober) URL() string { return p.url }

// Get probes once: any 2xx or 3xx answer passes.
func (p *Prober) Get(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.url, nil)
	if err != nil {
		return err
	}
	req.Header.Set("User-Agent", "tinyforge-health/1")
	resp, err := p.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode >= 400 {
		return fmt.Errorf("answered %s", resp.Status)
	}
	return nil
}

// Close releases the prober's connections.
func (p *Prober) Close() { p.client.CloseIdleConnections() }
