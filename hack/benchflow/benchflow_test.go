package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	tinyforgev1alpha1 "github.com/tinyforge/tinyforge/api/v1alpha1"
	"github.com/tinyforge/tinyforge/internal/ingress/webhook"
	"github.com/tinyforge/tinyforge/plugins"
)

func TestParseRunID(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		wantPID int
		wantOK  bool
	}{
		{name: "made by newRunID", in: fmt.Sprintf("benchflow-%d-0a1b2c3d", 4242), wantPID: 4242, wantOK: true},
		{name: "another prefix", in: "bench-4242-0a1b2c3d"},
		{name: "no pid", in: "benchflow--0a1b2c3d"},
		{name: "pid not a number", in: "benchflow-42x-0a1b2c3d"},
		{name: "signed pid", in: "benchflow-+42-0a1b2c3d"},
		{name: "zero pid", in: "benchflow-0-0a1b2c3d"},
		{name: "leading zero", in: "benchflow-01-0a1b2c3d"},
		{name: "pid too long", in: "benchflow-12345678901-0a1b2c3d"},
		{name: "suffix too short", in: "benchflow-42-0a1b2c"},
		{name: "suffix not hex", in: "benchflow-42-0a1b2c3g"},
		{name: "suffix upper case", in: "benchflow-42-0A1B2C3D"},
		{name: "temp dir suffix left on", in: "benchflow-42-0a1b2c3d.123"},
		{name: "empty", in: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pid, ok := parseRunID(tt.in)
			if pid != tt.wantPID || ok != tt.wantOK {
				t.Errorf("parseRunID(%q) = %d, %t; want %d, %t", tt.in, pid, ok, tt.wantPID, tt.wantOK)
			}
		})
	}
	t.Run("own run ID", func(t *testing.T) {
		id := newRunID()
		if pid, ok := parseRunID(id); !ok || pid != os.Getpid() {
			t.Errorf("parseRunID(%q) = %d, %t; want this process's pid", id, pid, ok)
		}
		if !runAlive(id) {
			t.Errorf("this process's run %s counts as gone", id)
		}
	})
}

func FuzzParseRunID(f *testing.F) {
	for _, s := range []string{"benchflow-4242-0a1b2c3d", "benchflow-1-ffffffff", "benchflow--", "benchflow-9999999999-00000000", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		pid, ok := parseRunID(s)
		if !ok {
			return
		}
		// Whatever parses names a positive pid and prints back the same.
		if pid <= 0 || !strings.HasPrefix(s, fmt.Sprintf("%s%d-", runPrefix, pid)) {
			t.Errorf("parseRunID(%q) = %d", s, pid)
		}
	})
}

func TestParseAnswer(t *testing.T) {
	tests := []struct {
		name       string
		in         string
		wantEvents []string
		wantErr    string
	}{
		{name: "accepted", in: `{"message":"accepted","events":["hooks-generic-abc"]}` + "\n", wantEvents: []string{"hooks-generic-abc"}},
		{name: "pong", in: `{"message":"pong"}`},
		{name: "no message", in: `{"events":["a"]}`, wantErr: "no message"},
		{name: "not JSON", in: `<html>bad gateway</html>`, wantErr: "not the ingress's JSON"},
		{name: "empty", in: ``, wantErr: "not the ingress's JSON"},
		{name: "empty event name", in: `{"message":"accepted","events":[""]}`, wantErr: "event name"},
		{name: "events not a list", in: `{"message":"accepted","events":"a"}`, wantErr: "not the ingress's JSON"},
		{name: "too many events", in: `{"message":"accepted","events":[` + strings.Repeat(`"a",`, 100) + `"a"]}`, wantErr: "101 events"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := parseAnswer([]byte(tt.in))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("parseAnswer(%q) error %v, want %q", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(a.Events) != fmt.Sprint(tt.wantEvents) {
				t.Errorf("events %q, want %q", a.Events, tt.wantEvents)
			}
		})
	}
}

func FuzzParseAnswer(f *testing.F) {
	for _, s := range []string{`{"message":"accepted","events":["x"]}`, `{"message":"pong"}`, `{}`, `[`, `null`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := parseAnswer(b)
		if err != nil {
			return
		}
		if a.Message == "" || len(a.Events) > 100 {
			t.Errorf("parseAnswer(%q) accepted %+v", b, a)
		}
		for _, e := range a.Events {
			if e == "" || len(e) > 253 {
				t.Errorf("parseAnswer(%q) accepted event name %q", b, e)
			}
		}
	})
}

