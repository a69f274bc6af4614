package registry

import (
	"fmt"
	"path"
	"regexp"
	"strings"
	"time"

	"github.com/Masterminds/semver/v3"
	"github.com/distribution/reference"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/opencontainers/go-digest"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	sigsjson "sigs.k8s.io/json"

	"github.com/tinyforge/tinyforge/plugins"
)

// Config is spec.config of a Trigger of kind registry, after a
// TriggerBinding's config is merged over it.
type Config struct {
	// repository is the image repository with its registry host, such as
	// registry.example:5000/team/web, without a tag or digest. A name
	// without a host is on Docker Hub (nginx is docker.io/library/nginx).
	Repository string `json:"repository"`

	// tagPolicy selects the tags that deploy; exact "latest" when absent.
	TagPolicy *TagPolicy `json:"tagPolicy,omitempty"`

	// digest pins one manifest digest (sha256:…): any other digest the
	// policy resolves is skipped.
	Digest string `json:"digest,omitempty"`

	// secretRef names a kubernetes.io/dockerconfigjson Secret in the
	// Trigger's namespace with credentials for the registry; anonymous
	// access when absent.
	SecretRef *SecretRef `json:"secretRef,omitempty"`

	// insecure talks plain HTTP to the registry. Registries on localhost,
	// loopback and private (RFC 1918) addresses are reached over plain
	// HTTP anyway.
	Insecure bool `json:"insecure,omitempty"`

	// pollInterval, when set, makes the Trigger controller ask the registry
	// for the tag the policy picks this often, as a duration ("1m"), at
	// least 5s; webhooks alone when absent.
	PollInterval string `json:"pollInterval,omitempty"`
}

// TagPolicy selects tags: exactly one of exact, glob, regex and semver.
type TagPolicy struct {
	// exact is the one tag that deploys, such as latest or stable.
	Exact string `json:"exact,omitempty"`

	// glob is a pattern in path.Match syntax (*, ?, [a-z], \ escapes); every
	// push of a matching tag deploys.
	Glob string `json:"glob,omitempty"`

	// regex is a Go regular expression (RE2 syntax, unanchored unless it
	// says ^…$). Without capture and order every push of a matching tag
	// deploys; with them only the newest matching tag does.
	Regex string `json:"regex,omitempty"`

	// capture names a group of regex whose value orders the matching tags;
	// only the newest deploys. Only with regex; the whole tag when only
	// order is set.
	Capture string `json:"capture,omitempty"`

	// order is how captured values compare: numerical (default, numbers
	// such as 42 or 20250101.3; a tag whose value is no number does not
	// deploy) or alphabetical (byte order). Only with regex.
	Order Order `json:"order,omitempty"`

	// semver is a semantic version range, such as ">=1.0 <2" or "~1.4"
	// (github.com/Masterminds/semver syntax); tags such as 1.2.3 and v1.2.3
	// match, pre-releases only when the range names one, and only the
	// highest tag in the range deploys.
	Semver string `json:"semver,omitempty"`
}

// Order is how an ordered regex policy compares captured values.
type Order string

// Orders of a regex policy.
const (
	// OrderNumerical compares values as decimal numbers.
	OrderNumerical Order = "numerical"
	// OrderAlphabetical compares values byte by byte.
	OrderAlphabetical Order = "alphabetical"
)

// SecretRef names one key of a Secret in the Trigger's namespace.
type SecretRef struct {
	// name of the Secret.
	Name string `json:"name"`
	// key of the Secret holding the Docker config JSON; .dockerconfigjson
	// by default, as in a kubernetes.io/dockerconfigjson Secret.
	Key string `json:"key,omitempty"`
}

// Defaults and bounds of the config.
const (
	// DefaultTag is the tag an absent tagPolicy deploys.
	DefaultTag = "latest"
	// DefaultSecretKey is the key of a kubernetes.io/dockerconfigjson Secret.
	DefaultSecretKey = ".dockerconfigjson"
	// MinPollInterval keeps polling from hammering a registry.
	MinPollInterval = 5 * time.Second
	// maxPatternLength bounds a glob, regex or range.
	maxPatternLength = 512
)

// settings is a config with defaults applied and its values parsed.
type settings struct {
	Config
	// repo is the repository, normalized (docker.io/library/nginx).
	repo         reference.Named
	policy       *tagPolicy
	pollInterval time.Duration
}

