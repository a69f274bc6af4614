package webhook

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/distribution/reference"

	"github.com/tinyforge/tinyforge/plugins"
)

// Manifest media types whose push with a tag is an image push; blobs
// (layers, configs) are pushed before them and are not.
var manifestMediaTypes = map[string]bool{
	"application/vnd.docker.distribution.manifest.v2+json":      true,
	"application/vnd.docker.distribution.manifest.list.v2+json": true,
	"application/vnd.oci.image.manifest.v1+json":                true,
	"application/vnd.oci.image.index.v1+json":                   true,
}

// Harbor's event types for an artifact push, in its default and CloudEvents
// payload formats.
const (
	harborPushArtifact     = "PUSH_ARTIFACT"
	harborCloudEventPushed = "harbor.artifact.pushed"
)

const (
	// dockerHubDomain is the registry host of Docker Hub repositories.
	dockerHubDomain = "docker.io"
	// distributionActionPush is the action of a pushed blob or manifest.
	distributionActionPush = "push"
	// maxIgnoredReasonEntries bounds the kinds an Ignored reason lists.
	maxIgnoredReasonEntries = 4

	distributionWhat = "distribution notification"
	harborWhat       = "harbor event"
	dockerHubWhat    = "docker hub push"
)

// dockerHubPush is Docker Hub's repository push callback.
type dockerHubPush struct {
	PushData *struct {
		Tag string `json:"tag"`
	} `json:"push_data"`
	Repository *struct {
		RepoName  string `json:"repo_name"`
		Namespace string `json:"namespace"`
		Name      string `json:"name"`
	} `json:"repository"`
}

// distributionEnvelope is a distribution registry's notification: several
// events, mostly blob pushes and pulls.
type distributionEnvelope struct {
	Events *[]distributionEvent `json:"events"`
}

type distributionEvent struct {
	ID     string `json:"id"`
	Action string `json:"action"`
	Target struct {
		MediaType  string `json:"mediaType"`
		Digest     string `json:"digest"`
		Repository string `json:"repository"`
		URL        string `json:"url"`
		Tag        string `json:"tag"`
	} `json:"target"`
	Request struct {
		Host string `json:"host"`
	} `json:"request"`
}

// harborPayload is a Harbor webhook in its default format (type, event_data)
// or its CloudEvents format (specversion, id, type, data).
type harborPayload struct {
	Type        string      `json:"type"`
	EventData   *harborData `json:"event_data"`
	SpecVersion string      `json:"specversion"`
	ID          string      `json:"id"`
	Data        *harborData `json:"data"`
}

type harborData struct {
	Resources []struct {
		Digest      string `json:"digest"`
		Tag         string `json:"tag"`
		ResourceURL string `json:"resource_url"`
	} `json:"resources"`
	Repository struct {
		RepoFullName string `json:"repo_full_name"`
	} `json:"repository"`
}

func parseDockerHub(body []byte) (Result, error) {
	var p dockerHubPush
	if err := decodeJSON(dockerHubWhat, body, &p); err != nil {
		return Result{}, err
	}
	if p.Repository == nil {
		return Result{}, malformed(dockerHubWhat, "repository is missing")
	}
	name := p.Repository.RepoName
	if name == "" && p.Repository.Namespace != "" && p.Repository.Name != "" {
		name = p.Repository.Namespace + "/" + p.Repository.Name
	}
	if name == "" {
		return Result{}, malformed(dockerHubWhat, "repository.repo_name is empty")
	}
	if p.PushData == nil {
		return Result{}, malformed(dockerHubWhat, "push_data is missing")
	}
	if p.PushData.Tag == "" {
		return Result{}, malformed(dockerHubWhat, "push_data.tag is empty")
	}
	// Normalized as docker pull reads the name: nginx is
	// docker.io/library/nginx.
	named, err := reference.ParseNormalizedNamed(name)
	if err != nil || reference.Domain(named) != dockerHubDomain {
		return Result{}, malformed(dockerHubWhat, "repository.repo_name %q is not a Docker Hub repository", truncate(name, 200))
	}
	img := &plugins.ImageRef{Repository: named.Name(), Tag: p.PushData.Tag}
	if err := checkImage(dockerHubWhat, imageFields{"repository.repo_name", "push_data.tag", ""}, img); err != nil {
		return Result{}, err
	}
	return Result{Events: []plugins.InboundEvent{{Type: plugins.EventTypeImagePush, DeliveryID: bodyHash(body), Image: img}}}, nil
}

