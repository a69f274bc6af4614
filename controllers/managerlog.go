package controllers

import (
	"github.com/go-logr/logr"
)

// What controller-runtime's manager logs when it releases its Lease on
// purpose at shutdown: leader election reports the release as a loss, after
// the stop has begun. A Lease really lost ends Start with that error instead.
const (
	msgAfterStop         = "error received after stop sequence was engaged"
	errLeaderElectionOff = "leader election lost"
)

// quietRelease is a logr.LogSink that drops that one error and passes
// everything else to the sink it wraps.
type quietRelease struct{ sink logr.LogSink }

var _ logr.CallDepthLogSink = quietRelease{}

// QuietDeliberateRelease is log without the error the manager logs when it
// releases its Lease at shutdown, for ctrl.SetLogger.
func QuietDeliberateRelease(log logr.Logger) logr.Logger {
	sink := log.GetSink()
	if sink == nil {
		return log
	}
	if s, ok := sink.(logr.CallDepthLogSink); ok {
		sink = s.WithCallDepth(1) // this wrapper's frame
	}
	return log.WithSink(quietRelease{sink: sink})
}

func (q quietRelease) Init(info logr.RuntimeInfo) { q.sink.Init(info) }

func (q quietRelease) Enabled(level int) bool { return q.sink.Enabled(level) }

func (q quietRelease) Info(level int, msg string, kv ...any) { q.sink.Info(level, msg, kv...) }

func (q quietRelease) Error(err error, msg string, kv ...any) {
	if msg == msgAfterStop && err != nil && err.Error() == errLeaderElectionOff {
		return
	}
	q.sink.Error(err, msg, kv...)
}

func (q quietRelease) WithValues(kv ...any) logr.LogSink {
	return quietRelease{sink: q.sink.WithValues(kv...)}
}

func (q quietRelease) WithName(name string) logr.LogSink {
	return quietRelease{sink: q.sink.WithName(name)}
}

func (q quietRelease) WithCallDepth(depth int) logr.LogSink {
	if s, ok := q.sink.(logr.CallDepthLogSink); ok {
		return quietRelease{sink: s.WithCallDepth(depth)}
	}
	return q
}
