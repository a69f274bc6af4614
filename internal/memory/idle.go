package memory

import (
	"context"
	"runtime/debug"
	"runtime/metrics"
	"time"

	"github.com/go-logr/logr"
)

// Defaults of Options.
const (
	// DefaultIdlePeriod and DefaultIdleRate: a process that allocated less
	// than DefaultIdleRate bytes per second over DefaultIdlePeriod is idle.
	DefaultIdlePeriod = 10 * time.Second
	DefaultIdleRate   = 256 << 10
	// DefaultBusyRate: a process that allocates this many bytes in one
	// second is busy (an API server creating a few dozen objects a second
	// allocates several times more).
	DefaultBusyRate = 4 << 20
	// DefaultBusyGCPercent and DefaultIdleGCPercent are the collector's
	// targets while busy (Go's default: collect at twice the live heap) and
	// idle (at 1.5 times, which keeps tens of MiB less resident).
	DefaultBusyGCPercent = 100
	DefaultIdleGCPercent = 50
)

// allocsMetric is the cumulative count of bytes allocated on the heap.
const allocsMetric = "/gc/heap/allocs:bytes"

// Options tune ReleaseWhenIdle; zero fields take the defaults.
type Options struct {
	IdlePeriod time.Duration
	IdleRate   uint64 // bytes per second
	BusyRate   uint64 // bytes per second
	// TuneGC switches the collector's target between BusyGCPercent and
	// IdleGCPercent. Leave it off when the user chose one (GOGC is set).
	TuneGC                       bool
	BusyGCPercent, IdleGCPercent int
}

func (o *Options) complete() {
	if o.IdlePeriod <= 0 {
		o.IdlePeriod = DefaultIdlePeriod
	}
	if o.IdleRate == 0 {
		o.IdleRate = DefaultIdleRate
	}
	if o.BusyRate == 0 {
		o.BusyRate = DefaultBusyRate
	}
	if o.BusyGCPercent == 0 {
		o.BusyGCPercent = DefaultBusyGCPercent
	}
	if o.IdleGCPercent == 0 {
		o.IdleGCPercent = DefaultIdleGCPercent
	}
}

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

// busyTracker tells, from the cumulative allocation count sampled every
// second or so, when a process that was idle got busy.
type busyTracker struct {
	rate uint64 // bytes per second
	last uint64
}

func (t *busyTracker) observe(allocated uint64, elapsed time.Duration) bool {
	delta := allocated - t.last
	t.last = allocated
	return elapsed > 0 && float64(delta)/elapsed.Seconds() >= float64(t.rate)
}

// busySample is how often ReleaseWhenIdle looks for a busy process.
const busySample = time.Second

// ReleaseWhenIdle watches the heap allocation rate until ctx ends, and
// returns free heap to the operating system each time the process turns
// idle (allocating less than IdleRate bytes per second over IdlePeriod).
// With TuneGC, an idle process collects at IdleGCPercent, and within a
// second of getting busy (BusyRate) at BusyGCPercent again: the server
// spends less CPU on collection under load and holds less memory idle.
func ReleaseWhenIdle(ctx context.Context, o Options, log logr.Logger) {
	o.complete()
	sample := []metrics.Sample{{Name: allocsMetric}}
	read := func() uint64 {
		metrics.Read(sample)
		if sample[0].Value.Kind() != metrics.KindUint64 {
			return 0
		}
		return sample[0].Value.Uint64()
	}
	start := read()
	idle := &idleTracker{rate: o.IdleRate, last: start}
	busy := &busyTracker{rate: o.BusyRate, last: start}
	busyGC := false
	setGC := func(toBusy bool) {
		if !o.TuneGC || busyGC == toBusy {
			return
		}
		busyGC = toBusy
		percent := o.IdleGCPercent
		if toBusy {
			percent = o.BusyGCPercent
		}
		debug.SetGCPercent(percent)
		log.V(2).Info("Collector target changed", "busy", toBusy, "gcPercent", percent)
	}
	tick := time.NewTicker(min(busySample, o.IdlePeriod))
	defer tick.Stop()
	prevBusy, prevIdle := time.Now(), time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			allocated := read()
			if busy.observe(allocated, now.Sub(prevBusy)) {
				setGC(true)
			}
			prevBusy = now
			if now.Sub(prevIdle) < o.IdlePeriod {
				continue
			}
			if idle.observe(allocated, now.Sub(prevIdle)) {
				setGC(false)
				start := time.Now()
				debug.FreeOSMemory()
				log.V(2).Info("Idle: returned free heap to the OS", "took", time.Since(start))
			}
			prevIdle = now
		}
	}
}
