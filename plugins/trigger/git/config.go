package git

import (
	"errors"
	"fmt"
	"strings"
	"unicode"

	"github.com/Masterminds/semver/v3"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	sigsjson "sigs.k8s.io/json"

	gitcli "github.com/tinyforge/tinyforge/internal/git"
	"github.com/tinyforge/tinyforge/plugins"
)

// Config is spec.config of a Trigger of kind git, with a TriggerBinding's
// spec.config merged over it.
//
// A push to a branch deploys when the branch matches branches; a tag
// deploys when it matches tags and satisfies tagSemver (each when set).
// With none of branches, tags and tagSemver set, branches defaults to
// DefaultBranches(), the names repositories give their default branch;
// setting only tags or tagSemver watches releases and no branch.
type Config struct {
	// url of the repository, as git clone takes it (and as the workload's
	// source clones it): https://, http://, ssh://, git:// or file://, an
	// scp-like git@host:owner/repo.git, or an absolute local path. Events
	// for other repositories are skipped; the comparison ignores the
	// scheme, the user, the port, the host's case, a trailing .git and
	// slashes, so git@github.com:acme/web.git and https://github.com/acme/web
	// are the same repository.
	URL string `json:"url"`

	// branches are glob patterns of the branch names whose pushes deploy,
	// such as main or release/*. '*' does not cross '/', '**' does.
	// Defaults to ["main", "master"] when tags and tagSemver are unset too.
	Branches []string `json:"branches,omitempty"`

	// tags are glob patterns of the tag names whose pushes deploy, such as
	// v*. When only tagSemver is set, every tag it accepts deploys.
	Tags []string `json:"tags,omitempty"`

	// tagSemver is a semantic version range, such as ">=1.0.0 <2" or "^1.4";
	// a tag deploys only when it is a version MAJOR.MINOR.PATCH (with an
	// optional leading v) inside the range. Pre-releases (1.2.0-rc.1) are
	// inside a range only when the range names a pre-release itself
	// (">=1.2.0-0").
	TagSemver string `json:"tagSemver,omitempty"`

	// paths limit branch and tag pushes to those that change something
	// under one of them: folder prefixes (docs, services/web/) or glob
	// patterns (services/*/api, **/*.go). A push whose changed paths are
	// all elsewhere is skipped; a push whose provider reported no paths is
	// not.
	Paths []string `json:"paths,omitempty"`

	// secretRef names the Secret, in the trigger's namespace, whose key
	// holds a token for reading refs over https (git ls-remote), for
	// private repositories. It is sent as the password of HTTP basic
	// authentication, which GitHub, GitLab and Gitea accept.
	SecretRef *SecretRef `json:"secretRef,omitempty"`
}

// SecretRef names a key of a Secret in the trigger's namespace.
type SecretRef struct {
	// name of the Secret.
	Name string `json:"name"`
	// key within the Secret's data; "token" by default.
	Key string `json:"key,omitempty"`
}

// DefaultBranches returns the branches watched when branches, tags and
// tagSemver are all unset: the names repositories give their default
// branch, in the order manual and cron deploys try them.
func DefaultBranches() []string { return []string{"main", "master"} }

// DefaultSecretKey is the key read from secretRef's Secret when it names
// none.
const DefaultSecretKey = "token"

// Bounds of the config.
const (
	// maxPatterns bounds each of branches, tags and paths.
	maxPatterns = 64
	// maxPatternLength bounds one pattern (git refuses longer ref names on
	// most file systems anyway).
	maxPatternLength = 255
	// maxSemverLength bounds tagSemver.
	maxSemverLength = 256
)

// settings is a config with defaults applied and its values parsed.
type settings struct {
	Config
	repo      repoURL
	semver    *semver.Constraints
	secretKey string
}

// Validate checks spec.config and returns every problem at once, each
// under path. It reaches neither git nor the network.
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
	errs = append(errs, s.validate(path)...)
	if len(s.Branches) == 0 && len(s.Tags) == 0 && s.TagSemver == "" {
		s.Branches = DefaultBranches()
	}
	s.secretKey = DefaultSecretKey
	if s.SecretRef != nil && s.SecretRef.Key != "" {
		s.secretKey = s.SecretRef.Key
	}
	return s, errs
}

// decodes reports whether config decodes at all, ignoring unknown and
// duplicate keys, which leave the known fields decoded.
func decodes(config []byte) bool {
	var c Config
	return sigsjson.UnmarshalCaseSensitivePreserveInts(config, &c) == nil
}

func (s *settings) validate(p *field.Path) field.ErrorList {
	var errs field.ErrorList
	errs = append(errs, s.validateURL(p.Child("url"))...)
	errs = append(errs, validatePatterns(p.Child("branches"), s.Branches, validateRefPattern)...)
	errs = append(errs, validatePatterns(p.Child("tags"), s.Tags, validateRefPattern)...)
	if v := s.TagSemver; v != "" {
		sp := p.Child("tagSemver")
		if len(v) > maxSemverLength {
			errs = append(errs, field.TooLong(sp, "", maxSemverLength))
		} else if c, err := semver.NewConstraint(v); err != nil {
			errs = append(errs, field.Invalid(sp, v, "must be a semantic version range such as \">=1.0.0\" or \"^1.4\": "+err.Error()))
		} else {
			s.semver = c
		}
	}
	errs = append(errs, validatePatterns(p.Child("paths"), s.Paths, validatePathPattern)...)
	errs = append(errs, s.validateSecretRef(p.Child("secretRef"))...)
	return errs
}

