package memory

import (
	"context"
	"testing"
	"time"

	"github.com/go-logr/logr"
)

func TestIdleTracker(t *testing.T) {
	const period = 10 * time.Second
	tr := &idleTracker{rate: 1000}
	var total uint64
	steps := []struct {
		name      string
		allocated uint64 // during the period
		release   bool
	}{
		{"busy", 1_000_000, false},
		{"turns idle: release once", 100, true},
		{"still idle: nothing more to do", 100, false},
		{"idle, no allocation at all", 0, false},
		{"busy again", 50_000, false},
		{"idle again: release again", 9_999, true},
		{"rate exactly at the threshold is busy", 10_000, false},
		{"then idle", 0, true},
	}
	for _, s := range steps {
		total += s.allocated
		if got := tr.observe(total, period); got != s.release {
			t.Errorf("%s: release = %v, want %v", s.name, got, s.release)
		}
	}
	if tr.observe(total, 0) {
		t.Error("a sample with no elapsed time released memory")
	}
}

// TestReleaseWhenIdleStops: the loop ends with its context.
func TestReleaseWhenIdleStops(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		ReleaseWhenIdle(ctx, time.Millisecond, 1, logr.Discard())
		close(done)
	}()
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("ReleaseWhenIdle did not return after its context ended")
	}
}
