package plugins

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
)

// MaxRevisionLength bounds a revision string (an image digest, a git commit
// or a config hash, possibly prefixed), so it fits in Docker labels, object
// names and printer columns. It matches the API's limit.
const MaxRevisionLength = 128

// DeploymentIntent is a decision to deploy one revision of a workload. A
// Trigger's Match produces it; the controller stores it in a Rollout and
// hands it to Source.Deploy.
type DeploymentIntent struct {
	// Revision identifies what runs: an image digest, a git commit, or a hash
	// of the config. Deploying the current revision again is a no-op for
	// sources, so it must change exactly when what runs would change.
	//
	// Empty means "whatever the workload's current spec resolves to when
	// the deploy runs": the image source pulls its configured reference
	// again, the static source fetches its branch again. Cron and manual
	// triggers use it to redeploy the current spec; such an intent must
	// give a Reason.
	Revision string

	// Reason is one line for people: why this deploy happens, such as
	// "image ghcr.io/acme/web:1.4.2 pushed".
	Reason string

	// Image, when set, is the image to run; registry triggers set it with
	// the digest resolved from the registry.
	Image *ImageRef

	// Git, when set, is the commit to build or serve.
	Git *GitRef

	// EventName is the Event that caused this deploy; empty for config
	// changes and rollbacks.
	EventName string

	// Rollout is the Rollout carrying this intent. Triggers leave it empty;
	// the Workload controller sets it before Deploy, and sources put it in
	// the rollout label of what they create.
	Rollout string
}

// ImageRef names a container image.
type ImageRef struct {
	// Repository is the image name with its registry host, such as
	// registry.example:5000/team/web.
	Repository string
	// Tag, such as 1.4.2; may be empty when Digest is set.
	Tag string
	// Digest is the manifest digest, such as sha256:…; empty when unknown.
	Digest string
}

// String returns the reference Docker understands: repository[:tag][@digest].
func (r ImageRef) String() string {
	var b strings.Builder
	b.WriteString(r.Repository)
	if r.Tag != "" {
		b.WriteString(":" + r.Tag)
	}
	if r.Digest != "" {
		b.WriteString("@" + r.Digest)
	}
	return b.String()
}

// GitRef names one commit of a git repository.
type GitRef struct {
	// URL of the repository, as git clone takes it.
	URL string
	// Ref is the full ref the commit was reached from, such as
	// refs/heads/main or refs/tags/v1.2.0; empty when unknown.
	Ref string
	// Commit is the full hexadecimal commit ID.
	Commit string
}

// Validate checks that the intent can be stored in a Rollout and labelled on
// Docker objects. It does not check that the revision exists.
func (i DeploymentIntent) Validate() error {
	var errs []error
	switch {
	case i.Revision == "" && i.Reason == "":
		errs = append(errs, errors.New("revision is empty and no reason is given (an intent without a revision redeploys the current spec, and must say why)"))
	case len(i.Revision) > MaxRevisionLength:
		errs = append(errs, fmt.Errorf("revision is %d bytes long, more than %d", len(i.Revision), MaxRevisionLength))
	case strings.IndexFunc(i.Revision, notPrintableWord) >= 0:
		errs = append(errs, fmt.Errorf("revision %q contains spaces or control characters", i.Revision))
	}
	if i.Image != nil {
		if i.Image.Repository == "" {
			errs = append(errs, errors.New("image repository is empty"))
		}
		if i.Image.Digest != "" && !IsDigest(i.Image.Digest) {
			errs = append(errs, fmt.Errorf("image digest %q is not algorithm:hex", i.Image.Digest))
		}
	}
	if i.Git != nil {
		if i.Git.URL == "" {
			errs = append(errs, errors.New("git URL is empty"))
		}
		if !IsHex(i.Git.Commit) {
			errs = append(errs, fmt.Errorf("git commit %q is not a hexadecimal commit ID", i.Git.Commit))
		}
	}
	return errors.Join(errs...)
}

func notPrintableWord(r rune) bool {
	return unicode.IsSpace(r) || !unicode.IsPrint(r)
}

// IsDigest reports whether s looks like an OCI digest: algorithm:hex.
func IsDigest(s string) bool {
	alg, hex, ok := strings.Cut(s, ":")
	if !ok || alg == "" || len(hex) < 32 {
		return false
	}
	for _, r := range alg {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '+' || r == '.' || r == '_' || r == '-') {
			return false
		}
	}
	return IsHex(hex)
}

// IsHex reports whether s is a non-empty lowercase hexadecimal string.
func IsHex(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'f') {
			return false
		}
	}
	return true
}
