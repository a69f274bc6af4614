package cron

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/tinyforge/tinyforge/plugins"
	"github.com/tinyforge/tinyforge/plugins/internal/plugintest"
)

var testPath = field.NewPath("spec", "config")

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		config string
		// want lists "<field> <type>" of every error, in order.
		want []string
		// wantMsg is part of the message of the errors.
		wantMsg string
	}{
		{name: "five fields", config: `{"schedule":"*/5 * * * *"}`},
		{name: "six fields with seconds", config: `{"schedule":"*/10 * * * * *"}`},
		{name: "descriptor", config: `{"schedule":"@hourly"}`},
		{name: "every", config: `{"schedule":"@every 10s"}`},
		{name: "every, composite", config: `{"schedule":"@every 1h30m"}`},
		{name: "zone", config: `{"schedule":"0 4 * * 1-5","timeZone":"Europe/Paris"}`},
		{name: "names of months and days", config: `{"schedule":"0 0 1 jan,jul mon-fri","timeZone":"UTC"}`},
		{name: "leap day", config: `{"schedule":"0 0 29 2 *"}`},
		{name: "sample", config: sampleJSON},
		{name: "missing schedule", config: `{}`, want: []string{"spec.config.schedule FieldValueRequired"}},
		{name: "absent config", config: ``, want: []string{"spec.config.schedule FieldValueRequired"}},
		{name: "blank schedule", config: `{"schedule":"  "}`, want: []string{"spec.config.schedule FieldValueRequired"}},
		{name: "four fields", config: `{"schedule":"* * * *"}`, want: []string{"spec.config.schedule FieldValueInvalid"}, wantMsg: `spec.config.schedule: Invalid value: "* * * *": must be a cron schedule`},
		{name: "seven fields", config: `{"schedule":"0 0 0 * * * *"}`, want: []string{"spec.config.schedule FieldValueInvalid"}},
		{name: "out of range", config: `{"schedule":"61 * * * *"}`, want: []string{"spec.config.schedule FieldValueInvalid"}, wantMsg: `"61 * * * *"`},
		{name: "unknown descriptor", config: `{"schedule":"@fortnightly"}`, want: []string{"spec.config.schedule FieldValueInvalid"}},
		{name: "every without duration", config: `{"schedule":"@every soon"}`, want: []string{"spec.config.schedule FieldValueInvalid"}, wantMsg: `@every needs a duration such as 30s or 1h30m, not "soon"`},
		{name: "every below a second", config: `{"schedule":"@every 500ms"}`, want: []string{"spec.config.schedule FieldValueInvalid"}, wantMsg: "at least 1s"},
		{name: "every negative", config: `{"schedule":"@every -1m"}`, want: []string{"spec.config.schedule FieldValueInvalid"}},
		{name: "every fractional", config: `{"schedule":"@every 1.5s"}`, want: []string{"spec.config.schedule FieldValueInvalid"}, wantMsg: "whole number of seconds"},
		{name: "never fires", config: `{"schedule":"0 0 30 2 *"}`, want: []string{"spec.config.schedule FieldValueInvalid"}, wantMsg: `"0 0 30 2 *": never fires`},
		{name: "CRON_TZ prefix", config: `{"schedule":"CRON_TZ=Europe/Paris 0 4 * * *"}`, want: []string{"spec.config.schedule FieldValueInvalid"}, wantMsg: "set timeZone instead"},
		{name: "TZ prefix", config: `{"schedule":"TZ=UTC 0 4 * * *"}`, want: []string{"spec.config.schedule FieldValueInvalid"}},
		{name: "schedule too long", config: `{"schedule":"` + strings.Repeat("*", maxScheduleLength+1) + `"}`, want: []string{"spec.config.schedule FieldValueTooLong"}},
		{name: "unknown zone", config: `{"schedule":"@daily","timeZone":"Mars/Olympus"}`, want: []string{"spec.config.timeZone FieldValueInvalid"}, wantMsg: `spec.config.timeZone: Invalid value: "Mars/Olympus": must be an IANA time zone name`},
		{name: "local zone", config: `{"schedule":"@daily","timeZone":"Local"}`, want: []string{"spec.config.timeZone FieldValueInvalid"}, wantMsg: "Local depends on the host"},
		{name: "zone path", config: `{"schedule":"@daily","timeZone":"../../etc/passwd"}`, want: []string{"spec.config.timeZone FieldValueInvalid"}},
		{name: "zone too long", config: `{"schedule":"@daily","timeZone":"` + strings.Repeat("A", 65) + `"}`, want: []string{"spec.config.timeZone FieldValueTooLong"}},
		{
			name: "both bad", config: `{"schedule":"nope","timeZone":"Nowhere"}`,
			want: []string{"spec.config.timeZone FieldValueInvalid", "spec.config.schedule FieldValueInvalid"},
		},
		{name: "unknown field", config: `{"schedule":"@daily","tz":"UTC"}`, want: []string{"spec.config.tz FieldValueNotSupported"}, wantMsg: `supported values: "schedule", "timeZone"`},
		{name: "wrong type", config: `{"schedule":5}`, want: []string{"spec.config.schedule FieldValueTypeInvalid"}},
		{name: "not an object", config: `"@daily"`, want: []string{"spec.config FieldValueTypeInvalid"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			errs := (&Trigger{}).Validate(testPath, []byte(tt.config))
			var got []string
			for _, e := range errs {
				got = append(got, e.Field+" "+string(e.Type))
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("Validate() =\n%s\nwant\n%s\nerrors: %v", strings.Join(got, "\n"), strings.Join(tt.want, "\n"), errs)
			}
			if tt.wantMsg != "" && !strings.Contains(errs.ToAggregate().Error(), tt.wantMsg) {
				t.Errorf("errors %q do not contain %q", errs.ToAggregate(), tt.wantMsg)
			}
		})
	}
}

