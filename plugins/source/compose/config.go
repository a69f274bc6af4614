package compose

import (
	"path"
	"regexp"
	"strings"

	"github.com/compose-spec/compose-go/v2/loader"
	"k8s.io/apimachinery/pkg/util/validation/field"
	sigsjson "sigs.k8s.io/json"

	"github.com/tinyforge/tinyforge/internal/git"
	"github.com/tinyforge/tinyforge/plugins"
)

// Config is spec.source.config of a workload of kind compose. Exactly one
// of compose and git is set.
type Config struct {
	// project is the Compose project name, which prefixes every container,
	// network and volume of the stack. When empty, the compose file's own
	// top-level name is used, else <namespace>-<workload>.
	Project string `json:"project,omitempty"`

	// compose is the compose file itself, as YAML.
	Compose string `json:"compose,omitempty"`

	// git names a compose file in a git repository.
	Git *GitSource `json:"git,omitempty"`

	// envFiles are .env files, relative to the compose file's folder in the
	// git repository, whose variables are used for interpolation; spec.env
	// wins over them. Only with git.
	EnvFiles []string `json:"envFiles,omitempty"`

	// profiles are the Compose profiles to enable; services with other
	// profiles do not run. "*" enables every profile.
	Profiles []string `json:"profiles,omitempty"`
}

// GitSource is a compose file in a git repository.
type GitSource struct {
	// url of the repository, as git clone takes it.
	URL string `json:"url"`
	// ref is the branch, tag or commit to check out; the remote's default
	// branch when empty. A git trigger's commit overrides it.
	Ref string `json:"ref,omitempty"`
	// path is the folder of the compose file in the repository; the root
	// when empty.
	Path string `json:"path,omitempty"`
	// file is the compose file's name in that folder; compose.yaml, else
	// docker-compose.yml, when empty.
	File string `json:"file,omitempty"`
}

// Bounds of the config.
const (
	// maxComposeBytes bounds an inline compose file, which is stored in the
	// Workload object (etcd refuses objects over 1.5 MiB).
	maxComposeBytes = 256 << 10
	// maxProjectLength keeps <project>-<service>-<n> usable as a host name.
	maxProjectLength = 63
	// maxItems bounds envFiles and profiles.
	maxItems = 32
)

// projectPattern is what `docker compose -p` accepts.
var projectPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)

