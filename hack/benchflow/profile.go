package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"k8s.io/client-go/rest"

	"github.com/tinyforge/tinyforge/hack/internal/benchkit"
)

// profileServer starts fetching a CPU profile of the server, d long
// (whole seconds, at least one), into path; the returned func waits for it
// and notes where it is. An empty path profiles nothing.
func (b *bench) profileServer(ctx context.Context, path string, d time.Duration, what string) (wait func()) {
	if path == "" {
		return func() {}
	}
	done := make(chan error, 1)
	go func() { done <- fetchProfile(ctx, b.restCfg, max(1, int(d.Seconds())), path) }()
	return func() {
		if err := <-done; err != nil {
			b.rep.note("CPU profile of the server during %s: %v", what, err)
			return
		}
		b.rep.note("CPU profile of the server during %s: %s (go tool pprof %s %s)", what, path, b.o.tinyforge, path)
	}
}

// fetchProfile GETs /debug/pprof/profile?seconds=secs from the API server
// with the admin credentials and writes it to path.
func fetchProfile(ctx context.Context, cfg *rest.Config, secs int, path string) error {
	client, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return fmt.Errorf("building an HTTP client: %w", err)
	}
	u := fmt.Sprintf("%s/debug/pprof/profile?seconds=%d", strings.TrimSuffix(cfg.Host, "/"), secs)
	return benchkit.FetchProfile(ctx, client, u, time.Duration(secs)*time.Second+time.Minute, path)
}