func parseDistribution(body []byte) (Result, error) {
	var env distributionEnvelope
	if err := decodeJSON(distributionWhat, body, &env); err != nil {
		return Result{}, err
	}
	if env.Events == nil {
		return Result{}, malformed(distributionWhat, "events is missing (a registry notification is an envelope of events)")
	}
	events := *env.Events
	if len(events) == 0 {
		return ignored("the notification holds no events"), nil
	}
	var (
		out     []plugins.InboundEvent
		skipped skipCounter
	)
	for i, e := range events {
		switch {
		case e.Action != distributionActionPush:
			skipped.add(e.Action)
			continue
		case !manifestMediaTypes[mediaType(e.Target.MediaType)]:
			skipped.add("blob push")
			continue
		case e.Target.Tag == "":
			skipped.add("manifest push without a tag")
			continue
		}
		field := fmt.Sprintf("events[%d]", i)
		host := e.Request.Host
		if host == "" {
			if u, err := url.Parse(e.Target.URL); err == nil {
				host = u.Host
			}
		}
		if host == "" {
			return Result{}, malformed(distributionWhat, "%s.request.host is empty and %s.target.url names no host", field, field)
		}
		if e.Target.Repository == "" {
			return Result{}, malformed(distributionWhat, "%s.target.repository is empty", field)
		}
		img := &plugins.ImageRef{Repository: host + "/" + e.Target.Repository, Tag: e.Target.Tag, Digest: e.Target.Digest}
		fields := imageFields{field + ".target.repository", field + ".target.tag", field + ".target.digest"}
		if err := checkImage(distributionWhat, fields, img); err != nil {
			return Result{}, err
		}
		id := e.ID
		if id == "" {
			id = bodyHash(body) + "-" + fmt.Sprint(i)
		}
		out = append(out, plugins.InboundEvent{Type: plugins.EventTypeImagePush, DeliveryID: id, Image: img})
	}
	if len(out) == 0 {
		return ignored("the notification holds no tagged manifest push (%s)", skipped), nil
	}
	return Result{Events: out}, nil
}

func parseHarbor(body []byte) (Result, error) {
	var p harborPayload
	if err := decodeJSON(harborWhat, body, &p); err != nil {
		return Result{}, err
	}
	data, dataField, push, id := p.EventData, "event_data", harborPushArtifact, bodyHash(body)
	if p.SpecVersion != "" {
		data, dataField, push = p.Data, "data", harborCloudEventPushed
		if p.ID != "" {
			id = p.ID
		}
	}
	switch {
	case p.Type == "":
		return Result{}, malformed(harborWhat, "type is empty")
	case p.Type != push:
		return ignored("Harbor event %s is not an artifact push", truncate(p.Type, 64)), nil
	case data == nil:
		return Result{}, malformed(harborWhat, "%s is missing", dataField)
	case len(data.Resources) == 0:
		return Result{}, malformed(harborWhat, "%s.resources is empty", dataField)
	}
	var out []plugins.InboundEvent
	for i, r := range data.Resources {
		field := fmt.Sprintf("%s.resources[%d]", dataField, i)
		// A push by digest names the digest as its tag.
		if r.Tag == "" || r.Tag == r.Digest || plugins.IsDigest(r.Tag) {
			continue
		}
		if r.ResourceURL == "" {
			return Result{}, malformed(harborWhat, "%s.resource_url is empty", field)
		}
		repo := harborRepository(r.ResourceURL)
		if full := data.Repository.RepoFullName; full != "" && !strings.HasSuffix(repo, "/"+full) {
			return Result{}, malformed(harborWhat, "%s.resource_url %q is not in repository %s.repository.repo_full_name %q",
				field, truncate(r.ResourceURL, 200), dataField, truncate(full, 200))
		}
		img := &plugins.ImageRef{Repository: repo, Tag: r.Tag, Digest: r.Digest}
		if err := checkImage(harborWhat, imageFields{field + ".resource_url", field + ".tag", field + ".digest"}, img); err != nil {
			return Result{}, err
		}
		out = append(out, plugins.InboundEvent{
			Type: plugins.EventTypeImagePush, DeliveryID: indexedID(id, i, len(data.Resources)), Image: img,
		})
	}
	if len(out) == 0 {
		return ignored("Harbor artifact push without a tag (pushed by digest)"), nil
	}
	return Result{Events: out}, nil
}

// harborRepository returns the repository of a Harbor resource URL such as
// harbor.example/team/web:1.4 or harbor.example/team/web@sha256:….
func harborRepository(resourceURL string) string {
	repo := resourceURL
	if _, rest, ok := strings.Cut(repo, "://"); ok {
		repo = rest
	}
	repo, _, _ = strings.Cut(repo, "@")
	if i := strings.LastIndexByte(repo, ':'); i > strings.LastIndexByte(repo, '/') {
		repo = repo[:i]
	}
	return repo
}

// skipCounter counts the events of an envelope that were not image pushes,
// by kind, for the Ignored reason.
type skipCounter struct {
	kinds  []string
	counts map[string]int
}

func (s *skipCounter) add(kind string) {
	if kind == "" {
		kind = "event without an action"
	}
	kind = truncate(kind, 32)
	if s.counts == nil {
		s.counts = make(map[string]int)
	}
	if s.counts[kind] == 0 {
		s.kinds = append(s.kinds, kind)
	}
	s.counts[kind]++
}

// String lists the counts in the order the kinds first appeared, such as
// "blob push: 3, pull: 1".
func (s skipCounter) String() string {
	parts := make([]string, 0, len(s.kinds))
	for i, k := range s.kinds {
		if i == maxIgnoredReasonEntries {
			parts = append(parts, "…")
			break
		}
		parts = append(parts, fmt.Sprintf("%s: %d", k, s.counts[k]))
	}
	return strings.Join(parts, ", ")
}
