package static

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"path"
	"strings"

	"github.com/distribution/reference"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	sigsjson "sigs.k8s.io/json"

	"github.com/tinyforge/tinyforge/internal/git"
	"github.com/tinyforge/tinyforge/plugins"
)

// Config is spec.source.config of a workload of kind static. Zero values
// take the defaults documented on each field.
type Config struct {
	// git is the repository folder the site comes from.
	Git GitSource `json:"git"`

	// build, when set, runs a build step on the folder in a container of
	// its own image, and serves what the step writes to its output
	// directory instead of the folder itself.
	Build *Build `json:"build,omitempty"`

	// baseImage is the image that serves the site: the site's files are
	// copied into its root directory, and it runs as it is. nginx:1-alpine
	// by default.
	BaseImage string `json:"baseImage,omitempty"`

	// root is the absolute directory of baseImage the site is copied to;
	// /usr/share/nginx/html (nginx's) by default.
	Root string `json:"root,omitempty"`

	// port is the container port baseImage serves HTTP on, 80 by default.
	// Every route of the workload goes to it, whatever port the route
	// names.
	Port int32 `json:"port,omitempty"`

	// secretRef names a Secret key of the workload's namespace that holds
	// a token for an https repository URL.
	SecretRef *SecretRef `json:"secretRef,omitempty"`
}

// GitSource is where in which repository the site is.
type GitSource struct {
	// url of the repository, as git clone takes it: an https://, http://,
	// ssh://, git:// or file:// URL, user@host:path, or an absolute local
	// path. It holds no password; credentials go in secretRef.
	URL string `json:"url"`
	// ref is the branch, tag or full commit ID to serve; the remote's
	// HEAD (its default branch) by default. A git trigger's push overrides
	// it with the commit pushed.
	Ref string `json:"ref,omitempty"`
	// path is the folder of the repository that holds the site (or its
	// sources, with a build step), relative to the repository's root; "."
	// by default. It may not climb out with "..", nor leave the checkout
	// through symlinks.
	Path string `json:"path,omitempty"`
}

// Build is a build step run on the site's folder.
type Build struct {
	// image runs the step; the folder is copied to /src in it, which is
	// the working directory.
	Image string `json:"image"`
	// command runs the step, in exec form: the executable and its
	// arguments, with no shell (write ["sh", "-c", "…"] for one).
	Command []string `json:"command"`
	// outputDir is the folder, relative to the site's folder, where the
	// step writes the site to serve; "dist" by default.
	OutputDir string `json:"outputDir,omitempty"`
}

// SecretRef names the key of a Secret holding a token for the repository.
type SecretRef struct {
	// name of the Secret, in the workload's namespace.
	Name string `json:"name"`
	// key of the token in the Secret; "token" by default.
	Key string `json:"key,omitempty"`
	// username sent with the token over HTTP basic authentication;
	// x-access-token by default, which GitHub wants and GitLab and Gitea
	// accept (Bitbucket wants x-token-auth).
	Username string `json:"username,omitempty"`
}

// Defaults of the config.
const (
	DefaultBaseImage = "nginx:1-alpine"
	DefaultRoot      = "/usr/share/nginx/html"
	DefaultPort      = 80
	DefaultOutputDir = "dist"
	DefaultTokenKey  = "token"
	DefaultPath      = "."
)

// Bounds of the config.
const (
	maxImageLength   = 1024
	maxPathLength    = 1024
	maxCommandItems  = 256
	maxCommandLength = 64 << 10
)

// packagingVersion is part of every config hash: changing how sites are
// packaged (the Dockerfile below) changes every revision with it.
const packagingVersion = 1

// settings is a config with defaults applied and checked.
type settings struct {
	Config
	// hash identifies what goes into the image besides the commit (hex).
	hash string
}

// Validate checks spec.source.config and returns every problem at once,
// each under path. It reaches neither Docker nor the network.
func (*Source) Validate(path *field.Path, config []byte) field.ErrorList {
	_, errs := parseConfig(path, config)
	return errs
}

// parseConfig decodes config strictly, applies defaults and checks every
// field. The settings are usable only when the list is empty.
func parseConfig(p *field.Path, config []byte) (*settings, field.ErrorList) {
	s := &settings{}
	errs := plugins.DecodeStrict(p, config, &s.Config)
	if len(errs) > 0 && !decodes(config) {
		return s, errs
	}
	s.applyDefaults()
	errs = append(errs, s.validate(p)...)
	s.hash = configHash(&s.Config)
	return s, errs
}

// decodes reports whether config decodes, unknown and duplicate keys
// aside.
func decodes(config []byte) bool {
	var c Config
	return sigsjson.UnmarshalCaseSensitivePreserveInts(config, &c) == nil
}

