package webhook

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/distribution/reference"

	"github.com/tinyforge/tinyforge/plugins"
)

const genericWhat = "tinyforge event"

// GenericEvent is TinyForge's own webhook form, for scripts and CI jobs; the
// package doc shows it in JSON.
type GenericEvent struct {
	// Type is image-push, git-push, git-tag or ping.
	Type string `json:"type,omitempty"`
	// ID identifies the delivery; a redelivery with the same ID creates
	// nothing. Optional.
	ID string `json:"id,omitempty"`
	// Image is required for image-push, and refused otherwise.
	Image *GenericImage `json:"image,omitempty"`
	// Git is required for git-push and git-tag, and refused otherwise.
	Git *GenericGit `json:"git,omitempty"`
}

// GenericImage is the image of a generic image-push event.
type GenericImage struct {
	// Repository with its registry host; without one it is Docker Hub's.
	Repository string `json:"repository"`
	// Tag pushed; a tag or a digest is required.
	Tag string `json:"tag,omitempty"`
	// Digest of the pushed manifest (algorithm:hex).
	Digest string `json:"digest,omitempty"`
}

// GenericGit is the ref of a generic git-push or git-tag event.
type GenericGit struct {
	// URL of the repository, as git clone takes it.
	URL string `json:"url"`
	// Ref pushed: refs/heads/main, or main (a branch for git-push, a tag
	// for git-tag).
	Ref string `json:"ref"`
	// Commit the ref points to now (hex); optional.
	Commit string `json:"commit,omitempty"`
	// Before is the commit the ref pointed to before (hex); optional.
	Before string `json:"before,omitempty"`
	// Author of the head commit, as "Name <email>".
	Author string `json:"author,omitempty"`
	// Message of the head commit.
	Message string `json:"message,omitempty"`
	// ChangedPaths the push changed; leave it out when unknown.
	ChangedPaths []string `json:"changedPaths,omitempty"`
}

func parseGeneric(h http.Header, body []byte) (Result, error) {
	var e GenericEvent
	if len(bytes.TrimSpace(body)) == 0 {
		return Result{}, malformed(genericWhat, "the body is empty")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		return Result{}, malformed(genericWhat, "%s", describeJSONError(err))
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return Result{}, malformed(genericWhat, "data follows the JSON object")
	}

	typ := e.Type
	if hdr := strings.TrimSpace(h.Get(headerTinyForgeEvent)); hdr != "" {
		if typ != "" && typ != hdr {
			return Result{}, malformed(genericWhat, "type %q disagrees with the %s header %q", truncate(typ, 64), headerTinyForgeEvent, truncate(hdr, 64))
		}
		typ = hdr
	}
	id := strings.TrimSpace(h.Get(headerTinyForgeDelivery))
	if id == "" {
		id = e.ID
	}
	if id == "" {
		id = bodyHash(body)
	}
	ev := plugins.InboundEvent{Type: plugins.EventType(typ), DeliveryID: id}

	switch ev.Type {
	case plugins.EventTypePing:
		if e.Image != nil || e.Git != nil {
			return Result{}, malformed(genericWhat, "a ping carries neither image nor git")
		}
	case plugins.EventTypeImagePush:
		img, err := genericImage(e)
		if err != nil {
			return Result{}, err
		}
		ev.Image = img
	case plugins.EventTypeGitPush, plugins.EventTypeGitTag:
		g, err := genericGit(ev.Type, e)
		if err != nil {
			return Result{}, err
		}
		ev.Git = g
	case "":
		return Result{}, malformed(genericWhat, "type is empty (and no %s header is set); want image-push, git-push, git-tag or ping", headerTinyForgeEvent)
	default:
		return Result{}, fmt.Errorf("%w: %s type %q cannot come from a webhook; want image-push, git-push, git-tag or ping",
			ErrUnsupported, genericWhat, truncate(typ, 64))
	}
	return Result{Events: []plugins.InboundEvent{ev}}, nil
}

func genericImage(e GenericEvent) (*plugins.ImageRef, error) {
	switch {
	case e.Git != nil:
		return nil, malformed(genericWhat, "an image-push carries image, not git")
	case e.Image == nil:
		return nil, malformed(genericWhat, "image is required for an image-push")
	case e.Image.Repository == "":
		return nil, malformed(genericWhat, "image.repository is empty")
	case e.Image.Tag == "" && e.Image.Digest == "":
		return nil, malformed(genericWhat, "image.tag and image.digest are empty; give at least one")
	}
	named, err := reference.ParseNormalizedNamed(e.Image.Repository)
	if err != nil {
		return nil, malformed(genericWhat, "image.repository %q is not an image repository: %v", truncate(e.Image.Repository, 200), err)
	}
	img := &plugins.ImageRef{Repository: named.Name(), Tag: e.Image.Tag, Digest: e.Image.Digest}
	if named.String() != named.Name() {
		// A tag or digest in the repository: checkImage names it.
		img.Repository = e.Image.Repository
	}
	if err := checkImage(genericWhat, imageFields{"image.repository", "image.tag", "image.digest"}, img); err != nil {
		return nil, err
	}
	return img, nil
}

func genericGit(typ plugins.EventType, e GenericEvent) (*plugins.GitEvent, error) {
	switch {
	case e.Image != nil:
		return nil, malformed(genericWhat, "a %s carries git, not image", typ)
	case e.Git == nil:
		return nil, malformed(genericWhat, "git is required for a %s", typ)
	case e.Git.URL == "":
		return nil, malformed(genericWhat, "git.url is empty")
	case e.Git.Ref == "":
		return nil, malformed(genericWhat, "git.ref is empty")
	}
	ref := e.Git.Ref
	if !strings.HasPrefix(ref, "refs/") {
		if typ == plugins.EventTypeGitTag {
			ref = "refs/tags/" + ref
		} else {
			ref = "refs/heads/" + ref
		}
	}
	if kind, ok := refKind(ref); !ok || kind != typ {
		want := "refs/heads/…"
		if typ == plugins.EventTypeGitTag {
			want = "refs/tags/…"
		}
		return nil, malformed(genericWhat, "git.ref %q is not %s, as a %s needs", truncate(e.Git.Ref, 200), want, typ)
	}
	g := &plugins.GitEvent{URL: e.Git.URL, Ref: ref, Author: e.Git.Author, Message: e.Git.Message}
	var err error
	if g.Commit, err = commitID(genericWhat, "git.commit", e.Git.Commit); err != nil {
		return nil, err
	}
	if g.Before, err = commitID(genericWhat, "git.before", e.Git.Before); err != nil {
		return nil, err
	}
	if e.Git.ChangedPaths != nil {
		g.ChangedPaths = changedPaths([]gitCommit{{Modified: e.Git.ChangedPaths}}, true)
	}
	return g, nil
}