// secretKey returns the Secret key to read, with its default.
func (s *settings) secretKey() string {
	if s.SecretRef.Key == "" {
		return DefaultSecretKey
	}
	return s.SecretRef.Key
}

// Validate checks a registry trigger config and returns every problem at
// once, each under path. It reaches neither the registry nor the API.
func (*Trigger) Validate(path *field.Path, config []byte) field.ErrorList {
	_, errs := parseConfig(path, config)
	return errs
}

// parseConfig decodes config strictly, applies defaults and checks every
// field, reporting each problem under path. The settings are usable only
// when the list is empty.
func parseConfig(p *field.Path, config []byte) (*settings, field.ErrorList) {
	s := &settings{}
	errs := plugins.DecodeStrict(p, config, &s.Config)
	if len(errs) > 0 && !decodes(config) {
		// A syntax or type error: the rest of the config is unknown.
		return s, errs
	}
	errs = append(errs, s.validateRepository(p.Child("repository"))...)
	errs = append(errs, s.validatePolicy(p.Child("tagPolicy"))...)
	if d := s.Digest; d != "" {
		if _, err := digest.Parse(d); err != nil {
			errs = append(errs, field.Invalid(p.Child("digest"), d, "must be a manifest digest such as sha256:<64 hex digits>"))
		}
	}
	if r := s.SecretRef; r != nil {
		rp := p.Child("secretRef")
		if r.Name == "" {
			errs = append(errs, field.Required(rp.Child("name"), "the name of a kubernetes.io/dockerconfigjson Secret"))
		} else {
			for _, msg := range validation.IsDNS1123Subdomain(r.Name) {
				errs = append(errs, field.Invalid(rp.Child("name"), r.Name, msg))
			}
		}
		if r.Key != "" {
			for _, msg := range validation.IsConfigMapKey(r.Key) {
				errs = append(errs, field.Invalid(rp.Child("key"), r.Key, msg))
			}
		}
	}
	if v := s.PollInterval; v != "" {
		d, err := time.ParseDuration(v)
		switch {
		case err != nil:
			errs = append(errs, field.Invalid(p.Child("pollInterval"), v, `must be a duration such as "1m"`))
		case d < MinPollInterval:
			errs = append(errs, field.Invalid(p.Child("pollInterval"), v, fmt.Sprintf("must be at least %v", MinPollInterval)))
		default:
			s.pollInterval = d
		}
	}
	return s, errs
}

// decodes reports whether config decodes at all, ignoring unknown and
// duplicate keys, which leave the known fields decoded.
func decodes(config []byte) bool {
	var c Config
	return sigsjson.UnmarshalCaseSensitivePreserveInts(config, &c) == nil
}

func (s *settings) validateRepository(p *field.Path) field.ErrorList {
	if s.Repository == "" {
		return field.ErrorList{field.Required(p, "the image repository with its registry host, such as registry.example:5000/team/web")}
	}
	named, err := parseRepository(s.Repository)
	if err != nil {
		return field.ErrorList{field.Invalid(p, s.Repository, err.Error())}
	}
	if !reference.IsNameOnly(named) {
		return field.ErrorList{field.Invalid(p, s.Repository, "must be a repository without a tag or digest: the tag goes in tagPolicy, the digest in digest")}
	}
	// Match and Poll talk to the registry through go-containerregistry,
	// whose rules differ in corners: refuse here what it would refuse there.
	if _, err := name.NewRepository(named.Name()); err != nil {
		return field.ErrorList{field.Invalid(p, s.Repository, "must be an image repository: "+err.Error())}
	}
	s.repo = named
	return nil
}

// parseRepository normalizes an image repository as Docker does
// (nginx is docker.io/library/nginx), and takes Docker Hub's other host
// names for docker.io.
func parseRepository(repo string) (reference.Named, error) {
	named, err := reference.ParseNormalizedNamed(repo)
	if err != nil {
		return nil, fmt.Errorf("must be an image repository such as registry.example:5000/team/web: %w", err)
	}
	switch reference.Domain(named) {
	case "index.docker.io", "registry-1.docker.io":
		rest := strings.TrimPrefix(named.String(), reference.Domain(named)+"/")
		return reference.ParseNormalizedNamed("docker.io/" + rest)
	}
	return named, nil
}

