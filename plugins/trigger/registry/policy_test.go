package registry

import (
	"math/big"
	"testing"
)

// policyOf builds the policy of a tagPolicy config, failing the test when
// it does not validate.
func policyOf(t testing.TB, tagPolicy string) *tagPolicy {
	t.Helper()
	cfg := `{"repository":"registry.example/team/web"`
	if tagPolicy != "" {
		cfg += `,"tagPolicy":` + tagPolicy
	}
	set, errs := parseConfig(testPath, []byte(cfg+`}`))
	if len(errs) > 0 {
		t.Fatalf("config %s: %v", cfg, errs)
	}
	return set.policy
}

func TestAdmit(t *testing.T) {
	tests := []struct {
		name   string
		policy string // the tagPolicy JSON; empty for none
		tag    string
		// reason is the skip reason, empty when the tag is admitted.
		reason string
	}{
		{name: "default is latest", tag: "latest"},
		{name: "default refuses others", tag: "dev", reason: "tag dev is not the configured tag latest"},
		{name: "exact", policy: `{"exact":"stable"}`, tag: "stable"},
		{name: "exact is case-sensitive", policy: `{"exact":"stable"}`, tag: "Stable", reason: "tag Stable is not the configured tag stable"},
		{name: "invalid tag", tag: "-x", reason: `tag "-x" is not a valid image tag`},
		{name: "empty tag", tag: "", reason: `tag "" is not a valid image tag`},
		{name: "tag with a newline", tag: "a\nb", reason: `tag "a\nb" is not a valid image tag`},
		{name: "glob", policy: `{"glob":"v1.*"}`, tag: "v1.4"},
		{name: "glob mismatch", policy: `{"glob":"v1.*"}`, tag: "v2.0", reason: "tag v2.0 does not match glob v1.*"},
		{name: "glob class", policy: `{"glob":"main-[0-9]*"}`, tag: "main-7abc"},
		{name: "regex is unanchored", policy: `{"regex":"rc"}`, tag: "1.0-rc1"},
		{name: "regex mismatch", policy: `{"regex":"^main-"}`, tag: "dev-1", reason: "tag dev-1 does not match regex ^main-"},
		{name: "captured number", policy: `{"regex":"^main-(?P<build>[0-9a-z]+)$","capture":"build"}`, tag: "main-42"},
		{
			name: "captured value is no number", policy: `{"regex":"^main-(?P<build>[0-9a-z]+)$","capture":"build"}`, tag: "main-4a",
			reason: `tag main-4a matches regex ^main-(?P<build>[0-9a-z]+)$, but its group build "4a" is not a number`,
		},
		{name: "captured value alphabetical", policy: `{"regex":"^main-(?P<build>[0-9a-z]+)$","capture":"build","order":"alphabetical"}`, tag: "main-4a"},
		{
			name: "optional group did not take part", policy: `{"regex":"^v(?P<n>[0-9]+)?x$","capture":"n"}`, tag: "vx",
			reason: "tag vx matches regex ^v(?P<n>[0-9]+)?x$ without its group n",
		},
		{name: "order of the whole tag", policy: `{"regex":"^[0-9.]+$","order":"numerical"}`, tag: "20250101.3"},
		{
			name: "whole tag is no number", policy: `{"regex":"^[0-9.]+$","order":"numerical"}`, tag: "1.2.3",
			reason: "tag 1.2.3 matches regex ^[0-9.]+$, but is not a number to order by",
		},
		{name: "semver", policy: `{"semver":">=1.0 <2"}`, tag: "1.2.0"},
		{name: "semver with v", policy: `{"semver":">=1.0 <2"}`, tag: "v1.2.3"},
		{name: "semver short", policy: `{"semver":"~1.2"}`, tag: "1.2"},
		{name: "semver pre-release outside", policy: `{"semver":">=1.0 <2"}`, tag: "1.2.0-rc1", reason: "tag 1.2.0-rc1 is outside semver range >=1.0 <2"},
		{name: "semver pre-release named", policy: `{"semver":">=1.2.0-0 <2"}`, tag: "1.2.0-rc1"},
		{name: "semver above", policy: `{"semver":">=1.0 <2"}`, tag: "2.0.0", reason: "tag 2.0.0 is outside semver range >=1.0 <2"},
		{name: "semver not a version", policy: `{"semver":">=1.0 <2"}`, tag: "latest", reason: "tag latest is not a semantic version (semver range >=1.0 <2)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := policyOf(t, tt.policy)
			c, reason := p.admit(tt.tag)
			if reason != tt.reason {
				t.Errorf("admit(%q) reason = %q, want %q", tt.tag, reason, tt.reason)
			}
			if reason == "" && c.tag != tt.tag {
				t.Errorf("admit(%q) candidate = %+v", tt.tag, c)
			}
		})
	}
}