func TestNext(t *testing.T) {
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Fatal(err)
	}
	at := func(loc *time.Location, s string) time.Time {
		t.Helper()
		v, err := time.ParseInLocation("2006-01-02 15:04:05", s, loc)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	// Summer time in Paris begins on 2024-03-31 at 02:00 CET (clocks go to
	// 03:00 CEST) and ends on 2024-10-27 at 03:00 CEST (clocks go back to
	// 02:00 CET).
	springJump := time.Date(2024, 3, 31, 1, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		config string
		after  time.Time
		// want are the next firing times, each after the one before, as
		// instants in RFC 3339 with the zone's offset.
		want []string
	}{
		{
			name: "five fields in UTC", config: `{"schedule":"*/15 * * * *"}`, after: at(time.UTC, "2024-05-01 10:07:30"),
			want: []string{"2024-05-01T10:15:00Z", "2024-05-01T10:30:00Z", "2024-05-01T10:45:00Z"},
		},
		{
			name: "the zone moves the hour", config: `{"schedule":"0 4 * * *","timeZone":"Europe/Paris"}`, after: at(time.UTC, "2024-05-01 00:00:00"),
			want: []string{"2024-05-01T04:00:00+02:00", "2024-05-02T04:00:00+02:00"},
		},
		{
			name: "six fields with seconds", config: `{"schedule":"15,45 * * * * *"}`, after: at(time.UTC, "2024-05-01 10:00:20"),
			want: []string{"2024-05-01T10:00:45Z", "2024-05-01T10:01:15Z", "2024-05-01T10:01:45Z"},
		},
		{
			name: "every counts from after", config: `{"schedule":"@every 10s"}`, after: at(time.UTC, "2024-05-01 10:00:03"),
			want: []string{"2024-05-01T10:00:13Z", "2024-05-01T10:00:23Z"},
		},
		{
			name: "every counts real time across summer time", config: `{"schedule":"@every 30m","timeZone":"Europe/Paris"}`, after: springJump.Add(-30 * time.Minute),
			// 01:00Z is both 02:00 CET and 03:00 CEST: the clock jumps.
			want: []string{"2024-03-31T03:00:00+02:00", "2024-03-31T03:30:00+02:00"},
		},
		{
			name: "strictly after", config: `{"schedule":"@hourly"}`, after: at(time.UTC, "2024-05-01 10:00:00"),
			want: []string{"2024-05-01T11:00:00Z"},
		},
		{
			name: "weekdays", config: `{"schedule":"0 9 * * mon-fri"}`, after: at(time.UTC, "2024-05-03 10:00:00"),
			want: []string{"2024-05-06T09:00:00Z", "2024-05-07T09:00:00Z"},
		},
		{
			name: "hourly across the spring change: 02:00 does not exist", config: `{"schedule":"0 * * * *","timeZone":"Europe/Paris"}`,
			after: at(paris, "2024-03-31 00:30:00"),
			want:  []string{"2024-03-31T01:00:00+01:00", "2024-03-31T03:00:00+02:00", "2024-03-31T04:00:00+02:00"},
		},
		{
			name: "daily at a skipped time does not fire that day", config: `{"schedule":"30 2 * * *","timeZone":"Europe/Paris"}`,
			after: at(paris, "2024-03-30 12:00:00"),
			want:  []string{"2024-03-30T02:30:00+01:00", "2024-04-01T02:30:00+02:00"}[1:],
		},
		{
			name: "daily after the skipped time keeps its wall clock", config: `{"schedule":"0 4 * * *","timeZone":"Europe/Paris"}`,
			after: at(paris, "2024-03-30 12:00:00"),
			want:  []string{"2024-03-31T04:00:00+02:00", "2024-04-01T04:00:00+02:00"},
		},
		{
			name: "hourly across the autumn change: 02:00 happens twice", config: `{"schedule":"0 * * * *","timeZone":"Europe/Paris"}`,
			after: at(paris, "2024-10-27 01:30:00"),
			want:  []string{"2024-10-27T02:00:00+02:00", "2024-10-27T02:00:00+01:00", "2024-10-27T03:00:00+01:00"},
		},
		{
			name: "daily at a repeated time fires once per offset", config: `{"schedule":"30 2 * * *","timeZone":"Europe/Paris"}`,
			after: at(paris, "2024-10-27 00:00:00"),
			want:  []string{"2024-10-27T02:30:00+02:00", "2024-10-27T02:30:00+01:00", "2024-10-28T02:30:00+01:00"},
		},
		{
			name: "the same schedule in UTC ignores the change", config: `{"schedule":"30 2 * * *"}`,
			after: at(time.UTC, "2024-10-27 00:00:00"),
			want:  []string{"2024-10-27T02:30:00Z", "2024-10-28T02:30:00Z"},
		},
	}
	tr := &Trigger{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			after := tt.after
			for i, w := range tt.want {
				next, err := tr.Next([]byte(tt.config), after)
				if err != nil {
					t.Fatal(err)
				}
				if got := next.Format(time.RFC3339); got != w {
					t.Fatalf("Next #%d after %s = %s, want %s", i+1, after.Format(time.RFC3339), got, w)
				}
				if !next.After(after) {
					t.Fatalf("Next #%d = %s is not after %s", i+1, next, after)
				}
				after = next
			}
		})
	}
}

