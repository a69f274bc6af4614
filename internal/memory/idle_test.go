package memory

import (
	"context"
	"runtime/debug"
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

func TestBusyTracker(t *testing.T) {
	tr := &busyTracker{rate: 1000}
	var total uint64
	for _, s := range []struct {
		name      string
		allocated uint64 // during one second
		busy      bool
	}{
		{"idle", 10, false},
		{"busy", 1000, true},
		{"still busy", 5000, true},
		{"below the rate", 999, false},
	} {
		total += s.allocated
		if got := tr.observe(total, time.Second); got != s.busy {
			t.Errorf("%s: busy = %v, want %v", s.name, got, s.busy)
		}
	}
	if tr.observe(total+1e9, 0) {
		t.Error("a sample with no elapsed time was busy")
	}
}

// TestReleaseWhenIdleTunesGC: a process that allocates fast collects at
// the busy target, and at the idle one once it stopped for a period.
func TestReleaseWhenIdleTunesGC(t *testing.T) {
	orig := debug.SetGCPercent(77)
	defer debug.SetGCPercent(orig)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		ReleaseWhenIdle(ctx, Options{
			IdlePeriod: 50 * time.Millisecond, IdleRate: 1 << 20, BusyRate: 8 << 20,
			TuneGC: true, BusyGCPercent: 120, IdleGCPercent: 40,
		}, logr.Discard())
		close(done)
	}()
	defer func() {
		cancel()
		<-done
	}()
	gcPercent := func() int {
		p := debug.SetGCPercent(-1)
		debug.SetGCPercent(p)
		return p
	}
	var sink [][]byte
	deadline := time.Now().Add(20 * time.Second)
	for gcPercent() != 120 {
		if time.Now().After(deadline) {
			t.Fatalf("GC percent is %d after busy allocation, want 120", gcPercent())
		}
		// About 64 MiB/s, far above the busy rate.
		for range 64 {
			sink = append(sink, make([]byte, 1<<10))
		}
		if len(sink) > 1<<14 {
			sink = sink[:0]
		}
		time.Sleep(time.Millisecond)
	}
	sink = nil
	for gcPercent() != 40 {
		if time.Now().After(deadline) {
			t.Fatalf("GC percent is %d after the allocation stopped, want 40", gcPercent())
		}
		time.Sleep(10 * time.Millisecond)
	}
	_ = sink
}

// TestReleaseWhenIdleStops: the loop ends with its context.
func TestReleaseWhenIdleStops(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		ReleaseWhenIdle(ctx, Options{IdlePeriod: time.Millisecond, IdleRate: 1}, logr.Discard())
		close(done)
	}()
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("ReleaseWhenIdle did not return after its context ended")
	}
}
