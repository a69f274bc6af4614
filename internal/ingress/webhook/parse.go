package webhook

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/distribution/reference"

	"github.com/tinyforge/tinyforge/api/v1alpha1"
	"github.com/tinyforge/tinyforge/plugins"
)

// MaxChangedPaths bounds GitEvent.ChangedPaths: a push that changes more
// paths reports none (unknown), as a path filter must then not filter.
const MaxChangedPaths = 1000

// Result is what one delivery carries.
type Result struct {
	// Events are the normalized events, in the payload's order; a
	// distribution envelope or a Harbor push of several tags has several.
	// Empty when Ignored is set.
	Events []plugins.InboundEvent

	// Ignored is why a valid delivery carries nothing to act on (a deleted
	// branch, a blob-only registry envelope, …); empty when Events is not.
	Ignored string
}

// ignored returns a Result that acts on nothing, for reason.
func ignored(format string, args ...any) Result {
	return Result{Ignored: fmt.Sprintf(format, args...)}
}

// Parse normalizes a delivery from provider p, whose signature the caller
// has checked with Verify. It fails with ErrMalformed when the body is not
// the provider's JSON or lacks a field it needs, and with ErrUnsupported when
// the headers name an event this package does not handle. It never panics,
// and allocates in proportion to the body.
func Parse(p v1alpha1.Provider, h http.Header, body []byte) (Result, error) {
	var (
		res Result
		err error
	)
	switch p {
	case v1alpha1.ProviderGitHub:
		res, err = parseGitHub(h, body)
	case v1alpha1.ProviderGitea:
		res, err = parseGitea(h, body)
	case v1alpha1.ProviderGitLab:
		res, err = parseGitLab(h, body)
	case v1alpha1.ProviderDockerHub:
		res, err = parseDockerHub(body)
	case v1alpha1.ProviderDistribution:
		res, err = parseDistribution(body)
	case v1alpha1.ProviderHarbor:
		res, err = parseHarbor(body)
	case v1alpha1.ProviderGeneric:
		res, err = parseGeneric(h, body)
	default:
		return Result{}, unknownProvider(p)
	}
	if err != nil {
		return Result{}, err
	}
	for i := range res.Events {
		res.Events[i].Provider = string(p)
	}
	return res, nil
}

// deliveryID returns the first of the headers that is set, else the body's
// hash.
func deliveryID(h http.Header, body []byte, headers ...string) string {
	for _, name := range headers {
		if v := strings.TrimSpace(h.Get(name)); v != "" {
			return v
		}
	}
	return bodyHash(body)
}

// bodyHash is the delivery ID of a body whose provider sends none: the same
// body always gets the same ID, so a redelivery is recognized.
func bodyHash(body []byte) string {
	sum := sha256.Sum256(body)
	return hex.EncodeToString(sum[:])
}

// indexedID makes one delivery ID per event when a delivery yields several.
func indexedID(id string, i, n int) string {
	if n <= 1 {
		return id
	}
	return id + "-" + strconv.Itoa(i)
}

// gitCommit is a commit as GitHub, Gitea and GitLab list it.
type gitCommit struct {
	ID       string    `json:"id"`
	Message  string    `json:"message"`
	Author   gitPerson `json:"author"`
	Added    []string  `json:"added"`
	Modified []string  `json:"modified"`
	Removed  []string  `json:"removed"`
}

type gitPerson struct {
	Name     string `json:"name"`
	Email    string `json:"email"`
	Username string `json:"username"`
}

// String is the person as GitEvent.Author holds it: "Name <email>", or the
// name or user name alone.
func (p gitPerson) String() string {
	name := strings.TrimSpace(p.Name)
	if name == "" {
		name = strings.TrimSpace(p.Username)
	}
	if email := strings.TrimSpace(p.Email); email != "" && name != "" {
		return name + " <" + email + ">"
	}
	return name
}