// TestDeliveriesPassTheIngress checks the deliveries benchflow sends
// against the ingress's own verifier and parser: a signature made with the
// token verifies, one with another token does not, and the body is a
// generic image-push of the repository and tag.
func TestDeliveriesPassTheIngress(t *testing.T) {
	const token = "0123456789abcdef"
	body := genericImagePush("run-lat-7", hooksRepo, "v1")
	header := func(sig string) http.Header {
		h := http.Header{}
		h.Set("Content-Type", mediaTypeGeneric)
		h.Set(headerSignature, sig)
		return h
	}
	tests := []struct {
		name         string
		sig          string
		wantVerified bool
	}{
		{name: "signed with the token", sig: sign(token, body), wantVerified: true},
		{name: "signed with another token", sig: sign("guess", body)},
		{name: "signature of another body", sig: sign(token, genericPing())},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := header(tt.sig)
			p, err := webhook.Detect(h, body)
			if err != nil || p != tinyforgev1alpha1.ProviderGeneric {
				t.Fatalf("Detect = %q, %v; want generic", p, err)
			}
			v, err := webhook.Verify(p, h, body, []byte(token))
			if got := err == nil && v == tinyforgev1alpha1.VerificationVerified; got != tt.wantVerified {
				t.Fatalf("Verify = %q, %v; want verified %t", v, err, tt.wantVerified)
			}
		})
	}
	res, err := webhook.Parse(tinyforgev1alpha1.ProviderGeneric, header(sign(token, body)), body)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Events) != 1 {
		t.Fatalf("%d events, want 1", len(res.Events))
	}
	ev := res.Events[0]
	if ev.Type != plugins.EventTypeImagePush || ev.DeliveryID != "run-lat-7" || ev.Image == nil ||
		ev.Image.Repository != hooksRepo || ev.Image.Tag != "v1" {
		t.Errorf("parsed %+v (image %+v), want image-push run-lat-7 of %s:v1", ev, ev.Image, hooksRepo)
	}
	ping, err := webhook.Parse(tinyforgev1alpha1.ProviderGeneric, header(sign(token, genericPing())), genericPing())
	if err != nil || len(ping.Events) != 1 || ping.Events[0].Type != plugins.EventTypePing {
		t.Errorf("ping parsed as %+v, %v", ping, err)
	}
}

func TestPercentiles(t *testing.T) {
	ms := func(ns ...int) []time.Duration {
		var out []time.Duration
		for _, n := range ns {
			out = append(out, time.Duration(n)*time.Millisecond)
		}
		return out
	}
	hundred := make([]int, 100)
	for i := range hundred {
		hundred[i] = 100 - i // descending: the functions sort
	}
	tests := []struct {
		name                 string
		in                   []time.Duration
		wantMedian, p50, p99 time.Duration
	}{
		{name: "empty", in: nil, wantMedian: -1, p50: -1, p99: -1},
		{name: "one", in: ms(7), wantMedian: 7 * time.Millisecond, p50: 7 * time.Millisecond, p99: 7 * time.Millisecond},
		{name: "even count", in: ms(4, 1, 3, 2), wantMedian: 2500 * time.Microsecond, p50: 2 * time.Millisecond, p99: 4 * time.Millisecond},
		{name: "odd count", in: ms(5, 1, 3), wantMedian: 3 * time.Millisecond, p50: 3 * time.Millisecond, p99: 5 * time.Millisecond},
		{name: "hundred", in: ms(hundred...), wantMedian: 50500 * time.Microsecond, p50: 50 * time.Millisecond, p99: 99 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := median(tt.in); got != tt.wantMedian {
				t.Errorf("median = %v, want %v", got, tt.wantMedian)
			}
			if got := percentile(tt.in, 0.50); got != tt.p50 {
				t.Errorf("p50 = %v, want %v", got, tt.p50)
			}
			if got := percentile(tt.in, 0.99); got != tt.p99 {
				t.Errorf("p99 = %v, want %v", got, tt.p99)
			}
		})
	}
}

func TestOptions(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{name: "defaults"},
		{name: "smaller run", args: []string{"-apply-runs", "2", "-many", "5", "-fan-out", "8", "-load-duration", "2s"}},
		{name: "fan-out below many", args: []string{"-many", "50", "-fan-out", "10"}, wantErr: "-fan-out"},
		{name: "no apply runs", args: []string{"-apply-runs", "0"}, wantErr: "at least 1"},
		{name: "probe too fast", args: []string{"-probe", "1ms"}, wantErr: "-probe"},
		{name: "short load", args: []string{"-load-duration", "10ms"}, wantErr: "at least 1s"},
		{name: "argument", args: []string{"extra"}, wantErr: "unexpected arguments"},
		{name: "unknown flag", args: []string{"-nope"}, wantErr: "not defined"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseFlags(tt.args, io.Discard)
			if tt.wantErr == "" && err != nil {
				t.Fatal(err)
			}
			if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("error %v, want %q", err, tt.wantErr)
			}
		})
	}
}

func TestDeploySpans(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	tests := []struct {
		name       string
		start, end map[string]time.Time
		wantDurs   int
		wantMost   int
	}{
		{name: "none"},
		{name: "one", start: map[string]time.Time{"a": at(0)}, end: map[string]time.Time{"a": at(2)}, wantDurs: 1, wantMost: 1},
		{name: "overlapping", start: map[string]time.Time{"a": at(0), "b": at(1), "c": at(1.5)},
			end: map[string]time.Time{"a": at(2), "b": at(3), "c": at(4)}, wantDurs: 3, wantMost: 3},
		{name: "touching does not overlap", start: map[string]time.Time{"a": at(0), "b": at(2)},
			end: map[string]time.Time{"a": at(2), "b": at(3)}, wantDurs: 2, wantMost: 1},
		{name: "unfinished and backwards left out", start: map[string]time.Time{"a": at(0), "b": at(5)},
			end: map[string]time.Time{"b": at(4), "c": at(1)}, wantDurs: 0, wantMost: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			durs, most := deploySpans(tt.start, tt.end)
			if len(durs) != tt.wantDurs || most != tt.wantMost {
				t.Errorf("deploySpans = %v, %d; want %d spans, %d at once", durs, most, tt.wantDurs, tt.wantMost)
			}
		})
	}
}