func TestNewest(t *testing.T) {
	tags := []string{"latest", "1.2.0", "v1.10.0", "1.9.3", "2.0.0", "1.11.0-rc1", "main-9", "main-10", "main-x", "v1.10.0", "20240102", "20231231"}
	tests := []struct {
		name    string
		policy  string
		want    string // "" when no tag matches
		ordered bool
		// superseded maps a tag to the newer one that supersedes it; ""
		// when it is the newest.
		superseded map[string]string
	}{
		{
			name: "semver picks the highest in range", policy: `{"semver":">=1.0 <2"}`, want: "v1.10.0", ordered: true,
			superseded: map[string]string{"1.9.3": "v1.10.0", "v1.10.0": "", "1.2.0": "v1.10.0"},
		},
		{name: "semver range with nothing", policy: `{"semver":"^3"}`, ordered: true},
		// Coerced as Masterminds/semver does: a date tag is a major version.
		{name: "semver coerces short tags", policy: `{"semver":">=3"}`, want: "20240102", ordered: true},
		{name: "semver pre-release range", policy: `{"semver":">=1.11.0-0 <2"}`, want: "1.11.0-rc1", ordered: true},
		{
			name: "numerical capture", policy: `{"regex":"^main-(?P<n>.+)$","capture":"n"}`, want: "main-10", ordered: true,
			superseded: map[string]string{"main-9": "main-10", "main-10": ""},
		},
		{
			name: "alphabetical capture", policy: `{"regex":"^main-(?P<n>.+)$","capture":"n","order":"alphabetical"}`, want: "main-x", ordered: true,
			superseded: map[string]string{"main-9": "main-x", "main-10": "main-x"},
		},
		{name: "numerical whole tag", policy: `{"regex":"^[0-9]{8}$","order":"numerical"}`, want: "20240102", ordered: true},
		{name: "exact is not ordered", policy: `{"exact":"latest"}`, want: "latest"},
		{name: "glob is not ordered", policy: `{"glob":"main-*"}`, want: "main-10"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := policyOf(t, tt.policy)
			if p.ordered() != tt.ordered {
				t.Errorf("ordered() = %v, want %v", p.ordered(), tt.ordered)
			}
			got, ok := p.newest(tags)
			if ok != (tt.want != "") || got.tag != tt.want {
				t.Errorf("newest = %q, %v; want %q", got.tag, ok, tt.want)
			}
			for tag, want := range tt.superseded {
				c, reason := p.admit(tag)
				if reason != "" {
					t.Fatalf("admit(%q): %s", tag, reason)
				}
				if newer, _ := p.supersededBy(c, tags); newer != want {
					t.Errorf("supersededBy(%q) = %q, want %q", tag, newer, want)
				}
			}
		})
	}
}

// Equal versions written differently (1.2.3 and v1.2.3) do not supersede
// each other, and the pick among them does not depend on the order of the
// registry's list.
func TestNewestTie(t *testing.T) {
	p := policyOf(t, `{"semver":"^1"}`)
	a, _ := p.newest([]string{"1.2.3", "v1.2.3"})
	b, _ := p.newest([]string{"v1.2.3", "1.2.3"})
	if a.tag != b.tag {
		t.Errorf("newest depends on order: %q, %q", a.tag, b.tag)
	}
	c, _ := p.admit("1.2.3")
	if newer, ok := p.supersededBy(c, []string{"v1.2.3"}); ok {
		t.Errorf("1.2.3 superseded by %q", newer)
	}
}

