package webhook

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/tinyforge/tinyforge/plugins"
)

// githubMaxCommits is the most commits GitHub lists in a push event; a push
// listing that many may have had more.
const githubMaxCommits = 2048

// pushPayload is a GitHub or Gitea push event (Gitea copies GitHub's form).
type pushPayload struct {
	Ref        string      `json:"ref"`
	Before     string      `json:"before"`
	After      string      `json:"after"`
	Deleted    bool        `json:"deleted"`
	Commits    []gitCommit `json:"commits"`
	HeadCommit *gitCommit  `json:"head_commit"`
	// TotalCommits is Gitea's count of pushed commits, of which it may list
	// fewer.
	TotalCommits *int `json:"total_commits"`
	Repository   struct {
		CloneURL string `json:"clone_url"`
	} `json:"repository"`
}

// refPayload is a GitHub or Gitea create or delete event.
type refPayload struct {
	Ref     string `json:"ref"`
	RefType string `json:"ref_type"`
	// SHA is the commit a created ref points to; Gitea sends it, GitHub
	// does not.
	SHA        string `json:"sha"`
	Repository struct {
		CloneURL string `json:"clone_url"`
	} `json:"repository"`
}

// gitlabPush is a GitLab push or tag push event.
type gitlabPush struct {
	ObjectKind        string      `json:"object_kind"`
	Ref               string      `json:"ref"`
	Before            string      `json:"before"`
	After             string      `json:"after"`
	CheckoutSHA       *string     `json:"checkout_sha"`
	Commits           []gitCommit `json:"commits"`
	TotalCommitsCount *int        `json:"total_commits_count"`
	Project           struct {
		GitHTTPURL string `json:"git_http_url"`
	} `json:"project"`
	Repository struct {
		GitHTTPURL string `json:"git_http_url"`
	} `json:"repository"`
}

func parseGitHub(h http.Header, body []byte) (Result, error) {
	event := strings.TrimSpace(h.Get(headerGitHubEvent))
	id := deliveryID(h, body, headerGitHubDelivery)
	switch event {
	case "push":
		return parsePush("github push event", id, body, githubMaxCommits)
	case "create":
		return parseCreate("github create event", id, body)
	case "delete":
		return parseDelete("github delete event", body)
	case "ping":
		if err := decodeJSON("github ping event", body, &struct{}{}); err != nil {
			return Result{}, err
		}
		return Result{Events: []plugins.InboundEvent{{Type: plugins.EventTypePing, DeliveryID: id}}}, nil
	case "":
		return Result{}, fmt.Errorf("%w: no %s header, which GitHub sends with every delivery", ErrMalformed, headerGitHubEvent)
	}
	return Result{}, unsupportedEvent(headerGitHubEvent, event, "push, create, delete and ping")
}

func parseGitea(h http.Header, body []byte) (Result, error) {
	header := headerGiteaEvent
	event := strings.TrimSpace(h.Get(header))
	if event == "" {
		header = headerForgejoEvent
		event = strings.TrimSpace(h.Get(header))
	}
	id := deliveryID(h, body, headerGiteaDelivery, headerForgejoDelivery)
	switch event {
	case "push":
		return parsePush("gitea push event", id, body, 0)
	case "create":
		return parseCreate("gitea create event", id, body)
	case "delete":
		return parseDelete("gitea delete event", body)
	case "":
		return Result{}, fmt.Errorf("%w: neither %s nor %s is set, one of which Gitea sends with every delivery",
			ErrMalformed, headerGiteaEvent, headerForgejoEvent)
	}
	return Result{}, unsupportedEvent(header, event, "push, create and delete")
}

func parseGitLab(h http.Header, body []byte) (Result, error) {
	event := strings.TrimSpace(h.Get(headerGitLabEvent))
	id := deliveryID(h, body, headerGitLabEventUUID, headerGitLabWebhookUUID)
	switch event {
	case "Push Hook", "Tag Push Hook", "System Hook":
	case "":
		return Result{}, fmt.Errorf("%w: no %s header, which GitLab sends with every delivery", ErrMalformed, headerGitLabEvent)
	default:
		return Result{}, unsupportedEvent(headerGitLabEvent, event, "Push Hook and Tag Push Hook")
	}
	what := "gitlab " + strings.ToLower(event)
	var p gitlabPush
	if err := decodeJSON(what, body, &p); err != nil {
		return Result{}, err
	}
	// A system hook carries every kind of event; only pushes matter.
	if event == "System Hook" && p.ObjectKind != "push" && p.ObjectKind != "tag_push" {
		return Result{}, fmt.Errorf("%w: %s with object_kind %q is not handled (TinyForge handles push and tag_push)",
			ErrUnsupported, event, truncate(p.ObjectKind, 64))
	}
	if p.Ref == "" {
		return Result{}, malformed(what, "ref is empty")
	}
	if isZeroCommit(p.After) {
		return ignored("%s %s was deleted", refNoun(p.Ref), truncate(p.Ref, 200)), nil
	}
	typ, ok := refKind(p.Ref)
	if !ok {
		return ignored("ref %q is neither a branch nor a tag", truncate(p.Ref, 200)), nil
	}
	url := p.Project.GitHTTPURL
	if url == "" {
		url = p.Repository.GitHTTPURL
	}
	if url == "" {
		return Result{}, malformed(what, "project.git_http_url and repository.git_http_url are empty")
	}
	// checkout_sha is the commit even when the ref is an annotated tag,
	// whose after is the tag object.
	commit, field := p.After, "after"
	if p.CheckoutSHA != nil && *p.CheckoutSHA != "" {
		commit, field = *p.CheckoutSHA, "checkout_sha"
	}
	if commit == "" {
		return Result{}, malformed(what, "checkout_sha and after are empty")
	}
	g := &plugins.GitEvent{URL: url, Ref: p.Ref}
	var err error
	if g.Commit, err = commitID(what, field, commit); err != nil {
		return Result{}, err
	}
	if g.Before, err = commitID(what, "before", p.Before); err != nil {
		return Result{}, err
	}
	if head := headCommit(p.Commits, g.Commit); head != nil {
		g.Author, g.Message = head.Author.String(), head.Message
	}
	complete := p.TotalCommitsCount == nil || *p.TotalCommitsCount <= len(p.Commits)
	g.ChangedPaths = changedPaths(p.Commits, complete)
	return Result{Events: []plugins.InboundEvent{{Type: typ, DeliveryID: id, Git: g}}}, nil
}

