package apiserver

import (
	"strings"
	"sync/atomic"

	"go.etcd.io/etcd/client/pkg/v3/logutil"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// Errors the embedded etcd logs in the normal course of things, each with a
// stack trace.
const (
	// etcdServingEnded is logged for each of its listeners when Close
	// stops them: three on every clean shutdown.
	etcdServingEnded = "setting up serving from embedded etcd failed."
	// etcdStorageVersion is logged on a new member's first start, when its
	// version monitor runs before raft has stored a term; it tries again
	// and succeeds.
	etcdStorageVersion   = "failed to update storage version"
	etcdMissingTermCause = "missing term information"
)

// newEtcdLogger is the embedded etcd's logger: etcd's own JSON logger at
// error level, to stderr, without the errors above. closing is set once
// the server stops etcd.
func newEtcdLogger(closing *atomic.Bool) (*zap.Logger, error) {
	cfg := logutil.DefaultZapLoggerConfig
	cfg.Level = zap.NewAtomicLevelAt(zapcore.ErrorLevel)
	return cfg.Build(zap.WrapCore(func(c zapcore.Core) zapcore.Core {
		return expectedErrorFilter{Core: c, closing: closing}
	}))
}

// expectedErrorFilter drops the errors etcd logs when nothing is wrong.
type expectedErrorFilter struct {
	zapcore.Core
	closing *atomic.Bool
}

// With implements zapcore.Core.
func (f expectedErrorFilter) With(fields []zapcore.Field) zapcore.Core {
	return expectedErrorFilter{Core: f.Core.With(fields), closing: f.closing}
}

// Check implements zapcore.Core. An entry that may be dropped is written
// through Write, which sees its fields; the others go to the wrapped core.
func (f expectedErrorFilter) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	switch {
	case e.Message == etcdServingEnded && f.closing.Load():
		return ce
	case e.Message == etcdStorageVersion && f.Enabled(e.Level):
		return ce.AddCore(e, f)
	}
	return f.Core.Check(e, ce)
}

// Write implements zapcore.Core.
func (f expectedErrorFilter) Write(e zapcore.Entry, fields []zapcore.Field) error {
	if e.Message == etcdStorageVersion {
		for _, fl := range fields {
			if err, ok := fl.Interface.(error); ok && fl.Type == zapcore.ErrorType && strings.Contains(err.Error(), etcdMissingTermCause) {
				return nil
			}
		}
	}
	return f.Core.Write(e, fields)
}
