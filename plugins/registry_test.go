package plugins

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
)

// stubSource is a Source of the given kind; only Kind may be called.
type stubSource struct {
	Source
	kind string
}

func (s *stubSource) Kind() string { return s.kind }

// stubTrigger is a Trigger of the given kind; only Kind may be called.
type stubTrigger struct {
	Trigger
	kind string
}

func (t *stubTrigger) Kind() string { return t.kind }

func newSourceRegistry(kinds ...string) *Registry[Source] {
	r := NewRegistry[Source]("source")
	for _, k := range kinds {
		r.Register(&stubSource{kind: k})
	}
	return r
}

func TestRegisterPanics(t *testing.T) {
	tests := []struct {
		name      string
		existing  []string
		plugin    Source
		wantPanic string
	}{
		{
			name:      "nil plugin",
			plugin:    nil,
			wantPanic: "plugins: register source: plugin is nil",
		},
		{
			name:      "empty kind",
			plugin:    &stubSource{kind: ""},
			wantPanic: "plugins: register source *plugins.stubSource: Kind() is empty",
		},
		{
			name:      "kind not a DNS label",
			plugin:    &stubSource{kind: "Image"},
			wantPanic: `kind "Image" is not a DNS label`,
		},
		{
			name:      "kind too long",
			plugin:    &stubSource{kind: strings.Repeat("a", 64)},
			wantPanic: "is not a DNS label",
		},
		{
			name:      "duplicate kind",
			existing:  []string{"image"},
			plugin:    &stubSource{kind: "image"},
			wantPanic: `plugins: register source *plugins.stubSource: kind "image" is already registered by *plugins.stubSource`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newSourceRegistry(tt.existing...)
			defer func() {
				got := fmt.Sprint(recover())
				if !strings.Contains(got, tt.wantPanic) {
					t.Errorf("panic = %q, want it to contain %q", got, tt.wantPanic)
				}
			}()
			r.Register(tt.plugin)
		})
	}
}

func TestRegisterAcceptsDNSLabels(t *testing.T) {
	r := newSourceRegistry("a", "image", "static-site", "k8s", strings.Repeat("a", 63))
	if got := len(r.Kinds()); got != 5 {
		t.Errorf("registered %d kinds, want 5", got)
	}
}

func TestLookup(t *testing.T) {
	tests := []struct {
		name      string
		kinds     []string
		lookup    string
		wantErr   string
		wantKnown []string
	}{
		{
			name:   "known kind",
			kinds:  []string{"static", "image", "compose"},
			lookup: "image",
		},
		{
			name:      "unknown kind lists the known ones sorted",
			kinds:     []string{"static", "image", "compose"},
			lookup:    "foo",
			wantErr:   `unknown source kind "foo" (known kinds: compose, image, static)`,
			wantKnown: []string{"compose", "image", "static"},
		},
		{
			name:      "empty kind",
			kinds:     []string{"image"},
			lookup:    "",
			wantErr:   `unknown source kind "" (known kinds: image)`,
			wantKnown: []string{"image"},
		},
		{
			name:      "nothing registered",
			lookup:    "image",
			wantErr:   `unknown source kind "image" (no source kinds are registered)`,
			wantKnown: []string{},
		},
		{
			name:      "lookup is case-sensitive",
			kinds:     []string{"image"},
			lookup:    "Image",
			wantErr:   `unknown source kind "Image" (known kinds: image)`,
			wantKnown: []string{"image"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newSourceRegistry(tt.kinds...)
			got, err := r.Lookup(tt.lookup)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Lookup(%q) error: %v", tt.lookup, err)
				}
				if got.Kind() != tt.lookup {
					t.Errorf("Lookup(%q) returned kind %q", tt.lookup, got.Kind())
				}
				return
			}
			if got != nil {
				t.Errorf("Lookup(%q) returned %v with an error", tt.lookup, got)
			}
			if err == nil || err.Error() != tt.wantErr {
				t.Fatalf("Lookup(%q) error = %v, want %q", tt.lookup, err, tt.wantErr)
			}
			if !errors.Is(err, ErrUnknownKind) {
				t.Errorf("errors.Is(%v, ErrUnknownKind) = false", err)
			}
			var uk *UnknownKindError
			if !errors.As(fmt.Errorf("admission: %w", err), &uk) {
				t.Fatalf("errors.As(*UnknownKindError) failed on %v", err)
			}
			if uk.Kind != tt.lookup || strings.Join(uk.Known, ",") != strings.Join(tt.wantKnown, ",") {
				t.Errorf("UnknownKindError = %+v, want kind %q and known %v", uk, tt.lookup, tt.wantKnown)
			}
		})
	}
}

func TestOtherErrorsAreNotUnknownKind(t *testing.T) {
	if errors.Is(errors.New("unknown plugin kind"), ErrUnknownKind) {
		t.Error("an unrelated error with the same text matched ErrUnknownKind")
	}
}

func TestKindsAndAllAreSorted(t *testing.T) {
	r := NewRegistry[Trigger]("trigger")
	for _, k := range []string{"registry", "cron", "manual", "git"} {
		r.Register(&stubTrigger{kind: k})
	}
	want := "cron,git,manual,registry"
	if got := strings.Join(r.Kinds(), ","); got != want {
		t.Errorf("Kinds() = %s, want %s", got, want)
	}
	var kinds []string
	for _, p := range r.All() {
		kinds = append(kinds, p.Kind())
	}
	if got := strings.Join(kinds, ","); got != want {
		t.Errorf("All() kinds = %s, want %s", got, want)
	}
}

func TestKindsReturnsACopy(t *testing.T) {
	r := newSourceRegistry("image", "static")
	r.Kinds()[0] = "mutated"
	if got := r.Kinds()[0]; got != "image" {
		t.Errorf("Kinds()[0] = %q after mutating an earlier result", got)
	}
}

func TestRegistryConcurrentUse(t *testing.T) {
	r := NewRegistry[Source]("source")
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			r.Register(&stubSource{kind: fmt.Sprintf("kind-%02d", i)})
		})
		wg.Go(func() {
			_, _ = r.Lookup("kind-00")
			_ = r.All()
		})
	}
	wg.Wait()
	if got := len(r.Kinds()); got != 20 {
		t.Errorf("registered %d kinds, want 20", got)
	}
}

func TestDefaultRegistriesAreSeparate(t *testing.T) {
	// Kinds unlikely to be taken by a real plugin: the default registries
	// are process-wide and other tests of this binary see them.
	RegisterSource(&stubSource{kind: "zz-test-shared"})
	RegisterTrigger(&stubTrigger{kind: "zz-test-shared"})

	if _, err := LookupSource("zz-test-shared"); err != nil {
		t.Errorf("LookupSource: %v", err)
	}
	if _, err := LookupTrigger("zz-test-shared"); err != nil {
		t.Errorf("LookupTrigger: %v", err)
	}
	_, err := LookupTrigger("zz-test-missing")
	if err == nil || !strings.HasPrefix(err.Error(), `unknown trigger kind "zz-test-missing" (known kinds: `) {
		t.Errorf("LookupTrigger(missing) error = %v", err)
	}
	if !slices.Contains(SourceKinds(), "zz-test-shared") || !slices.Contains(TriggerKinds(), "zz-test-shared") {
		t.Errorf("SourceKinds() = %v, TriggerKinds() = %v: want both to hold zz-test-shared", SourceKinds(), TriggerKinds())
	}
	if len(Sources()) != len(SourceKinds()) || len(Triggers()) != len(TriggerKinds()) {
		t.Error("Sources()/Triggers() disagree with SourceKinds()/TriggerKinds()")
	}
}