func TestNextErrors(t *testing.T) {
	tests := []struct {
		name    string
		config  string
		after   time.Time
		wantErr string
		wantIs  error
	}{
		{name: "invalid config", config: `{"schedule":"61 * * * *"}`, after: time.Now(), wantErr: "invalid cron trigger config: config.schedule"},
		{name: "no config", config: ``, after: time.Now(), wantErr: "config.schedule: Required value"},
		// 2100 is no leap year: after 2096, the next February 29th is in
		// 2104, beyond the five years robfig/cron looks ahead.
		{name: "leap day too far", config: `{"schedule":"0 0 29 2 *"}`, after: time.Date(2096, 3, 1, 0, 0, 0, 0, time.UTC), wantErr: "does not fire within five years", wantIs: errNeverFires},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := (&Trigger{}).Next([]byte(tt.config), tt.after)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || (tt.wantIs != nil && !errors.Is(err, tt.wantIs)) {
				t.Fatalf("Next() = %v, %v; want error containing %q", got, err, tt.wantErr)
			}
		})
	}
}

func TestMatch(t *testing.T) {
	tests := []struct {
		name       string
		config     string
		event      plugins.InboundEvent
		wantReason string
		wantSkip   string
		wantErr    string
	}{
		{
			name: "tick", config: `{"schedule":"*/5 * * * *"}`, event: plugins.InboundEvent{Name: "cron-1", Type: plugins.EventTypeCronTick},
			wantReason: `cron schedule "*/5 * * * *" (UTC) fired`,
		},
		{
			name: "tick in a zone", config: `{"schedule":" 0 4 * * 1-5 ","timeZone":"Europe/Paris"}`, event: plugins.InboundEvent{Name: "cron-2", Type: plugins.EventTypeCronTick},
			wantReason: `cron schedule "0 4 * * 1-5" (Europe/Paris) fired`,
		},
		{name: "manual", config: `{"schedule":"@daily"}`, event: plugins.InboundEvent{Type: plugins.EventTypeManual, Manual: &plugins.ManualEvent{}}, wantSkip: "cron triggers fire only on cron-tick events, not on manual events"},
		{name: "git push", config: `{"schedule":"@daily"}`, event: plugins.InboundEvent{Type: plugins.EventTypeGitPush, Git: &plugins.GitEvent{}}, wantSkip: "not on git-push events"},
		{name: "image push", config: `{"schedule":"@daily"}`, event: plugins.InboundEvent{Type: plugins.EventTypeImagePush}, wantSkip: "not on image-push events"},
		{name: "invalid config", config: `{"schedule":"@daily","timeZone":"Nowhere"}`, event: plugins.InboundEvent{Type: plugins.EventTypeCronTick}, wantErr: "invalid cron trigger config: config.timeZone"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := (&Trigger{}).Match(context.Background(), plugins.Deps{}, plugins.MatchRequest{
				Workload: plugins.Workload{Namespace: "shop", Name: "web"}, Config: []byte(tt.config), Event: tt.event,
			})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Match() = %+v, %v; want error containing %q", res, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if err := res.Validate(); err != nil {
				t.Fatalf("Match() = %+v: %v", res, err)
			}
			if tt.wantSkip != "" {
				if res.Intent != nil || !strings.Contains(res.SkipReason, tt.wantSkip) {
					t.Fatalf("Match() = %+v, want a skip containing %q", res, tt.wantSkip)
				}
				return
			}
			in := res.Intent
			if in == nil {
				t.Fatalf("Match() skipped: %s", res.SkipReason)
			}
			// No revision: the workload's current spec is deployed again.
			if in.Revision != "" || in.Reason != tt.wantReason || in.EventName != tt.event.Name || in.Git != nil || in.Image != nil {
				t.Errorf("intent = %+v, want no revision, reason %q, event %q", *in, tt.wantReason, tt.event.Name)
			}
		})
	}
}

