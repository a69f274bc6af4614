package compose

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/tinyforge/tinyforge/internal/git"
	"github.com/tinyforge/tinyforge/plugins"
)

// virtualRoot is where an inline compose file is said to live, in the
// com.docker.compose.project.working_dir and .config_files labels. Nothing
// is read from or written to it.
const virtualRoot = "/var/lib/tinyforge/compose"

// composeFileName is the name an inline compose file is given.
const composeFileName = "compose.yaml"

// ErrInvalidCompose is wrapped by Deploy and Reconcile errors about the
// compose file itself: a person must change it (or spec.env) before a
// retry can succeed.
var ErrInvalidCompose = errors.New("invalid compose file")

// document is a compose file to load, and where it is said to live.
type document struct {
	content []byte
	// workingDir is the project directory, absolute.
	workingDir string
	// file is the compose file's absolute path.
	file string
	// env are the variables of the config's env files, in file order.
	env map[string]string
	// folder is the compose file's real folder in a git checkout, where
	// services' env_file paths are confined; empty for an inline file.
	folder string
	// commit is the git commit the file was read from.
	commit string
}

// inlineDocument is the inline compose file of w.
func inlineDocument(w plugins.Workload, set *settings) document {
	dir := virtualRoot + "/" + w.Namespace + "/" + w.Name
	return document{content: []byte(set.Compose), workingDir: dir, file: dir + "/" + composeFileName}
}

// problem is one thing wrong with a compose file: where (a dotted path in
// the file such as services.web.build, empty for the whole file) and why.
type problem struct {
	path string
	msg  string
}

func (p problem) String() string {
	if p.path == "" {
		return p.msg
	}
	return p.path + ": " + p.msg
}

// problemsError joins problems into one error wrapping ErrInvalidCompose.
func problemsError(ps []problem) error {
	msgs := make([]string, 0, len(ps))
	for _, p := range ps {
		msgs = append(msgs, p.String())
	}
	return fmt.Errorf("%w: %s", ErrInvalidCompose, strings.Join(msgs, "; "))
}

// validateCompose is Validate's check of an inline compose file. The
// screen sees every key; a full load with no variable set then checks the
// values, and counts only when the file has no variable at all, since a
// value that comes from spec.env is unknown here.
func validateCompose(p *field.Path, set *settings) field.ErrorList {
	doc := document{content: []byte(set.Compose), workingDir: virtualRoot + "/validate", file: virtualRoot + "/validate/" + composeFileName}
	ctx := context.Background()
	name, explicit := set.Project, set.Project != ""
	if !explicit {
		name = "validate"
	}
	problems := screen(ctx, doc, set, name, explicit)
	if len(problems) == 0 && !strings.Contains(set.Compose, "$") {
		proj, err := loadProject(ctx, doc, set, name, explicit, nil)
		switch {
		case err != nil:
			problems = append(problems, problem{msg: strings.TrimPrefix(err.Error(), ErrInvalidCompose.Error()+": ")})
		default:
			problems = append(problems, checkProject(proj, set)...)
		}
	}
	var errs field.ErrorList
	for _, pr := range problems {
		errs = append(errs, field.Invalid(p, field.OmitValueType{}, pr.String()))
	}
	return errs
}

// screen loads the compose model with variables uninterpolated, includes
// and extends unresolved, and nothing read from disk, and returns every key
// or value TinyForge does not implement, of services that the profiles
// enable, or the load's error.
func screen(ctx context.Context, doc document, set *settings, name string, explicit bool) []problem {
	var found []loader.UnsupportedAttribute
	opts := func(o *loader.Options) {
		o.SkipInterpolation = true
		o.SkipInclude = true
		o.SkipExtends = true
		o.SkipNormalization = true
		o.ResolvePaths = false
		o.SetProjectName(name, explicit)
		o.UnsupportedAttributesCheck = &loader.UnsupportedAttributesCheck{
			Supported: supportedPaths,
			Patterns:  unsupportedValues(set.inline()),
			Report:    func(f []loader.UnsupportedAttribute) { found = f },
		}
	}
	model, err := safeLoad(func() (map[string]any, error) {
		return loader.LoadModelWithContext(ctx, doc.details(nil), opts)
	})
	if err != nil {
		return []problem{{msg: cleanLoadError(err)}}
	}
	inactive := inactiveServices(model, set.Profiles)
	var problems []problem
	for _, f := range found {
		parts := f.Path.Parts()
		if len(parts) > 1 && parts[0] == "services" && inactive[parts[1]] {
			continue
		}
		problems = append(problems, unsupported(f))
	}
	return problems
}

// inactiveServices returns the services of the raw model that none of the
// enabled profiles selects.
func inactiveServices(model map[string]any, enabled []string) map[string]bool {
	out := map[string]bool{}
	services, _ := model["services"].(map[string]any)
	for name, s := range services {
		svc, _ := s.(map[string]any)
		raw, _ := svc["profiles"].([]any)
		var profiles []string
		for _, p := range raw {
			if str, ok := p.(string); ok {
				profiles = append(profiles, str)
			}
		}
		if !(types.ServiceConfig{Profiles: profiles}).HasProfile(enabled) {
			out[name] = true
		}
	}
	return out
}