func TestCompareDecimal(t *testing.T) {
	tests := []struct {
		name string
		a, b string
		want int
	}{
		{name: "equal", a: "10", b: "10", want: 0},
		{name: "length wins over digits", a: "10", b: "9", want: 1},
		{name: "leading zeros", a: "007", b: "7", want: 0},
		{name: "bigger than int64", a: "99999999999999999999999", b: "99999999999999999999998", want: 1},
		{name: "fraction", a: "1.5", b: "1.45", want: 1},
		{name: "trailing zeros", a: "1.50", b: "1.5", want: 0},
		{name: "integer and fraction", a: "2", b: "1.999", want: 1},
		{name: "negative", a: "-1", b: "1", want: -1},
		{name: "two negatives", a: "-10", b: "-9", want: -1},
		{name: "negative zero", a: "-0", b: "0", want: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := sign(compareDecimal(tt.a, tt.b)); got != tt.want {
				t.Errorf("compareDecimal(%s, %s) = %d, want %d", tt.a, tt.b, got, tt.want)
			}
			if got := sign(compareDecimal(tt.b, tt.a)); got != -tt.want {
				t.Errorf("compareDecimal(%s, %s) = %d, want %d", tt.b, tt.a, got, -tt.want)
			}
		})
	}
}

func sign(n int) int {
	switch {
	case n > 0:
		return 1
	case n < 0:
		return -1
	}
	return 0
}

// compareDecimal agrees with exact rational arithmetic.
func FuzzCompareDecimal(f *testing.F) {
	for _, s := range [][2]string{{"1", "2"}, {"-0.5", "0"}, {"0010.10", "10.1"}, {"123456789012345678901234567890", "1e3"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		if !decimal.MatchString(a) || !decimal.MatchString(b) || len(a) > 200 || len(b) > 200 {
			return
		}
		ra, _ := new(big.Rat).SetString(a)
		rb, _ := new(big.Rat).SetString(b)
		if got, want := sign(compareDecimal(a, b)), ra.Cmp(rb); got != want {
			t.Errorf("compareDecimal(%s, %s) = %d, want %d", a, b, got, want)
		}
	})
}

// Any policy that validates judges any tag without panicking, and orders
// what it admits consistently.
func FuzzAdmit(f *testing.F) {
	for _, s := range []struct{ policy, tag string }{
		{`{"semver":">=1.0 <2"}`, "1.2.0-rc1"},
		{`{"regex":"^main-(?P<n>\\d+)$","capture":"n"}`, "main-10"},
		{`{"regex":"(?P<n>.*)","order":"alphabetical","capture":"n"}`, ""},
		{`{"glob":"[a-"}`, "a"},
		{`{"exact":"latest"}`, "latest"},
	} {
		f.Add(s.policy, s.tag)
	}
	f.Fuzz(func(t *testing.T, policy, tag string) {
		set, errs := parseConfig(testPath, []byte(`{"repository":"r.example/x","tagPolicy":`+policy+`}`))
		if len(errs) > 0 {
			return
		}
		p := set.policy
		c, reason := p.admit(tag)
		if reason == "" && !isTag(tag) {
			t.Fatalf("admitted invalid tag %q", tag)
		}
		tags := []string{tag, "1.0.0", "v2", "main-1", "latest", tag + "0"}
		all := p.admitAll(tags)
		if p.ordered() {
			for i := 1; i < len(all); i++ {
				if p.compare(all[i-1], all[i]) < 0 {
					t.Fatalf("admitAll not newest first: %q before %q", all[i-1].tag, all[i].tag)
				}
			}
			if reason == "" {
				if newer, ok := p.supersededBy(c, tags); ok && p.compare(candidateOf(t, p, newer), c) <= 0 {
					t.Fatalf("%q superseded by %q, which is not newer", tag, newer)
				}
			}
		}
	})
}

func candidateOf(t *testing.T, p *tagPolicy, tag string) candidate {
	c, reason := p.admit(tag)
	if reason != "" {
		t.Fatalf("admit(%q): %s", tag, reason)
	}
	return c
}
