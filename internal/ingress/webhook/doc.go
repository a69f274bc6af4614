// Package webhook recognizes, verifies and normalizes webhook deliveries from
// GitHub, GitLab, Gitea, Docker Hub, distribution registries, Harbor and
// TinyForge's own generic form into plugins.InboundEvent values, without any
// I/O, so the ingress HTTP server only has to read the body and answer.
//
// # API
//
// The server calls three functions, in this order:
//
//   - Detect(header, body) names the provider when the Trigger does not:
//     X-Gitea-Event (or X-Forgejo-Event) before X-GitHub-Event, because Gitea
//     sends both; then X-Gitlab-Event; a Content-Type of
//     application/vnd.docker.distribution.events.v1+json (or +prettyjws, with
//     any parameters) for a distribution registry; X-TinyForge-Event or a
//     Content-Type of application/vnd.tinyforge.event.v1+json for generic.
//     Harbor and Docker Hub send no header of their own, so the body's
//     top-level keys decide last: "type" and "event_data" (or a CloudEvents
//     "specversion" with a "harbor.*" type) for Harbor, "push_data" and
//     "callback_url" for Docker Hub.
//   - Verify(provider, header, body, secret) checks the delivery's signature
//     or token against the Trigger's secret with constant-time compares:
//     GitHub X-Hub-Signature-256 (sha256=<hex HMAC-SHA256 of the body>);
//     Gitea X-Gitea-Signature or X-Forgejo-Signature (<hex>), or
//     X-Hub-Signature-256; GitLab X-Gitlab-Token (the secret itself);
//     generic X-TinyForge-Signature (sha256=<hex>) or
//     "Authorization: Bearer <secret>"; Harbor the Authorization header it
//     is configured to send ("Bearer <secret>" or the bare secret);
//     distribution the same Authorization header when the registry's
//     notification endpoint sets one, else Unverified; Docker Hub cannot
//     sign, so always Unverified.
//   - Parse(provider, header, body) returns a Result: the normalized events
//     (Provider, Type, DeliveryID and Image or Git set; Name, Trigger and
//     ReceivedTime are the caller's), or an Ignored reason for a valid
//     delivery with nothing to act on (a deleted branch or tag, a created
//     branch, a registry envelope without a tagged manifest push, a Harbor
//     event other than an artifact push). A ping is an event of type ping,
//     so the server can answer it.
//
// # Errors
//
// Verify fails with ErrMissingSignature or ErrBadSignature (answer 401) when a
// signature or token is absent or wrong, and with ErrNoSecret when the
// provider signs its deliveries but the caller has no secret to check them
// with: the result is then Unverified, and the caller decides whether a
// Trigger without a secretRef takes unverified deliveries. Detect and Parse
// fail with ErrMalformed (bad JSON, a required field missing or invalid; the
// message names the field) or ErrUnsupported (an event or provider this
// package does not handle; the message names it): answer 400. No error ever
// holds the secret, the expected MAC or the received signature.
//
// # Delivery IDs
//
// The provider's own ID when it sends one: X-GitHub-Delivery,
// X-Gitlab-Event-UUID (else X-Gitlab-Webhook-UUID), X-Gitea-Delivery (or
// X-Forgejo-Delivery), each distribution event's id, a Harbor CloudEvent's
// id, X-TinyForge-Delivery or the generic body's id. Otherwise (Docker Hub,
// Harbor's default format, a header left out) it is the hex SHA-256 of the
// body, so a redelivery of the same body has the same ID. When one delivery
// yields several events without IDs of their own, "-<index>" is appended.
//
// # Changed paths
//
// Git events list the sorted, unique paths added, modified or removed by the
// pushed commits. The list is nil (unknown) rather than short when the
// payload says it left commits out (GitLab's total_commits_count, Gitea's
// total_commits, GitHub's limit of 2048 commits) or more than
// MaxChangedPaths paths changed: a short list would hide changes from path
// filters, while no list makes them deploy.
//
// # Generic form
//
// Scripts and CI jobs post TinyForge's own JSON (Content-Type
// application/vnd.tinyforge.event.v1+json, or header X-TinyForge-Event),
// signed with X-TinyForge-Signature: sha256=<hex HMAC-SHA256 of the body>
// or sent with Authorization: Bearer <secret>. Unknown fields are refused.
// An image push:
//
//	{
//	  "type": "image-push",
//	  "id": "build-1842",
//	  "image": {
//	    "repository": "registry.example:5000/team/web",
//	    "tag": "1.4.2",
//	    "digest": "sha256:4f9c…"
//	  }
//	}
//
// A git push (type git-tag for a tag):
//
//	{
//	  "type": "git-push",
//	  "id": "ci-77-3",
//	  "git": {
//	    "url": "https://git.example/team/web.git",
//	    "ref": "refs/heads/main",
//	    "commit": "9fceb02d0ae598e95dc970b74767f19372d61af8",
//	    "before": "6113728f27ae82c7b1a177c8d03f9e96e0adf246",
//	    "author": "Ada Lovelace <ada@example.org>",
//	    "message": "Fix the checkout page",
//	    "changedPaths": ["web/checkout.go"]
//	  }
//	}
//
// type is image-push, git-push, git-tag or ping (then neither image nor git);
// it may come from the X-TinyForge-Event header instead, and must agree with
// it when both are set. id is optional (X-TinyForge-Delivery wins; else the
// body's hash). An image needs a repository and a tag or a digest; a
// repository without a host is Docker Hub's, as docker pull reads it. A git
// event needs url and ref; a ref without "refs/" is a branch for git-push and
// a tag for git-tag; commit and before are optional hexadecimal commit IDs.
package webhook
