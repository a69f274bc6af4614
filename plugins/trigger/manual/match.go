package manual

import (
	"context"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/tinyforge/tinyforge/plugins"
)

// maxReasonLength bounds an intent's reason, which is one line for people.
const maxReasonLength = 300

// Match deploys on manual events only: the revision the person named, or,
// when they named none, the workload's current spec again. An event for
// another workload of the trigger is skipped.
func (t *Trigger) Match(_ context.Context, _ plugins.Deps, m plugins.MatchRequest) (plugins.MatchResult, error) {
	if errs := t.Validate(field.NewPath("config"), m.Config); len(errs) > 0 {
		return plugins.MatchResult{}, fmt.Errorf("invalid manual trigger config: %w", errs.ToAggregate())
	}
	if m.Event.Type != plugins.EventTypeManual {
		return plugins.Skipped("manual triggers fire only on manual events, not on %s events", m.Event.Type), nil
	}
	me := m.Event.Manual
	if me == nil {
		return plugins.MatchResult{}, fmt.Errorf("manual event %q carries no manual details", m.Event.Name)
	}
	if me.Workload != "" && me.Workload != m.Workload.Name {
		return plugins.Skipped("event is for workload %s", truncate(me.Workload, 253)), nil
	}
	intent := plugins.DeploymentIntent{
		Revision:  strings.TrimSpace(me.Revision),
		Reason:    reason(me),
		EventName: m.Event.Name,
	}
	if err := intent.Validate(); err != nil {
		// The person's revision cannot be a revision: say so on the
		// binding rather than deploy it.
		return plugins.MatchResult{}, fmt.Errorf("manual deploy of revision %q: %w", truncate(intent.Revision, 200), err)
	}
	return plugins.Matched(intent), nil
}

// reason is "manual deploy by USER: REASON", with the parts the event has.
func reason(me *plugins.ManualEvent) string {
	r := "manual deploy"
	if u := strings.TrimSpace(me.User); u != "" {
		r += " by " + u
	}
	if why := strings.TrimSpace(me.Reason); why != "" {
		r += ": " + why
	}
	r = strings.Map(func(c rune) rune {
		if unicode.IsControl(c) {
			return ' '
		}
		return c
	}, r)
	return truncate(r, maxReasonLength)
}

// truncate bounds s to n bytes at a rune boundary, marking a cut with "…".
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
