package cron

import (
	"errors"
	"fmt"
	"strings"
	"time"
	// Time zones resolve the same on every host, whatever its tzdata.
	_ "time/tzdata"

	robfig "github.com/robfig/cron/v3"
	"k8s.io/apimachinery/pkg/util/validation/field"
	sigsjson "sigs.k8s.io/json"

	"github.com/tinyforge/tinyforge/plugins"
)

// Config is spec.config of a Trigger of kind cron.
type Config struct {
	// schedule is when to fire, in the syntax of github.com/robfig/cron/v3:
	// five fields (minute hour day-of-month month day-of-week, such as
	// "*/15 * * * *"), six with a leading seconds field ("0 30 4 * * *"),
	// or a descriptor (@yearly, @monthly, @weekly, @daily, @hourly, or
	// @every DURATION with a whole number of seconds, at least 1s).
	Schedule string `json:"schedule"`

	// timeZone is the IANA name of the zone the schedule is read in, such
	// as Europe/Paris; UTC by default. In a zone with summer time, a time
	// the clock skips does not fire that day and a time it repeats fires
	// twice, once per offset; @every counts real time.
	TimeZone string `json:"timeZone,omitempty"`
}

// DefaultTimeZone is the zone of a schedule without timeZone.
const DefaultTimeZone = "UTC"

// Bounds of the config.
const (
	maxScheduleLength = 256
	// maxTimeZoneLength is well above the longest IANA name (32 bytes).
	maxTimeZoneLength = 64
)

// parser reads schedules: an optional seconds field, then the standard five,
// or a descriptor. It is immutable, so sharing it is safe.
var parser = robfig.NewParser(robfig.SecondOptional | robfig.Minute | robfig.Hour |
	robfig.Dom | robfig.Month | robfig.Dow | robfig.Descriptor)

// errNeverFires is Next's error for a schedule with no next time within
// the five years robfig/cron looks ahead.
var errNeverFires = errors.New("the schedule does not fire within five years")

// settings is a config with defaults applied and its values parsed.
type settings struct {
	Config
	location *time.Location
	schedule robfig.Schedule
}

// Validate checks spec.config and returns every problem at once, each
// under path. It reaches nothing.
func (*Trigger) Validate(path *field.Path, config []byte) field.ErrorList {
	_, errs := parseConfig(path, config)
	return errs
}

// parseConfig decodes config strictly, applies defaults and checks every
// field. The settings are usable only when the list is empty.
func parseConfig(path *field.Path, config []byte) (*settings, field.ErrorList) {
	s := &settings{}
	errs := plugins.DecodeStrict(path, config, &s.Config)
	if len(errs) > 0 && !decodes(config) {
		// A syntax or type error: the rest of the config is unknown.
		return s, errs
	}
	if s.TimeZone == "" {
		s.TimeZone = DefaultTimeZone
	}
	errs = append(errs, s.validateTimeZone(path.Child("timeZone"))...)
	errs = append(errs, s.validateSchedule(path.Child("schedule"))...)
	return s, errs
}

// decodes reports whether config decodes at all, ignoring unknown and
// duplicate keys, which leave the known fields decoded.
func decodes(config []byte) bool {
	var c Config
	return sigsjson.UnmarshalCaseSensitivePreserveInts(config, &c) == nil
}

func (s *settings) validateTimeZone(p *field.Path) field.ErrorList {
	tz := s.TimeZone
	if len(tz) > maxTimeZoneLength {
		return field.ErrorList{field.TooLong(p, "", maxTimeZoneLength)}
	}
	if tz == "Local" {
		return field.ErrorList{field.Invalid(p, tz, "must be an IANA time zone name such as Europe/Paris: Local depends on the host")}
	}
	loc, err := time.LoadLocation(tz)
	if err != nil {
		return field.ErrorList{field.Invalid(p, tz, "must be an IANA time zone name such as Europe/Paris or UTC")}
	}
	s.location = loc
	return nil
}

func (s *settings) validateSchedule(p *field.Path) field.ErrorList {
	spec := strings.TrimSpace(s.Schedule)
	switch {
	case spec == "":
		return field.ErrorList{field.Required(p, `when to fire, such as "0 4 * * *" or "@every 1h"`)}
	case len(spec) > maxScheduleLength:
		return field.ErrorList{field.TooLong(p, "", maxScheduleLength)}
	case strings.HasPrefix(spec, "CRON_TZ=") || strings.HasPrefix(spec, "TZ="):
		return field.ErrorList{field.Invalid(p, s.Schedule, "must not name a time zone: set timeZone instead")}
	}
	if d, ok := strings.CutPrefix(spec, "@every "); ok {
		if msg := checkEvery(strings.TrimSpace(d)); msg != "" {
			return field.ErrorList{field.Invalid(p, s.Schedule, msg)}
		}
	}
	sched, err := parser.Parse(spec)
	if err != nil {
		return field.ErrorList{field.Invalid(p, s.Schedule, "must be a cron schedule (5 fields, 6 with seconds first, or a descriptor such as @hourly): "+err.Error())}
	}
	loc := s.location
	if loc == nil {
		// timeZone is invalid and reported; check the schedule in UTC.
		loc = time.UTC
	}
	// robfig/cron looks five years ahead at most, so a schedule that does
	// not fire within five years of some time (February 30th) never does.
	probe := time.Date(2000, time.January, 1, 0, 0, 0, 0, loc)
	if sched.Next(probe).IsZero() {
		return field.ErrorList{field.Invalid(p, s.Schedule, "never fires (no such date)")}
	}
	s.schedule = sched
	s.Schedule = spec
	return nil
}

// checkEvery checks the duration of @every, which robfig/cron would
// silently round to whole seconds (and raise to 1s); it returns "" when
// the duration is fine.
func checkEvery(d string) string {
	dur, err := time.ParseDuration(d)
	switch {
	case err != nil:
		return fmt.Sprintf("@every needs a duration such as 30s or 1h30m, not %q", d)
	case dur < time.Second:
		return "@every needs a duration of at least 1s"
	case dur%time.Second != 0:
		return "@every needs a whole number of seconds"
	}
	return ""
}
