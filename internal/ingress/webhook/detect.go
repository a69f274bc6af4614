package webhook

import (
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"strings"

	"github.com/tinyforge/tinyforge/api/v1alpha1"
)

// Headers and media types that name a provider or its event.
const (
	headerGitHubEvent    = "X-GitHub-Event"
	headerGitHubDelivery = "X-GitHub-Delivery"
	headerGitHubSig256   = "X-Hub-Signature-256"
	headerGitHubSigSHA1  = "X-Hub-Signature"

	headerGiteaEvent      = "X-Gitea-Event"
	headerGiteaDelivery   = "X-Gitea-Delivery"
	headerGiteaSignature  = "X-Gitea-Signature"
	headerForgejoEvent    = "X-Forgejo-Event"
	headerForgejoDelivery = "X-Forgejo-Delivery"
	headerForgejoSig      = "X-Forgejo-Signature"

	headerGitLabEvent       = "X-Gitlab-Event"
	headerGitLabToken       = "X-Gitlab-Token"
	headerGitLabEventUUID   = "X-Gitlab-Event-UUID"
	headerGitLabWebhookUUID = "X-Gitlab-Webhook-UUID"

	headerTinyForgeEvent     = "X-TinyForge-Event"
	headerTinyForgeDelivery  = "X-TinyForge-Delivery"
	headerTinyForgeSignature = "X-TinyForge-Signature"

	headerAuthorization = "Authorization"
	headerContentType   = "Content-Type"

	// mediaTypeDistribution is the envelope of registry notifications,
	// without its +json or +prettyjws suffix.
	mediaTypeDistribution = "application/vnd.docker.distribution.events.v1"
	// MediaTypeGeneric is the Content-Type of TinyForge's generic form.
	MediaTypeGeneric = "application/vnd.tinyforge.event.v1+json"
)

// Detect names the provider that sent a delivery, from its headers and, for
// Harbor and Docker Hub (which send no header of their own), from the body's
// top-level keys. It fails with ErrUnsupported when nothing fits.
func Detect(h http.Header, body []byte) (v1alpha1.Provider, error) {
	switch {
	case h.Get(headerGiteaEvent) != "" || h.Get(headerForgejoEvent) != "":
		return v1alpha1.ProviderGitea, nil
	case h.Get(headerGitHubEvent) != "":
		return v1alpha1.ProviderGitHub, nil
	case h.Get(headerGitLabEvent) != "":
		return v1alpha1.ProviderGitLab, nil
	}
	contentType := h.Get(headerContentType)
	mt := mediaType(contentType)
	switch {
	case isDistributionMediaType(mt):
		return v1alpha1.ProviderDistribution, nil
	case h.Get(headerTinyForgeEvent) != "" || mt == MediaTypeGeneric:
		return v1alpha1.ProviderGeneric, nil
	}
	if p, ok := sniff(body); ok {
		return p, nil
	}
	return "", fmt.Errorf("%w: cannot tell which provider sent it: none of the headers %s, %s, %s, %s or %s is set, "+
		"Content-Type %q is neither %s+json nor %s, and the body is not a Harbor or Docker Hub payload; "+
		"set the Trigger's provider to say which it is",
		ErrUnsupported, headerGiteaEvent, headerForgejoEvent, headerGitHubEvent, headerGitLabEvent, headerTinyForgeEvent,
		truncate(contentType, 100), mediaTypeDistribution, MediaTypeGeneric)
}

// mediaType returns the lowercased media type of a Content-Type value,
// without parameters.
func mediaType(contentType string) string {
	if mt, _, err := mime.ParseMediaType(contentType); err == nil {
		return mt
	}
	mt, _, _ := strings.Cut(contentType, ";")
	return strings.ToLower(strings.TrimSpace(mt))
}

// isDistributionMediaType reports whether mt is the registry notification
// envelope, in its JSON or signed-JSON (+prettyjws) form.
func isDistributionMediaType(mt string) bool {
	rest, ok := strings.CutPrefix(mt, mediaTypeDistribution)
	return ok && (rest == "" || rest == "+json" || rest == "+prettyjws")
}

// sniffed holds the top-level keys that tell Harbor and Docker Hub bodies
// apart; RawMessage keeps decoding cheap (no nested values are built).
type sniffed struct {
	Type        json.RawMessage `json:"type"`
	EventData   json.RawMessage `json:"event_data"`
	SpecVersion json.RawMessage `json:"specversion"`
	PushData    json.RawMessage `json:"push_data"`
	CallbackURL json.RawMessage `json:"callback_url"`
}

// sniff recognizes a Harbor (default or CloudEvents format) or Docker Hub
// body by its top-level keys.
func sniff(body []byte) (v1alpha1.Provider, bool) {
	var s sniffed
	if json.Unmarshal(body, &s) != nil {
		return "", false
	}
	var typ string
	_ = json.Unmarshal(s.Type, &typ)
	switch {
	case typ != "" && present(s.EventData):
		return v1alpha1.ProviderHarbor, true
	case present(s.SpecVersion) && strings.HasPrefix(typ, "harbor."):
		return v1alpha1.ProviderHarbor, true
	case present(s.PushData) && present(s.CallbackURL):
		return v1alpha1.ProviderDockerHub, true
	}
	return "", false
}

// present reports whether a key was in the object with a non-null value.
func present(v json.RawMessage) bool {
	return len(v) > 0 && string(v) != "null"
}

// truncate shortens s for an error message.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return cut(s, n) + "…"
}