// changedPaths returns the sorted union of the paths the commits added,
// modified or removed, or nil when complete is false (the payload left
// commits out) or more than MaxChangedPaths paths changed.
func changedPaths(commits []gitCommit, complete bool) []string {
	if !complete {
		return nil
	}
	seen := make(map[string]struct{})
	for _, c := range commits {
		for _, list := range [][]string{c.Added, c.Modified, c.Removed} {
			for _, p := range list {
				if p == "" {
					continue
				}
				seen[p] = struct{}{}
				if len(seen) > MaxChangedPaths {
					return nil
				}
			}
		}
	}
	if len(seen) == 0 {
		return nil
	}
	paths := make([]string, 0, len(seen))
	for p := range seen {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	return paths
}

// headCommit returns the commit whose ID is id, else the last one (the
// providers list commits oldest first), else nil.
func headCommit(commits []gitCommit, id string) *gitCommit {
	for i := range commits {
		if commits[i].ID != "" && strings.EqualFold(commits[i].ID, id) {
			return &commits[i]
		}
	}
	if len(commits) > 0 {
		return &commits[len(commits)-1]
	}
	return nil
}

// isZeroCommit reports whether c is the all-zeros ID providers use for a ref
// that does not exist (before a create, after a delete).
func isZeroCommit(c string) bool {
	return c != "" && strings.Trim(c, "0") == ""
}

// commitID checks an optional commit ID from field of what and returns it
// lowercased; the Event schema takes 7 to 64 hex digits.
func commitID(what, field, c string) (string, error) {
	if c == "" {
		return "", nil
	}
	lower := strings.ToLower(c)
	if len(lower) < 7 || len(lower) > 64 || !plugins.IsHex(lower) {
		return "", malformed(what, "%s %q is not a commit ID (7 to 64 hex digits)", field, truncate(c, 80))
	}
	return lower, nil
}

// refKind returns the event type of a full ref, or false when it is neither
// a branch nor a tag.
func refKind(ref string) (plugins.EventType, bool) {
	switch {
	case strings.HasPrefix(ref, "refs/heads/") && len(ref) > len("refs/heads/"):
		return plugins.EventTypeGitPush, true
	case strings.HasPrefix(ref, "refs/tags/") && len(ref) > len("refs/tags/"):
		return plugins.EventTypeGitTag, true
	}
	return "", false
}

// refNoun names a ref's kind for Ignored reasons.
func refNoun(ref string) string {
	if strings.HasPrefix(ref, "refs/tags/") {
		return "tag"
	}
	return "branch"
}

// imageFields names the payload fields an image event came from, for errors.
type imageFields struct {
	repository, tag, digest string
}

// checkImage validates an image event's repository, tag and digest, naming
// the fields of what they came from.
func checkImage(what string, fields imageFields, img *plugins.ImageRef) error {
	named, err := reference.ParseNormalizedNamed(img.Repository)
	if err != nil {
		return malformed(what, "%s %q is not an image repository: %v", fields.repository, truncate(img.Repository, 200), err)
	}
	if _, tagged := named.(reference.Tagged); tagged {
		return malformed(what, "%s %q holds a tag; the repository must not", fields.repository, truncate(img.Repository, 200))
	}
	if _, digested := named.(reference.Digested); digested {
		return malformed(what, "%s %q holds a digest; the repository must not", fields.repository, truncate(img.Repository, 200))
	}
	if img.Tag != "" {
		if _, err := reference.WithTag(named, img.Tag); err != nil {
			return malformed(what, "%s %q is not a valid image tag", fields.tag, truncate(img.Tag, 200))
		}
	}
	if img.Digest != "" && (!plugins.IsDigest(img.Digest) || len(img.Digest) > v1alpha1.MaxRevisionLength) {
		return malformed(what, "%s %q is not algorithm:hex", fields.digest, truncate(img.Digest, 200))
	}
	return nil
}

// cut shortens s to at most n bytes without splitting a UTF-8 sequence.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for len(s) > 0 {
		r, size := utf8.DecodeLastRuneInString(s)
		if r != utf8.RuneError || size != 1 {
			break
		}
		s = s[:len(s)-1]
	}
	return s
}