func (s *settings) applyDefaults() {
	if s.Git.Path == "" {
		s.Git.Path = DefaultPath
	}
	if s.BaseImage == "" {
		s.BaseImage = DefaultBaseImage
	}
	if s.Root == "" {
		s.Root = DefaultRoot
	}
	if s.Port == 0 {
		s.Port = DefaultPort
	}
	if s.Build != nil && s.Build.OutputDir == "" {
		s.Build.OutputDir = DefaultOutputDir
	}
	if s.SecretRef != nil && s.SecretRef.Key == "" {
		s.SecretRef.Key = DefaultTokenKey
	}
}

func (s *settings) validate(p *field.Path) field.ErrorList {
	var errs field.ErrorList
	gp := p.Child("git")
	if s.Git.URL == "" {
		errs = append(errs, field.Required(gp.Child("url"), "the repository to serve, such as https://github.com/acme/site.git"))
	} else if err := git.ValidateURL(s.Git.URL); err != nil {
		errs = append(errs, field.Invalid(gp.Child("url"), git.DisplayURL(s.Git.URL), err.Error()))
	}
	if err := git.ValidateRef(s.Git.Ref); err != nil {
		errs = append(errs, field.Invalid(gp.Child("ref"), s.Git.Ref, err.Error()))
	}
	errs = append(errs, validateRelPath(gp.Child("path"), s.Git.Path)...)

	if b := s.Build; b != nil {
		bp := p.Child("build")
		errs = append(errs, validateImage(bp.Child("image"), b.Image, true)...)
		errs = append(errs, validateCommand(bp.Child("command"), b.Command)...)
		errs = append(errs, validateRelPath(bp.Child("outputDir"), b.OutputDir)...)
	}
	errs = append(errs, validateImage(p.Child("baseImage"), s.BaseImage, false)...)
	errs = append(errs, validateRoot(p.Child("root"), s.Root)...)
	if s.Port < 1 || s.Port > 65535 {
		errs = append(errs, field.Invalid(p.Child("port"), s.Port, "must be from 1 to 65535"))
	}
	if s.SecretRef != nil {
		errs = append(errs, s.validateSecretRef(p.Child("secretRef"))...)
	}
	return errs
}

func (s *settings) validateSecretRef(p *field.Path) field.ErrorList {
	var errs field.ErrorList
	r := s.SecretRef
	if r.Name == "" {
		errs = append(errs, field.Required(p.Child("name"), "the Secret holding the token"))
	}
	for _, msg := range validation.IsDNS1123Subdomain(r.Name) {
		if r.Name != "" {
			errs = append(errs, field.Invalid(p.Child("name"), r.Name, msg))
		}
	}
	for _, msg := range validation.IsConfigMapKey(r.Key) {
		errs = append(errs, field.Invalid(p.Child("key"), r.Key, msg))
	}
	if strings.ContainsAny(r.Username, ":\x00\r\n") {
		errs = append(errs, field.Invalid(p.Child("username"), r.Username, "must not contain ':' or control characters"))
	}
	if s.Git.URL != "" {
		if u, err := url.Parse(s.Git.URL); err != nil || u.Scheme != "https" {
			errs = append(errs, field.Invalid(p, r.Name,
				"a token is only sent over https, and git.url uses "+schemeOf(s.Git.URL)))
		}
	}
	return errs
}

// schemeOf names the transport of a repository URL, for messages.
func schemeOf(rawURL string) string {
	if i := strings.Index(rawURL, "://"); i > 0 {
		return rawURL[:i]
	}
	return "ssh"
}