// parsePush normalizes a GitHub or Gitea push event. commitLimit, when
// positive, is the most commits the provider lists.
func parsePush(what, id string, body []byte, commitLimit int) (Result, error) {
	var p pushPayload
	if err := decodeJSON(what, body, &p); err != nil {
		return Result{}, err
	}
	if p.Ref == "" {
		return Result{}, malformed(what, "ref is empty")
	}
	if p.Deleted || isZeroCommit(p.After) {
		return ignored("%s %s was deleted", refNoun(p.Ref), truncate(p.Ref, 200)), nil
	}
	typ, ok := refKind(p.Ref)
	if !ok {
		return ignored("ref %q is neither a branch nor a tag", truncate(p.Ref, 200)), nil
	}
	if p.Repository.CloneURL == "" {
		return Result{}, malformed(what, "repository.clone_url is empty")
	}
	if p.After == "" {
		return Result{}, malformed(what, "after is empty")
	}
	// For an annotated tag, after is the tag object and head_commit the
	// commit it points to; for a branch they are the same.
	commit, field := p.After, "after"
	if typ == plugins.EventTypeGitTag && p.HeadCommit != nil && p.HeadCommit.ID != "" {
		commit, field = p.HeadCommit.ID, "head_commit.id"
	}
	g := &plugins.GitEvent{URL: p.Repository.CloneURL, Ref: p.Ref}
	var err error
	if g.Commit, err = commitID(what, field, commit); err != nil {
		return Result{}, err
	}
	if g.Before, err = commitID(what, "before", p.Before); err != nil {
		return Result{}, err
	}
	head := p.HeadCommit
	if head == nil {
		head = headCommit(p.Commits, g.Commit)
	}
	if head != nil {
		g.Author, g.Message = head.Author.String(), head.Message
	}
	complete := (p.TotalCommits == nil || *p.TotalCommits <= len(p.Commits)) &&
		(commitLimit <= 0 || len(p.Commits) < commitLimit)
	g.ChangedPaths = changedPaths(p.Commits, complete)
	return Result{Events: []plugins.InboundEvent{{Type: typ, DeliveryID: id, Git: g}}}, nil
}

// parseCreate normalizes a GitHub or Gitea create event: a created tag is a
// git-tag event (without a commit from GitHub, which does not send it); a
// created branch is ignored, as the push event sent with it carries the
// commits.
func parseCreate(what, id string, body []byte) (Result, error) {
	var p refPayload
	if err := decodeJSON(what, body, &p); err != nil {
		return Result{}, err
	}
	if p.Ref == "" {
		return Result{}, malformed(what, "ref is empty")
	}
	switch p.RefType {
	case "tag":
	case "branch":
		return ignored("branch %s was created; the push event sent with it carries the commits", truncate(p.Ref, 200)), nil
	case "":
		return Result{}, malformed(what, "ref_type is empty")
	default:
		return ignored("%s %s was created; only tags are acted on", truncate(p.RefType, 64), truncate(p.Ref, 200)), nil
	}
	ref := p.Ref
	if !strings.HasPrefix(ref, "refs/") {
		ref = "refs/tags/" + ref
	}
	if typ, ok := refKind(ref); !ok || typ != plugins.EventTypeGitTag {
		return Result{}, malformed(what, "ref %q of ref_type tag is not a tag", truncate(p.Ref, 200))
	}
	if p.Repository.CloneURL == "" {
		return Result{}, malformed(what, "repository.clone_url is empty")
	}
	commit, err := commitID(what, "sha", p.SHA)
	if err != nil {
		return Result{}, err
	}
	g := &plugins.GitEvent{URL: p.Repository.CloneURL, Ref: ref, Commit: commit}
	return Result{Events: []plugins.InboundEvent{{Type: plugins.EventTypeGitTag, DeliveryID: id, Git: g}}}, nil
}

// parseDelete checks a GitHub or Gitea delete event, which is never acted on.
func parseDelete(what string, body []byte) (Result, error) {
	var p refPayload
	if err := decodeJSON(what, body, &p); err != nil {
		return Result{}, err
	}
	if p.Ref == "" {
		return Result{}, malformed(what, "ref is empty")
	}
	noun := p.RefType
	if noun == "" {
		noun = "ref"
	}
	return ignored("%s %s was deleted", truncate(noun, 64), truncate(p.Ref, 200)), nil
}

// unsupportedEvent is the error for an event header naming an event this
// package does not handle.
func unsupportedEvent(header, event, handled string) error {
	return fmt.Errorf("%w: %s %q is not handled (TinyForge handles %s); leave it out of the webhook's events",
		ErrUnsupported, header, truncate(event, 64), handled)
}
