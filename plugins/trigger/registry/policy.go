package registry

import (
	"fmt"
	"path"
	"regexp"
	"slices"
	"strings"

	"github.com/Masterminds/semver/v3"
	"github.com/distribution/reference"
)

// anchoredTag is Docker's tag syntax: a word character, then up to 127
// word characters, dots and dashes.
var anchoredTag = regexp.MustCompile(`^` + reference.TagRegexp.String() + `$`)

// decimal is what the numerical order compares: an optional minus sign,
// digits, and an optional fraction. Exponents are refused, so comparing
// never needs big numbers.
var decimal = regexp.MustCompile(`^-?[0-9]+(\.[0-9]+)?$`)

// isTag reports whether s is a valid Docker tag.
func isTag(s string) bool { return anchoredTag.MatchString(s) }

// policyKind is which of the tag policy's fields is set.
type policyKind int

const (
	policyExact policyKind = iota
	policyGlob
	policyRegex
	policySemver
)

// tagPolicy is a validated TagPolicy, ready to judge tags. It is built by
// parseConfig only.
type tagPolicy struct {
	kind policyKind
	// text is the configured tag, glob, regex or range, for messages.
	text string
	re   *regexp.Regexp
	// group is the regex group whose value orders tags, 0 for the whole
	// tag; groupName names it for messages.
	group     int
	groupName string
	// order is empty when tags are not ordered (exact, glob, regex without
	// capture or order).
	order  Order
	semver *semver.Constraints
}

// candidate is a tag the policy admits, with what orders it.
type candidate struct {
	tag     string
	key     string          // the ordering key of an ordered regex policy
	version *semver.Version // the version of a semver policy
}

// String describes the policy in messages: `semver range >=1.0 <2`.
func (p *tagPolicy) String() string {
	switch p.kind {
	case policyExact:
		return "tag " + p.text
	case policyGlob:
		return "glob " + p.text
	case policyRegex:
		if p.order != "" {
			return fmt.Sprintf("regex %s (%s order of %s)", p.text, p.order, p.groupName)
		}
		return "regex " + p.text
	default:
		return "semver range " + p.text
	}
}

// ordered reports whether only the newest admitted tag deploys.
func (p *tagPolicy) ordered() bool {
	return p.kind == policySemver || p.order != ""
}

// admit decides whether tag is one the policy deploys, and when not, says
// why in one sentence for people.
func (p *tagPolicy) admit(tag string) (candidate, string) {
	if !isTag(tag) {
		return candidate{}, fmt.Sprintf("tag %q is not a valid image tag", tag)
	}
	c := candidate{tag: tag}
	switch p.kind {
	case policyExact:
		if tag != p.text {
			return c, fmt.Sprintf("tag %s is not the configured tag %s", tag, p.text)
		}
	case policyGlob:
		// The pattern was checked by Validate; a bad one matches nothing.
		if ok, _ := path.Match(p.text, tag); !ok {
			return c, fmt.Sprintf("tag %s does not match glob %s", tag, p.text)
		}
	case policyRegex:
		m := p.re.FindStringSubmatchIndex(tag)
		if m == nil {
			return c, fmt.Sprintf("tag %s does not match regex %s", tag, p.text)
		}
		if p.order == "" {
			return c, ""
		}
		if m[2*p.group] < 0 {
			return c, fmt.Sprintf("tag %s matches regex %s without its %s", tag, p.text, p.groupName)
		}
		c.key = tag[m[2*p.group]:m[2*p.group+1]]
		if p.order == OrderNumerical && !decimal.MatchString(c.key) {
			if p.group == 0 {
				return c, fmt.Sprintf("tag %s matches regex %s, but is not a number to order by", tag, p.text)
			}
			return c, fmt.Sprintf("tag %s matches regex %s, but its %s %q is not a number", tag, p.text, p.groupName, c.key)
		}
	case policySemver:
		v, err := semver.NewVersion(tag)
		if err != nil {
			return c, fmt.Sprintf("tag %s is not a semantic version (semver range %s)", tag, p.text)
		}
		if !p.semver.Check(v) {
			return c, fmt.Sprintf("tag %s is outside semver range %s", tag, p.text)
		}
		c.version = v
	}
	return c, ""
}

// compare orders two admitted candidates of an ordered policy: positive
// when a is newer than b, zero when the policy cannot tell them apart
// (v1.2.3 and 1.2.3).
func (p *tagPolicy) compare(a, b candidate) int {
	switch {
	case p.kind == policySemver:
		return a.version.Compare(b.version)
	case p.order == OrderNumerical:
		return compareDecimal(a.key, b.key)
	default:
		return strings.Compare(a.key, b.key)
	}
}

// admitAll returns the candidates among tags, sorted newest first for an
// ordered policy (ties by tag, so the pick is deterministic), by tag
// otherwise; duplicates are dropped.
func (p *tagPolicy) admitAll(tags []string) []candidate {
	var out []candidate
	seen := map[string]bool{}
	for _, t := range tags {
		if seen[t] {
			continue
		}
		seen[t] = true
		if c, reason := p.admit(t); reason == "" {
			out = append(out, c)
		}
	}
	slices.SortFunc(out, func(a, b candidate) int {
		if p.ordered() {
			if c := p.compare(b, a); c != 0 {
				return c
			}
		}
		return strings.Compare(a.tag, b.tag)
	})
	return out
}

// newest returns the newest candidate among tags under an ordered policy.
func (p *tagPolicy) newest(tags []string) (candidate, bool) {
	all := p.admitAll(tags)
	if len(all) == 0 {
		return candidate{}, false
	}
	return all[0], true
}

// supersededBy returns, for a tag the ordered policy admitted, a tag among
// tags that is strictly newer, if there is one: then c must not deploy.
func (p *tagPolicy) supersededBy(c candidate, tags []string) (string, bool) {
	best, ok := p.newest(tags)
	if !ok || p.compare(best, c) <= 0 {
		return "", false
	}
	return best.tag, true
}

// compareDecimal compares two strings that match decimal, as numbers of any
// size.
func compareDecimal(a, b string) int {
	an, bn := strings.HasPrefix(a, "-") && !isZero(a), strings.HasPrefix(b, "-") && !isZero(b)
	a, b = strings.TrimPrefix(a, "-"), strings.TrimPrefix(b, "-")
	switch {
	case an && bn:
		return -compareMagnitude(a, b)
	case an:
		return -1
	case bn:
		return 1
	}
	return compareMagnitude(a, b)
}

// isZero reports whether a decimal is zero (0, -0.00).
func isZero(s string) bool { return strings.Trim(s, "-0.") == "" }

// compareMagnitude compares two unsigned decimals: integer parts by length
// then digits, after dropping leading zeros; fractions digit by digit,
// after dropping trailing zeros.
func compareMagnitude(a, b string) int {
	ai, af, _ := strings.Cut(a, ".")
	bi, bf, _ := strings.Cut(b, ".")
	ai, bi = strings.TrimLeft(ai, "0"), strings.TrimLeft(bi, "0")
	if c := len(ai) - len(bi); c != 0 {
		return c
	}
	if c := strings.Compare(ai, bi); c != 0 {
		return c
	}
	return strings.Compare(strings.TrimRight(af, "0"), strings.TrimRight(bf, "0"))
}