// profilePattern is the compose specification's pattern of a profile name.
var profilePattern = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]*$`)

// configPath is where the config sits in a Workload, for messages.
var configPath = field.NewPath("spec", "source", "config")

// settings is a decoded config.
type settings struct {
	Config
}

// inline reports whether the compose file is given inline.
func (s *settings) inline() bool { return s.Git == nil }

// gitURL is the repository's URL, empty for an inline file.
func (s *settings) gitURL() string {
	if s.Git == nil {
		return ""
	}
	return s.Git.URL
}

// Validate checks spec.source.config and returns every problem at once,
// each under path. An inline compose file is loaded and screened for keys
// TinyForge does not implement, with variables left uninterpolated (their
// values are not known at admission): Deploy checks again with them. It
// reaches neither Docker nor the network.
func (*Source) Validate(path *field.Path, config []byte) field.ErrorList {
	set, errs := parseConfig(path, config)
	if len(errs) > 0 || !set.inline() {
		return errs
	}
	return validateCompose(path.Child("compose"), set)
}

// parseConfig decodes config strictly and checks its fields, but not the
// compose file. The settings are usable only when the list is empty.
func parseConfig(p *field.Path, config []byte) (*settings, field.ErrorList) {
	s := &settings{}
	errs := plugins.DecodeStrict(p, config, &s.Config)
	if len(errs) > 0 && !decodes(config) {
		// A syntax or type error: the rest of the config is unknown.
		return s, errs
	}
	return s, append(errs, s.validate(p)...)
}

// decodes reports whether config decodes at all, ignoring unknown and
// duplicate keys, which leave the known fields decoded.
func decodes(config []byte) bool {
	var c Config
	return sigsjson.UnmarshalCaseSensitivePreserveInts(config, &c) == nil
}

func (s *settings) validate(p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if v := s.Project; v != "" {
		pp := p.Child("project")
		switch {
		case len(v) > maxProjectLength:
			errs = append(errs, field.TooLong(pp, "", maxProjectLength))
		case !projectPattern.MatchString(v):
			errs = append(errs, field.Invalid(pp, v,
				"must be a Compose project name: lowercase letters, digits, '-' and '_', starting with a letter or digit"))
		}
	}
	switch {
	case s.Compose == "" && s.Git == nil:
		errs = append(errs, field.Required(p.Child("compose"), "the compose file as YAML, or git naming one in a repository"))
	case s.Compose != "" && s.Git != nil:
		errs = append(errs, field.Invalid(p.Child("git"), field.OmitValueType{}, "compose and git are mutually exclusive"))
	case len(s.Compose) > maxComposeBytes:
		errs = append(errs, field.TooLong(p.Child("compose"), "", maxComposeBytes))
	}
	if s.Git != nil {
		errs = append(errs, s.Git.validate(p.Child("git"))...)
	}
	errs = append(errs, s.validateEnvFiles(p.Child("envFiles"))...)
	errs = append(errs, validateProfiles(p.Child("profiles"), s.Profiles)...)
	return errs
}

func (g *GitSource) validate(p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if g.URL == "" {
		errs = append(errs, field.Required(p.Child("url"), "the repository URL, as git clone takes it"))
	} else if err := git.ValidateURL(g.URL); err != nil {
		errs = append(errs, field.Invalid(p.Child("url"), git.DisplayURL(g.URL), err.Error()))
	}
	if err := git.ValidateRef(g.Ref); err != nil {
		errs = append(errs, field.Invalid(p.Child("ref"), g.Ref, err.Error()))
	}
	if g.Path != "" {
		if msg := relativePath(g.Path); msg != "" {
			errs = append(errs, field.Invalid(p.Child("path"), g.Path, msg))
		}
	}
	if g.File != "" && (strings.ContainsAny(g.File, "/\\\x00") || g.File == "." || g.File == "..") {
		errs = append(errs, field.Invalid(p.Child("file"), g.File, "must be a file name in path, without '/'"))
	}
	return errs
}

func (s *settings) validateEnvFiles(p *field.Path) field.ErrorList {
	if len(s.EnvFiles) == 0 {
		return nil
	}
	if s.inline() {
		return field.ErrorList{field.Forbidden(p, "env files are read from the git repository: an inline compose file has none (use spec.env)")}
	}
	if len(s.EnvFiles) > maxItems {
		return field.ErrorList{field.TooMany(p, len(s.EnvFiles), maxItems)}
	}
	var errs field.ErrorList
	for i, f := range s.EnvFiles {
		if msg := relativePath(f); msg != "" {
			errs = append(errs, field.Invalid(p.Index(i), f, msg))
		}
	}
	return errs
}

func validateProfiles(p *field.Path, profiles []string) field.ErrorList {
	if len(profiles) > maxItems {
		return field.ErrorList{field.TooMany(p, len(profiles), maxItems)}
	}
	var errs field.ErrorList
	seen := map[string]bool{}
	for i, pr := range profiles {
		switch {
		case pr != "*" && !profilePattern.MatchString(pr):
			errs = append(errs, field.Invalid(p.Index(i), pr, "must be a Compose profile name: letters, digits, '_', '.' and '-', starting with a letter or digit"))
		case seen[pr]:
			errs = append(errs, field.Duplicate(p.Index(i), pr))
		}
		seen[pr] = true
	}
	return errs
}

// relativePath returns why p is not a clean relative path that stays in
// its root, or "".
func relativePath(p string) string {
	switch {
	case strings.ContainsRune(p, 0):
		return "must not contain NUL"
	case path.IsAbs(p) || strings.HasPrefix(p, "\\"):
		return "must be relative to the repository"
	case path.Clean(p) == ".." || strings.HasPrefix(path.Clean(p), "../"):
		return "must stay inside the repository"
	}
	return ""
}

// projectName is the project name of w: the config's, else the compose
// file's own (the loader applies it when this one is not explicit), else
// <namespace>-<workload> made a valid name.
func projectName(w plugins.Workload, set *settings) (name string, explicit bool) {
	if set.Project != "" {
		return set.Project, true
	}
	name = loader.NormalizeProjectName(w.Namespace + "-" + w.Name)
	if len(name) > maxProjectLength {
		name = strings.TrimRight(name[:maxProjectLength], "-_")
	}
	if name == "" {
		name = "tinyforge"
	}
	return name, false
}