// validateRelPath checks a folder relative to the checkout (git.path) or
// to the site's folder (build.outputDir): no absolute path, no "..", and
// nothing the Dockerfile would read as a variable or pattern.
func validateRelPath(p *field.Path, v string) field.ErrorList {
	switch {
	case len(v) > maxPathLength:
		return field.ErrorList{field.TooLong(p, "", maxPathLength)}
	case strings.HasPrefix(v, "/") || strings.HasPrefix(v, `\`):
		return field.ErrorList{field.Invalid(p, v, "must be relative to the repository's root, not absolute")}
	case hasDotDot(v):
		return field.ErrorList{field.Invalid(p, v, "must not contain '..': paths stay inside the checkout")}
	case strings.IndexFunc(v, isControl) >= 0:
		return field.ErrorList{field.Invalid(p, v, "must not contain control characters")}
	case strings.ContainsAny(v, `$*?[]\"`):
		return field.ErrorList{field.Invalid(p, v, `must not contain $ * ? [ ] \ or "`)}
	}
	return nil
}

// validateRoot checks the absolute directory the site is copied to.
func validateRoot(p *field.Path, v string) field.ErrorList {
	switch {
	case len(v) > maxPathLength:
		return field.ErrorList{field.TooLong(p, "", maxPathLength)}
	case !strings.HasPrefix(v, "/"):
		return field.ErrorList{field.Invalid(p, v, "must be an absolute path")}
	case path.Clean(v) == "/":
		return field.ErrorList{field.Invalid(p, v, "must not be the root directory")}
	case hasDotDot(v):
		return field.ErrorList{field.Invalid(p, v, "must not contain '..'")}
	case strings.IndexFunc(v, isControl) >= 0:
		return field.ErrorList{field.Invalid(p, v, "must not contain control characters")}
	case strings.ContainsAny(v, `$*?[]\"`):
		return field.ErrorList{field.Invalid(p, v, `must not contain $ * ? [ ] \ or "`)}
	}
	return nil
}

func validateImage(p *field.Path, v string, required bool) field.ErrorList {
	switch {
	case v == "" && required:
		return field.ErrorList{field.Required(p, "the image reference, such as node:22-alpine")}
	case v == "":
		return nil
	case len(v) > maxImageLength:
		return field.ErrorList{field.TooLong(p, "", maxImageLength)}
	}
	if _, err := reference.ParseNormalizedNamed(v); err != nil {
		return field.ErrorList{field.Invalid(p, v, "must be a reference repository[:tag][@digest]: "+err.Error())}
	}
	return nil
}

func validateCommand(p *field.Path, cmd []string) field.ErrorList {
	var errs field.ErrorList
	total := 0
	for _, a := range cmd {
		total += len(a)
	}
	switch {
	case len(cmd) == 0:
		return field.ErrorList{field.Required(p, `the build command in exec form, such as ["npm", "run", "build"]`)}
	case len(cmd) > maxCommandItems:
		return field.ErrorList{field.TooMany(p, len(cmd), maxCommandItems)}
	case total > maxCommandLength:
		return field.ErrorList{field.TooLong(p, "", maxCommandLength)}
	case cmd[0] == "":
		errs = append(errs, field.Invalid(p.Index(0), "", "the executable must not be empty"))
	}
	for i, a := range cmd {
		if strings.IndexByte(a, 0) >= 0 {
			errs = append(errs, field.Invalid(p.Index(i), a, "must not contain a NUL byte"))
		}
	}
	return errs
}

func hasDotDot(v string) bool {
	for c := range strings.SplitSeq(strings.ReplaceAll(v, `\`, "/"), "/") {
		if c == ".." {
			return true
		}
	}
	return false
}

func isControl(r rune) bool { return r < ' ' || r == 0x7f }

// configHash identifies what goes into a site's image besides the commit:
// the folder, the build step, the base image and where the site goes in
// it, and how TinyForge packages sites. The repository URL, ref and token
// only say where the commit comes from, so they are left out; the
// workload's env, routes and health check are the containers' business.
func configHash(c *Config) string {
	b, err := json.Marshal(struct {
		Version   int    `json:"version"`
		Path      string `json:"path"`
		Build     *Build `json:"build,omitempty"`
		BaseImage string `json:"baseImage"`
		Root      string `json:"root"`
		Port      int32  `json:"port"`
	}{packagingVersion, path.Clean(c.Git.Path), c.Build, c.BaseImage, path.Clean(c.Root), c.Port})
	if err != nil {
		// Plain strings and numbers always marshal.
		return "0000000000000000"
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// Revision format: <commit[:12]>-<config hash[:8]>.
const (
	revisionCommitLength = 12
	revisionHashLength   = 8
)

// revisionOf is the revision of commit built with the config of hash.
func revisionOf(commit, hash string) string {
	return shorten(commit, revisionCommitLength) + "-" + shorten(hash, revisionHashLength)
}

// parseRevision splits a revision made by revisionOf.
func parseRevision(rev string) (commitPrefix, hash string, ok bool) {
	c, h, found := strings.Cut(rev, "-")
	if !found || len(c) != revisionCommitLength || len(h) != revisionHashLength || !plugins.IsHex(c) || !plugins.IsHex(h) {
		return "", "", false
	}
	return c, h, true
}

func shorten(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// describe is one line about where the site comes from, for logs.
func (s *settings) describe() string {
	d := fmt.Sprintf("%s folder %s", git.DisplayURL(s.Git.URL), s.Git.Path)
	if s.Build != nil {
		d += fmt.Sprintf(", built with %s", s.Build.Image)
	}
	return d
}
