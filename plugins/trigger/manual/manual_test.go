package manual

import (
	"bytes"
	"context"
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/tinyforge/tinyforge/plugins"
	"github.com/tinyforge/tinyforge/plugins/internal/plugintest"
)

var testPath = field.NewPath("spec", "config")

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		config string
		want   []string
	}{
		{name: "absent", config: ``},
		{name: "null", config: `null`},
		{name: "empty object", config: `{}`},
		{name: "spaces", config: " {  }\n"},
		{name: "unknown field", config: `{"workloads":["web"]}`, want: []string{"spec.config.workloads FieldValueInvalid"}},
		{name: "two unknown fields", config: `{"a":1,"b":2}`, want: []string{"spec.config.a FieldValueInvalid", "spec.config.b FieldValueInvalid"}},
		{name: "not an object", config: `[]`, want: []string{"spec.config FieldValueTypeInvalid"}},
		{name: "not JSON", config: `{`, want: []string{"spec.config FieldValueInvalid"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			errs := (&Trigger{}).Validate(testPath, []byte(tt.config))
			var got []string
			for _, e := range errs {
				got = append(got, e.Field+" "+string(e.Type))
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("Validate() = %q, want %q (%v)", got, tt.want, errs)
			}
		})
	}
}

func TestMatch(t *testing.T) {
	manual := func(workload, revision, reason, user string) plugins.InboundEvent {
		return plugins.InboundEvent{
			Name: "manual-7f3a", Type: plugins.EventTypeManual,
			Manual: &plugins.ManualEvent{Workload: workload, Revision: revision, Reason: reason, User: user},
		}
	}
	tests := []struct {
		name   string
		config string
		event  plugins.InboundEvent
		// wantRevision and wantReason describe the intent; wantSkip a
		// skip reason it contains; wantErr an error message it contains.
		wantRevision, wantReason string
		wantSkip, wantErr        string
	}{
		{
			name: "redeploy the current spec", event: manual("", "", "config rotated", "jane"),
			wantRevision: "", wantReason: "manual deploy by jane: config rotated",
		},
		{
			name: "named revision", event: manual("web", "sha256:"+strings.Repeat("a", 64), "rollback", "jane"),
			wantRevision: "sha256:" + strings.Repeat("a", 64), wantReason: "manual deploy by jane: rollback",
		},
		{name: "revision is trimmed", event: manual("web", " abc123 ", "", "jane"), wantRevision: "abc123", wantReason: "manual deploy by jane"},
		{name: "no user and no reason", event: manual("", "", "", ""), wantReason: "manual deploy"},
		{name: "reason only", event: manual("", "", "because", ""), wantReason: "manual deploy: because"},
		{name: "multi-line reason becomes one line", event: manual("", "", "a\nb\tc", "jane"), wantReason: "manual deploy by jane: a b c"},
		{name: "long reason is bounded", event: manual("", "", strings.Repeat("é", 400), "jane"), wantReason: "manual deploy by jane: " + strings.Repeat("é", 138) + "…"},
		{name: "other workload", event: manual("api", "", "", "jane"), wantSkip: "event is for workload api"},
		{name: "revision with spaces", event: manual("", "main branch", "", "jane"), wantErr: `manual deploy of revision "main branch": revision "main branch" contains spaces`},
		{name: "revision too long", event: manual("", strings.Repeat("a", plugins.MaxRevisionLength+1), "", "jane"), wantErr: "more than 128"},
		{name: "no manual details", event: plugins.InboundEvent{Name: "m", Type: plugins.EventTypeManual}, wantErr: `manual event "m" carries no manual details`},
		{name: "git push", event: plugins.InboundEvent{Type: plugins.EventTypeGitPush, Git: &plugins.GitEvent{}}, wantSkip: "manual triggers fire only on manual events, not on git-push events"},
		{name: "cron tick", event: plugins.InboundEvent{Type: plugins.EventTypeCronTick}, wantSkip: "manual triggers fire only on manual events"},
		{name: "image push", event: plugins.InboundEvent{Type: plugins.EventTypeImagePush}, wantSkip: "manual triggers fire only on manual events"},
		{name: "invalid config", config: `{"workloads":["web"]}`, event: manual("", "", "", ""), wantErr: "invalid manual trigger config: config.workloads"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := (&Trigger{}).Match(context.Background(), plugins.Deps{}, plugins.MatchRequest{
				Workload: plugins.Workload{Namespace: "shop", Name: "web"},
				Config:   []byte(tt.config),
				Event:    tt.event,
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
			if in.Revision != tt.wantRevision || in.Reason != tt.wantReason || in.EventName != tt.event.Name || in.Git != nil || in.Image != nil {
				t.Errorf("intent = %+v, want revision %q, reason %q, event %q", *in, tt.wantRevision, tt.wantReason, tt.event.Name)
			}
		})
	}
}

// The schema is one a CRD could carry (strict JSONSchemaProps, structural),
// it describes exactly Config's fields (none), the sample passes both the
// schema and Validate, and both refuse fields.
func TestSchema(t *testing.T) {
	plugintest.CheckSchema(t, &Trigger{}, reflect.TypeFor[Config](),
		`{"workloads":["web"]}`,
	)
}

func TestRegistered(t *testing.T) {
	got, err := plugins.LookupTrigger(Kind)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := got.(*Trigger); !ok || got.Kind() != "manual" {
		t.Errorf("LookupTrigger(%q) = %T with kind %q", Kind, got, got.Kind())
	}
}

func FuzzValidate(f *testing.F) {
	for _, seed := range []string{``, `{}`, `null`, `[]`, `{"a":1}`, `{"a":1,"a":2}`, `"x"`, `{`} {
		f.Add([]byte(seed))
	}
	tr := &Trigger{}
	f.Fuzz(func(t *testing.T, config []byte) {
		errs := tr.Validate(testPath, config)
		for _, e := range errs {
			if !strings.HasPrefix(e.Field, testPath.String()) {
				t.Errorf("error outside the config's path: %v", e)
			}
		}
		// What passes Validate is an empty object (or nothing).
		var m map[string]any
		if len(errs) == 0 && len(bytes.TrimSpace(config)) > 0 && json.Unmarshal(config, &m) == nil && len(m) > 0 {
			t.Errorf("Validate accepts %q, which has fields", config)
		}
	})
}
