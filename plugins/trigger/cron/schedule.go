package cron

import (
	"context"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/tinyforge/tinyforge/plugins"
)

// Next returns the first time strictly after after at which the schedule of
// config fires, in the config's time zone.
func (*Trigger) Next(config []byte, after time.Time) (time.Time, error) {
	s, errs := parseConfig(field.NewPath("config"), config)
	if len(errs) > 0 {
		return time.Time{}, fmt.Errorf("invalid cron trigger config: %w", errs.ToAggregate())
	}
	next := s.schedule.Next(after.In(s.location))
	if next.IsZero() {
		return time.Time{}, fmt.Errorf("schedule %q after %s: %w", s.Schedule, after.Format(time.RFC3339), errNeverFires)
	}
	return next, nil
}

// Match deploys on cron-tick events only, with an intent without revision:
// each bound workload's current spec is deployed again (its image pulled,
// its branch fetched), which is a no-op for sources when nothing moved.
func (t *Trigger) Match(_ context.Context, _ plugins.Deps, m plugins.MatchRequest) (plugins.MatchResult, error) {
	s, errs := parseConfig(field.NewPath("config"), m.Config)
	if len(errs) > 0 {
		return plugins.MatchResult{}, fmt.Errorf("invalid cron trigger config: %w", errs.ToAggregate())
	}
	if m.Event.Type != plugins.EventTypeCronTick {
		return plugins.Skipped("cron triggers fire only on cron-tick events, not on %s events", m.Event.Type), nil
	}
	return plugins.Matched(plugins.DeploymentIntent{
		Reason:    fmt.Sprintf("cron schedule %q (%s) fired", s.Schedule, s.TimeZone),
		EventName: m.Event.Name,
	}), nil
}
