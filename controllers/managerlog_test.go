package controllers

import (
	"errors"
	"strings"
	"testing"

	"github.com/go-logr/logr/funcr"
)

func TestManagerLoggerDropsOnlyTheDeliberateRelease(t *testing.T) {
	var lines []string
	log := QuietDeliberateRelease(funcr.New(func(prefix, args string) {
		lines = append(lines, prefix+" "+args)
	}, funcr.Options{}))

	log.Error(errors.New(errLeaderElectionOff), msgAfterStop)
	log.WithName("manager").WithValues("k", "v").Error(errors.New(errLeaderElectionOff), msgAfterStop)
	log.Error(errors.New("cache sync timed out"), msgAfterStop)
	log.Error(errors.New(errLeaderElectionOff), "problem running manager")
	log.WithName("manager").Info("Stopping and waiting for caches")

	want := []string{
		`"msg"="error received after stop sequence was engaged" "error"="cache sync timed out"`,
		`"msg"="problem running manager" "error"="leader election lost"`,
		`manager "level"=0 "msg"="Stopping and waiting for caches"`,
	}
	if len(lines) != len(want) {
		t.Fatalf("logged\n%s\nwant %d lines", strings.Join(lines, "\n"), len(want))
	}
	for i, w := range want {
		if !strings.Contains(lines[i], w) {
			t.Errorf("line %d = %q, want it to contain %q", i, lines[i], w)
		}
	}
}