// loadProject loads the compose file with env for interpolation (nothing
// from the process's environment), the config's profiles, and the value
// screen (which, unlike screen's, sees interpolated values). Disabled
// services are left out of Services.
func loadProject(ctx context.Context, doc document, set *settings, name string, explicit bool, env map[string]string) (*types.Project, error) {
	var found []loader.UnsupportedAttribute
	opts := []func(*loader.Options){
		loader.WithProfiles(set.Profiles),
		func(o *loader.Options) {
			o.SkipInclude = true
			o.ResolvePaths = false
			o.SkipResolveLabels = true
			// env_file paths are confined to the checkout first (below).
			o.SkipResolveEnvironment = true
			o.SetProjectName(name, explicit)
			o.UnsupportedAttributesCheck = &loader.UnsupportedAttributesCheck{
				Patterns: unsupportedValues(set.inline()),
				Report:   func(f []loader.UnsupportedAttribute) { found = f },
			}
		},
	}
	proj, err := safeLoad(func() (*types.Project, error) {
		return loader.LoadWithContext(ctx, doc.details(env), opts...)
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %s", ErrInvalidCompose, cleanLoadError(err))
	}
	var problems []problem
	for _, f := range found {
		parts := f.Path.Parts()
		if len(parts) > 1 && parts[0] == "services" {
			if _, active := proj.Services[parts[1]]; !active {
				continue
			}
		}
		problems = append(problems, unsupported(f))
	}
	if len(problems) > 0 {
		return nil, problemsError(problems)
	}
	for name, s := range proj.Services {
		for i, f := range s.EnvFiles {
			if doc.folder == "" {
				return nil, fmt.Errorf("%w: services.%s.env_file: an inline compose file has no files", ErrInvalidCompose, name)
			}
			p, err := git.SafeJoin(doc.folder, filepath.ToSlash(f.Path))
			if err != nil {
				return nil, fmt.Errorf("%w: services.%s.env_file %s: %w", ErrInvalidCompose, name, f.Path, err)
			}
			s.EnvFiles[i].Path = p
		}
		proj.Services[name] = s
	}
	// The files' paths (in a temporary checkout) are dropped once read, so
	// the services' hashes see only the variables.
	resolved, err := safeLoad(func() (*types.Project, error) { return proj.WithServicesEnvironmentResolved(true) })
	if err != nil {
		return nil, fmt.Errorf("%w: %s", ErrInvalidCompose, strings.ReplaceAll(err.Error(), doc.folder+"/", ""))
	}
	resolved.ComposeFiles = []string{doc.file}
	return resolved, nil
}

// details are the loader's input: the file's content and env, and nothing
// else (no OS environment).
func (d document) details(env map[string]string) types.ConfigDetails {
	environment := types.Mapping{}
	for k, v := range d.env {
		environment[k] = v
	}
	for k, v := range env {
		environment[k] = v
	}
	return types.ConfigDetails{
		WorkingDir:  d.workingDir,
		ConfigFiles: []types.ConfigFile{{Filename: d.file, Content: slices.Clone(d.content)}},
		Environment: environment,
	}
}

// safeLoad runs a loader call, turning a panic into an error: admission
// must survive any input.
func safeLoad[T any](f func() (T, error)) (out T, err error) {
	defer func() {
		if r := recover(); r != nil {
			var zero T
			out, err = zero, fmt.Errorf("the compose file cannot be loaded: %v", r)
		}
	}()
	return f()
}

// cleanLoadError drops the virtual file name the loader puts in its
// messages, which says nothing to the user.
func cleanLoadError(err error) string {
	msg := err.Error()
	for _, prefix := range []string{virtualRoot + "/validate/", virtualRoot + "/"} {
		if i := strings.Index(msg, prefix); i >= 0 {
			if j := strings.Index(msg[i:], composeFileName); j >= 0 {
				msg = msg[:i] + msg[i+j:]
			}
		}
	}
	return msg
}

// loadWorkload loads the compose stack of w for a deploy or a repair: the
// screen first, then the project with spec.env (over the env files), then
// the checks of its values. Every error wraps ErrInvalidCompose, and the
// values of spec.env are redacted from it.
func loadWorkload(ctx context.Context, w plugins.Workload, set *settings, doc document) (*types.Project, error) {
	name, explicit := projectName(w, set)
	if problems := screen(ctx, doc, set, name, explicit); len(problems) > 0 {
		return nil, problemsError(problems)
	}
	env := map[string]string{}
	for _, e := range w.Env {
		env[e.Name] = e.Value
	}
	proj, err := loadProject(ctx, doc, set, name, explicit, env)
	if err != nil {
		return nil, redact(err, w.Env)
	}
	if problems := checkProject(proj, set); len(problems) > 0 {
		return nil, redact(problemsError(problems), w.Env)
	}
	return proj, nil
}

// minRedacted is the shortest env value redacted from messages: shorter
// ones are ports, flags and words that messages need, not secrets.
const minRedacted = 6

// redact replaces the values of env in err's message by "***", so a secret
// from spec.env that a loader or Docker error quotes is not returned. The
// result still matches what err matched.
func redact(err error, env []plugins.EnvVar) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	out := msg
	for _, e := range env {
		if len(e.Value) >= minRedacted {
			out = strings.ReplaceAll(out, e.Value, "***")
		}
	}
	if out == msg {
		return err
	}
	return &redactedError{msg: out, err: err}
}

type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }
