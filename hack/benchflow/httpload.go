package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// requestTimeout bounds one request of a load run or a poll.
const requestTimeout = 5 * time.Second

// loadResult is what one timed load run achieved.
type loadResult struct {
	ok, failed int
	elapsed    time.Duration
	lat        []time.Duration
	firstErr   error
}

func (r loadResult) rate() float64 {
	if r.elapsed <= 0 {
		return 0
	}
	return float64(r.ok) / r.elapsed.Seconds()
}

// keepAliveClient is an HTTP client that keeps up to conns connections
// open to one host, with no proxy from the environment and no compression.
func keepAliveClient(conns int) *http.Client {
	return &http.Client{
		Timeout: requestTimeout,
		Transport: &http.Transport{
			Proxy:               nil,
			DialContext:         (&net.Dialer{Timeout: requestTimeout, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConns:        conns,
			MaxIdleConnsPerHost: conns,
			MaxConnsPerHost:     conns,
			IdleConnTimeout:     time.Minute,
			DisableCompression:  true,
		},
	}
}

// runLoad runs conns workers, each on its own keep-alive connection, for
// d: each sends do(ctx, client, worker, i) in a loop, i counting the
// worker's requests. One request per worker first opens the connections
// and is not counted.
func runLoad(ctx context.Context, conns int, d time.Duration, do func(ctx context.Context, c *http.Client, worker, i int) error) loadResult {
	c := keepAliveClient(conns)
	defer c.CloseIdleConnections()
	var wg sync.WaitGroup
	for w := range conns {
		wg.Go(func() { _ = do(ctx, c, w, -1) })
	}
	wg.Wait()

	var (
		mu  sync.Mutex
		res loadResult
	)
	start := time.Now()
	end := start.Add(d)
	for w := range conns {
		wg.Go(func() {
			lat := make([]time.Duration, 0, 4096)
			var failed int
			var firstErr error
			for i := 0; ctx.Err() == nil; i++ {
				t := time.Now()
				if !t.Before(end) {
					break
				}
				err := do(ctx, c, w, i)
				if err != nil {
					failed++
					if firstErr == nil {
						firstErr = err
					}
					continue
				}
				lat = append(lat, time.Since(t))
			}
			mu.Lock()
			defer mu.Unlock()
			res.lat = append(res.lat, lat...)
			res.failed += failed
			if res.firstErr == nil {
				res.firstErr = firstErr
			}
		})
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	res.ok = len(res.lat)
	return res
}

// getOK sends GET url with the Host header host (the URL's when empty),
// reads the body to its end and wants 200.
func getOK(ctx context.Context, c *http.Client, url, host string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	if host != "" {
		req.Host = host
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s (Host %s): %s", url, host, resp.Status)
	}
	return nil
}

// get is one GET of url with the Host header host; it returns the status
// code and the start of the body.
func get(ctx context.Context, c *http.Client, url, host string) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, "", err
	}
	if host != "" {
		req.Host = host
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4096))
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, string(body), err
}

// pollUntil GETs url (Host host) every `every` until it answers 200 with a
// body containing want, and returns when it did.
func pollUntil(ctx context.Context, c *http.Client, url, host, want string, every, timeout time.Duration) (time.Time, error) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(every)
	defer tick.Stop()
	last := "no answer yet"
	for {
		code, body, err := get(ctx, c, url, host)
		if err == nil && code == http.StatusOK && strings.Contains(body, want) {
			return time.Now(), nil
		}
		if err != nil {
			last = err.Error()
		} else {
			last = fmt.Sprintf("%d %q", code, strings.TrimSpace(body))
		}
		select {
		case <-tick.C:
		case <-deadline.C:
			return time.Time{}, fmt.Errorf("%s (Host %s) did not answer %q within %s; last answer: %s", url, host, want, timeout, last)
		case <-ctx.Done():
			return time.Time{}, ctx.Err()
		}
	}
}

// ---- statistics ----

// percentile is the nearest-rank p-quantile (0 < p <= 1) of ds; -1 when
// ds is empty.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return -1
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(p*float64(len(s))+0.999999) - 1
	return s[max(0, min(len(s)-1, i))]
}

// median is the middle of ds (the mean of the two middle ones for an even
// count); -1 when ds is empty.
func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return -1
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// spread formats the median with the minimum and maximum of ds.
func spread(ds []time.Duration) string {
	if len(ds) == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%s (min %s, max %s)", fmtDur(median(ds)), fmtDur(slices.Min(ds)), fmtDur(slices.Max(ds)))
}

// p50p99 formats the 50th and 99th percentiles of ds.
func p50p99(ds []time.Duration) string {
	if len(ds) == 0 {
		return "n/a"
	}
	return fmtDur(percentile(ds, 0.50)) + " / " + fmtDur(percentile(ds, 0.99))
}

func fmtDur(d time.Duration) string {
	switch {
	case d < 0:
		return "n/a"
	case d < 10*time.Millisecond:
		return d.Round(10 * time.Microsecond).String()
	default:
		return d.Round(time.Millisecond).String()
	}
}

// errSummary sums up a load run's failures, or "" when there were none.
func (r loadResult) errSummary() string {
	if r.failed == 0 {
		return ""
	}
	return fmt.Sprintf("%d of %d requests failed, first: %v", r.failed, r.ok+r.failed, r.firstErr)
}
