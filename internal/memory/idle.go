package memory

import (
	"context"
	"runtime/debug"
	"runtime/metrics"
	"time"

	"github.com/go-logr/logr"
)

// Defaults of ReleaseWhenIdle: a process that allocated less than
// DefaultIdleRate bytes per second for DefaultIdlePeriod is idle.
const (
	DefaultIdlePeriod = 10 * time.Second
	DefaultIdleRate   = 256 << 10
)

// allocsMetric is the cumulative count of bytes allocated on the heap.
const allocsMetric = "/gc/heap/allocs:bytes"

// idleTracker decides, from the cumulative allocation count sampled every
// period, when to release memory: on the first sample of an idle period
// (allocation below rate per second), and not again until the process was
// busy in between.
type idleTracker struct {
	rate     uint64 // bytes per second
	last     uint64
	released bool
}

// observe takes the cumulative allocated bytes after elapsed and tells
// whether to release now.
func (t *idleTracker) observe(allocated uint64, elapsed time.Duration) bool {
	delta := allocated - t.last
	t.last = allocated
	if elapsed <= 0 {
		return false
	}
	perSecond := float64(delta) / elapsed.Seconds()
	if perSecond >= float64(t.rate) {
		t.released = false
		return false
	}
	if t.released {
		return false
	}
	t.released = true
	return true
}

// ReleaseWhenIdle samples the heap allocation rate every period until ctx
// ends, and returns free heap to the operating system each time the
// process turns idle (allocating less than rate bytes per second over a
// period). A zero period or rate takes the defaults.
func ReleaseWhenIdle(ctx context.Context, period time.Duration, rate uint64, log logr.Logger) {
	if period <= 0 {
		period = DefaultIdlePeriod
	}
	if rate == 0 {
		rate = DefaultIdleRate
	}
	sample := []metrics.Sample{{Name: allocsMetric}}
	read := func() uint64 {
		metrics.Read(sample)
		if sample[0].Value.Kind() != metrics.KindUint64 {
			return 0
		}
		return sample[0].Value.Uint64()
	}
	t := &idleTracker{rate: rate, last: read()}
	tick := time.NewTicker(period)
	defer tick.Stop()
	prev := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			if t.observe(read(), now.Sub(prev)) {
				start := time.Now()
				debug.FreeOSMemory()
				log.V(2).Info("Idle: returned free heap to the OS", "took", time.Since(start))
			}
			prev = now
		}
	}
}