// The schema is one a CRD could carry (strict JSONSchemaProps, structural),
// it describes exactly Config's fields (schedule and timeZone), the sample
// passes both the schema and Validate, and both refuse a config without a
// schedule.
func TestSchema(t *testing.T) {
	plugintest.CheckSchema(t, &Trigger{}, reflect.TypeFor[Config](),
		`{}`,
		`{"schedule":""}`,
	)
}

func TestRegistered(t *testing.T) {
	got, err := plugins.LookupTrigger(Kind)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := got.(plugins.Scheduler); !ok || got.Kind() != "cron" {
		t.Errorf("LookupTrigger(%q) = %T with kind %q, want a Scheduler", Kind, got, got.Kind())
	}
}

func FuzzValidate(f *testing.F) {
	for _, seed := range []string{
		``, `{}`, `null`, sampleJSON, `{"schedule":"@every 10s"}`, `{"schedule":"*/5 * * * * *","timeZone":"Asia/Kolkata"}`,
		`{"schedule":"CRON_TZ=UTC @daily"}`, `{"schedule":"0 0 30 2 *"}`, `{"schedule":"@every 1h","timeZone":"Local"}`,
		`{"schedule":"1-59/7 3,4 L * ?"}`,
	} {
		f.Add([]byte(seed))
	}
	tr := &Trigger{}
	after := time.Date(2024, 10, 27, 0, 59, 59, 0, time.UTC)
	f.Fuzz(func(t *testing.T, config []byte) {
		errs := tr.Validate(testPath, config)
		for _, e := range errs {
			if !strings.HasPrefix(e.Field, testPath.String()) {
				t.Errorf("error outside the config's path: %v", e)
			}
		}
		if len(errs) > 0 {
			return
		}
		// What passes Validate has a next time.
		next, err := tr.Next(config, after)
		if err != nil {
			t.Fatalf("Next(%s): %v", config, err)
		}
		if !next.After(after) {
			t.Fatalf("Next(%s) = %v, not after %v", config, next, after)
		}
	})
}
