package apiserver

import (
	"errors"
	"sync/atomic"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

func TestExpectedErrorFilter(t *testing.T) {
	core, logs := observer.New(zapcore.ErrorLevel)
	closing := new(atomic.Bool)
	lg := zap.New(expectedErrorFilter{Core: core, closing: closing}).With(zap.String("member", "tinyforge"))

	lg.Error(etcdServingEnded, zap.Error(errors.New("accept tcp 127.0.0.1:2379: use of closed network connection")))
	lg.Error(etcdStorageVersion, zap.Error(errors.New("cannot detect storage schema version: missing term information")))
	lg.Error(etcdStorageVersion, zap.Error(errors.New("disk full")))
	lg.Error("raft: something else")
	lg.Info(etcdStorageVersion, zap.Error(errors.New("below the level")))
	closing.Store(true)
	lg.Error(etcdServingEnded, zap.Error(errors.New("http: Server closed")))
	lg.Error("raft: after close")

	var got []string
	for _, e := range logs.All() {
		got = append(got, e.Message+": "+errString(e.ContextMap()["error"]))
		if e.ContextMap()["member"] != "tinyforge" {
			t.Errorf("%q lost the logger's fields: %v", e.Message, e.ContextMap())
		}
	}
	want := []string{
		etcdServingEnded + ": accept tcp 127.0.0.1:2379: use of closed network connection",
		etcdStorageVersion + ": disk full",
		"raft: something else: ",
		"raft: after close: ",
	}
	if len(got) != len(want) {
		t.Fatalf("logged\n%q\nwant\n%q", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("entry %d = %q, want %q", i, got[i], want[i])
		}
	}
}

func errString(v any) string {
	if v == nil {
		return ""
	}
	return v.(string)
}