func (s *settings) validateURL(p *field.Path) field.ErrorList {
	switch {
	case s.URL == "":
		return field.ErrorList{field.Required(p, "the repository to watch, such as https://github.com/acme/web.git")}
	case len(s.URL) > maxURLLength:
		return field.ErrorList{field.TooLong(p, "", maxURLLength)}
	}
	u, err := parseRepoURL(s.URL)
	switch {
	case errors.Is(err, errURLPassword):
		// Never echo a URL that holds a secret.
		return field.ErrorList{field.Invalid(p, field.OmitValueType{}, err.Error())}
	case err != nil:
		return field.ErrorList{field.Invalid(p, s.URL, err.Error())}
	}
	// Match asks the repository through internal/git, which must take the
	// URL too.
	if err := gitcli.ValidateURL(s.URL); err != nil {
		return field.ErrorList{field.Invalid(p, gitcli.DisplayURL(s.URL), err.Error())}
	}
	s.repo = u
	return nil
}

func (s *settings) validateSecretRef(p *field.Path) field.ErrorList {
	ref := s.SecretRef
	if ref == nil {
		return nil
	}
	var errs field.ErrorList
	if ref.Name == "" {
		errs = append(errs, field.Required(p.Child("name"), "the name of a Secret in the trigger's namespace"))
	} else {
		for _, msg := range validation.IsDNS1123Subdomain(ref.Name) {
			errs = append(errs, field.Invalid(p.Child("name"), ref.Name, msg))
		}
	}
	if ref.Key != "" {
		for _, msg := range validation.IsConfigMapKey(ref.Key) {
			errs = append(errs, field.Invalid(p.Child("key"), ref.Key, msg))
		}
	}
	// s.repo is zero when the URL itself is invalid: that error suffices.
	if s.repo.scheme != "" && s.repo.scheme != schemeHTTPS {
		errs = append(errs, field.Forbidden(p,
			fmt.Sprintf("a token is sent only over https, and url uses %s", s.repo.scheme)))
	}
	return errs
}

// validatePatterns checks a list of patterns with check, refusing empty
// entries and duplicates.
func validatePatterns(p *field.Path, patterns []string, check func(string) string) field.ErrorList {
	if len(patterns) > maxPatterns {
		return field.ErrorList{field.TooMany(p, len(patterns), maxPatterns)}
	}
	var errs field.ErrorList
	seen := map[string]bool{}
	for i, pat := range patterns {
		ip := p.Index(i)
		switch {
		case pat == "":
			errs = append(errs, field.Invalid(ip, pat, "must not be empty"))
		case len(pat) > maxPatternLength:
			errs = append(errs, field.TooLong(ip, "", maxPatternLength))
		case seen[pat]:
			errs = append(errs, field.Duplicate(ip, pat))
		default:
			if msg := check(pat); msg != "" {
				errs = append(errs, field.Invalid(ip, pat, msg))
			}
		}
		seen[pat] = true
	}
	return errs
}

// validateRefPattern checks a branch or tag pattern; it returns "" when the
// pattern is fine.
func validateRefPattern(pat string) string {
	switch {
	case strings.HasPrefix(pat, "refs/"):
		return "must be a branch or tag name (or pattern) without the refs/heads/ or refs/tags/ prefix"
	case strings.IndexFunc(pat, func(r rune) bool { return unicode.IsSpace(r) || !unicode.IsPrint(r) }) >= 0:
		return "must not contain spaces or control characters"
	case strings.ContainsAny(pat, "~^:"):
		return "must not contain '~', '^' or ':', which git refuses in ref names"
	case strings.Contains(pat, ".."), strings.Contains(pat, "@{"):
		return "must not contain '..' or '@{', which git refuses in ref names"
	case strings.HasPrefix(pat, "/"), strings.HasSuffix(pat, "/"), strings.Contains(pat, "//"):
		return "must not start or end with '/' or contain '//'"
	case strings.HasPrefix(pat, "-"):
		return "must not start with '-'"
	}
	if err := validGlob(pat); err != nil {
		return "must be a glob pattern such as release/*: " + err.Error()
	}
	return ""
}

// validatePathPattern checks a path pattern; it returns "" when the
// pattern is fine.
func validatePathPattern(pat string) string {
	if strings.IndexFunc(pat, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0 {
		return "must not contain control characters"
	}
	if strings.HasPrefix(pat, "/") {
		return "must be relative to the repository's root, without a leading '/'"
	}
	for seg := range strings.SplitSeq(strings.TrimSuffix(pat, "/"), "/") {
		switch seg {
		case "":
			return "must not contain empty segments ('//')"
		case ".", "..":
			return "must not contain '.' or '..' segments"
		}
	}
	if err := validGlob(pat); err != nil {
		return "must be a folder prefix or a glob pattern such as services/*/api: " + err.Error()
	}
	return ""
}
