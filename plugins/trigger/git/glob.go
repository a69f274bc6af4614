package git

import (
	"errors"
	"fmt"
	"path"
	"strings"
)

// Glob patterns are matched segment by segment ('/' separates segments), as
// GitHub Actions filters are: '*', '?' and '[…]' work as in path.Match
// within one segment, and a segment that is exactly '**' matches zero or
// more whole segments. So release/* matches release/1.0 but not
// release/1.0/hotfix, and release/** matches both.

// errBadGlob is wrapped by validGlob's errors.
var errBadGlob = errors.New("bad glob pattern")

// doubleStar is the segment that matches any number of segments.
const doubleStar = "**"

// validGlob reports whether pattern is a well-formed glob.
func validGlob(pattern string) error {
	for seg := range strings.SplitSeq(pattern, "/") {
		if seg == doubleStar {
			continue
		}
		if _, err := path.Match(seg, ""); err != nil {
			return fmt.Errorf("%w: segment %q: %w", errBadGlob, seg, err)
		}
	}
	return nil
}

// hasGlobMeta reports whether s contains a glob metacharacter, that is
// whether it is a pattern rather than a literal name.
func hasGlobMeta(s string) bool {
	return strings.ContainsAny(s, `*?[\`)
}

// matchGlob reports whether name matches pattern entirely.
func matchGlob(pattern, name string) bool {
	ends := globMatchEnds(pattern, name)
	return ends[len(ends)-1]
}

// matchGlobOrParent reports whether name, or one of the folders it is in,
// matches pattern: the pattern docs matches docs/guide/intro.md, and
// services/*/api matches services/web/api/main.go.
func matchGlobOrParent(pattern, name string) bool {
	ends := globMatchEnds(pattern, name)
	for _, ok := range ends[1:] {
		if ok {
			return true
		}
	}
	return false
}

// globMatchEnds returns, for each j from 0 to the number of segments of
// name, whether pattern matches the first j segments of name. It runs in
// time proportional to the product of the segment counts, whatever the
// pattern, so no input can make it slow; a malformed pattern matches
// nothing.
func globMatchEnds(pattern, name string) []bool {
	pat := strings.Split(pattern, "/")
	segs := strings.Split(name, "/")
	// prev[j]: pat[:i] matches segs[:j]; start with i = 0.
	prev := make([]bool, len(segs)+1)
	prev[0] = true
	cur := make([]bool, len(segs)+1)
	for _, p := range pat {
		if p == doubleStar {
			// ** matches segs[k:j] for any k <= j.
			seen := false
			for j := range cur {
				seen = seen || prev[j]
				cur[j] = seen
			}
		} else {
			cur[0] = false
			for j := 1; j <= len(segs); j++ {
				ok := false
				if prev[j-1] {
					ok, _ = path.Match(p, segs[j-1])
				}
				cur[j] = ok
			}
		}
		prev, cur = cur, prev
	}
	return prev
}
