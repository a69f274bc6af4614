package plugins

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
)

// ErrUnknownKind is matched (errors.Is) by the error a lookup returns for a
// kind nobody registered.
var ErrUnknownKind = errors.New("unknown plugin kind")

// Kinded is what a registry holds: a plugin that names its kind.
type Kinded interface {
	Kind() string
}

// Registry maps plugin kinds to plugins of one sort (sources or triggers).
// It is safe for concurrent use.
//
// The process-wide registries are DefaultSources and DefaultTriggers, filled
// by the plugin packages' init functions and read by the admission plugin
// and the controllers. Tests that need other plugins build their own
// Registry with NewRegistry and pass it where a registry is taken, rather
// than changing the process-wide ones.
type Registry[T Kinded] struct {
	noun string // "source" or "trigger", for messages

	mu     sync.RWMutex
	byKind map[string]T
}

// NewRegistry returns an empty registry; noun names its plugins in messages
// ("source" gives `unknown source kind "x"`).
func NewRegistry[T Kinded](noun string) *Registry[T] {
	return &Registry[T]{noun: noun, byKind: map[string]T{}}
}

// The process-wide registries. They are the only global mutable state in
// TinyForge: written by init functions, read afterwards.
var (
	DefaultSources  = NewRegistry[Source]("source")
	DefaultTriggers = NewRegistry[Trigger]("trigger")
)

// kindPattern is the API's pattern for spec.source.kind and spec.kind; a
// plugin registered under any other kind could never be selected.
var kindPattern = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

const maxKindLength = 63

// Register adds p under p.Kind(). It panics when p is a nil interface, its kind is empty
// or not a DNS label, or the kind is taken: each is a programming error that
// must stop the binary at start, not surface as a failed deploy later.
func (r *Registry[T]) Register(p T) {
	if any(p) == nil {
		panic(fmt.Sprintf("plugins: register %s: plugin is nil", r.noun))
	}
	kind := p.Kind()
	if kind == "" {
		panic(fmt.Sprintf("plugins: register %s %T: Kind() is empty", r.noun, p))
	}
	if len(kind) > maxKindLength || !kindPattern.MatchString(kind) {
		panic(fmt.Sprintf("plugins: register %s %T: kind %q is not a DNS label (lowercase letters, digits and '-', at most %d characters)",
			r.noun, p, kind, maxKindLength))
	}

	r.mu.Lock()
	defer r.mu.Unlock()
	if prev, ok := r.byKind[kind]; ok {
		panic(fmt.Sprintf("plugins: register %s %T: kind %q is already registered by %T", r.noun, p, kind, prev))
	}
	r.byKind[kind] = p
}

// Lookup returns the plugin registered under kind. For an unknown kind the
// error is an *UnknownKindError, which matches ErrUnknownKind.
func (r *Registry[T]) Lookup(kind string) (T, error) {
	r.mu.RLock()
	p, ok := r.byKind[kind]
	r.mu.RUnlock()
	if !ok {
		var zero T
		return zero, &UnknownKindError{Noun: r.noun, Kind: kind, Known: r.Kinds()}
	}
	return p, nil
}

// Kinds returns the registered kinds, sorted.
func (r *Registry[T]) Kinds() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	kinds := make([]string, 0, len(r.byKind))
	for k := range r.byKind {
		kinds = append(kinds, k)
	}
	slices.Sort(kinds)
	return kinds
}

// All returns the registered plugins, sorted by kind.
func (r *Registry[T]) All() []T {
	r.mu.RLock()
	defer r.mu.RUnlock()
	all := make([]T, 0, len(r.byKind))
	for _, p := range r.byKind {
		all = append(all, p)
	}
	slices.SortFunc(all, func(a, b T) int { return strings.Compare(a.Kind(), b.Kind()) })
	return all
}

// UnknownKindError is returned by a lookup of a kind nobody registered.
// Admission turns it into a field.NotSupported listing Known.
type UnknownKindError struct {
	// Noun is "source" or "trigger".
	Noun string
	// Kind that was looked up.
	Kind string
	// Known are the registered kinds, sorted.
	Known []string
}

func (e *UnknownKindError) Error() string {
	if len(e.Known) == 0 {
		return fmt.Sprintf("unknown %s kind %q (no %s kinds are registered)", e.Noun, e.Kind, e.Noun)
	}
	return fmt.Sprintf("unknown %s kind %q (known kinds: %s)", e.Noun, e.Kind, strings.Join(e.Known, ", "))
}

// Is makes errors.Is(err, ErrUnknownKind) true.
func (e *UnknownKindError) Is(target error) bool {
	return target == ErrUnknownKind
}

// RegisterSource adds s to DefaultSources. Call it from the plugin package's
// init; it panics on an empty, malformed or duplicate kind.
func RegisterSource(s Source) { DefaultSources.Register(s) }

// RegisterTrigger adds t to DefaultTriggers. Call it from the plugin
// package's init; it panics on an empty, malformed or duplicate kind.
func RegisterTrigger(t Trigger) { DefaultTriggers.Register(t) }

// LookupSource returns the source registered under kind in DefaultSources.
func LookupSource(kind string) (Source, error) { return DefaultSources.Lookup(kind) }

// LookupTrigger returns the trigger registered under kind in
// DefaultTriggers.
func LookupTrigger(kind string) (Trigger, error) { return DefaultTriggers.Lookup(kind) }

// SourceKinds returns the kinds in DefaultSources, sorted.
func SourceKinds() []string { return DefaultSources.Kinds() }

// TriggerKinds returns the kinds in DefaultTriggers, sorted.
func TriggerKinds() []string { return DefaultTriggers.Kinds() }

// Sources returns the plugins in DefaultSources, sorted by kind.
func Sources() []Source { return DefaultSources.All() }

// Triggers returns the plugins in DefaultTriggers, sorted by kind.
func Triggers() []Trigger { return DefaultTriggers.All() }