func (s *settings) validatePolicy(p *field.Path) field.ErrorList {
	tp := s.TagPolicy
	if tp == nil {
		s.policy = &tagPolicy{kind: policyExact, text: DefaultTag}
		return nil
	}
	var set []string
	for _, f := range []struct{ name, value string }{
		{"exact", tp.Exact}, {"glob", tp.Glob}, {"regex", tp.Regex}, {"semver", tp.Semver},
	} {
		if f.value != "" {
			set = append(set, f.name)
		}
	}
	var errs field.ErrorList
	switch len(set) {
	case 0:
		errs = append(errs, field.Required(p, "exactly one of exact, glob, regex or semver"))
	case 1:
	default:
		errs = append(errs, field.Invalid(p, strings.Join(set, ", "), "exactly one of exact, glob, regex or semver may be set"))
	}
	if tp.Regex == "" {
		if tp.Capture != "" {
			errs = append(errs, field.Forbidden(p.Child("capture"), "only with regex"))
		}
		if tp.Order != "" {
			errs = append(errs, field.Forbidden(p.Child("order"), "only with regex"))
		}
	}
	for _, f := range []struct{ name, value string }{
		{"exact", tp.Exact}, {"glob", tp.Glob}, {"regex", tp.Regex}, {"semver", tp.Semver},
	} {
		if len(f.value) > maxPatternLength {
			errs = append(errs, field.TooLong(p.Child(f.name), "", maxPatternLength))
		}
	}
	if len(errs) > 0 {
		return errs
	}

	pol := &tagPolicy{}
	switch {
	case tp.Exact != "":
		pol.kind, pol.text = policyExact, tp.Exact
		if !isTag(tp.Exact) {
			errs = append(errs, field.Invalid(p.Child("exact"), tp.Exact,
				"must be an image tag: up to 128 letters, digits, '_', '.' and '-', not starting with '.' or '-'"))
		}
	case tp.Glob != "":
		pol.kind, pol.text = policyGlob, tp.Glob
		if _, err := path.Match(tp.Glob, ""); err != nil {
			errs = append(errs, field.Invalid(p.Child("glob"), tp.Glob, "must be a glob pattern such as v1.* (path.Match syntax)"))
		}
	case tp.Regex != "":
		errs = append(errs, pol.compileRegex(p, tp)...)
	default:
		pol.kind, pol.text = policySemver, tp.Semver
		c, err := semver.NewConstraint(tp.Semver)
		if err != nil {
			errs = append(errs, field.Invalid(p.Child("semver"), tp.Semver, "must be a semantic version range such as \">=1.0 <2\": "+err.Error()))
		}
		pol.semver = c
	}
	if len(errs) == 0 {
		s.policy = pol
	}
	return errs
}

func (pol *tagPolicy) compileRegex(p *field.Path, tp *TagPolicy) field.ErrorList {
	pol.kind, pol.text = policyRegex, tp.Regex
	re, err := regexp.Compile(tp.Regex)
	if err != nil {
		return field.ErrorList{field.Invalid(p.Child("regex"), tp.Regex, "must be a Go regular expression: "+strings.TrimPrefix(err.Error(), "error parsing regexp: "))}
	}
	pol.re = re
	var errs field.ErrorList
	switch tp.Order {
	case "", OrderNumerical, OrderAlphabetical:
	default:
		errs = append(errs, field.NotSupported(p.Child("order"), tp.Order, []Order{OrderNumerical, OrderAlphabetical}))
	}
	if tp.Capture == "" && tp.Order == "" {
		return errs
	}
	pol.order = tp.Order
	if pol.order == "" {
		pol.order = OrderNumerical
	}
	pol.groupName = "tag"
	if tp.Capture != "" {
		pol.group = re.SubexpIndex(tp.Capture)
		pol.groupName = "group " + tp.Capture
		if pol.group < 0 {
			named := []string{}
			for _, n := range re.SubexpNames() {
				if n != "" {
					named = append(named, n)
				}
			}
			msg := "must name a group of regex, written (?P<name>…)"
			if len(named) > 0 {
				msg += "; its groups are " + strings.Join(named, ", ")
			}
			errs = append(errs, field.Invalid(p.Child("capture"), tp.Capture, msg))
		}
	}
	return errs
}
