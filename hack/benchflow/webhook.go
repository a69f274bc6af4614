package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// The generic webhook form of the ingress (internal/ingress/webhook).
const (
	mediaTypeGeneric = "application/vnd.tinyforge.event.v1+json"
	headerSignature  = "X-TinyForge-Signature"
	// maxAnswerBytes bounds how much of an ingress answer is read.
	maxAnswerBytes = 64 << 10
)

// genericImagePush is the body of a generic image-push delivery.
func genericImagePush(id, repository, tag string) []byte {
	b, _ := json.Marshal(map[string]any{
		"type":  "image-push",
		"id":    id,
		"image": map[string]string{"repository": repository, "tag": tag},
	})
	return b
}

// genericPing is the body of a generic ping, answered 200 pong.
func genericPing() []byte { return []byte(`{"type":"ping"}`) }

// sign is the X-TinyForge-Signature of body: sha256=<hex HMAC-SHA256>.
func sign(token string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(token))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// hookAnswer is the ingress's JSON answer to a delivery.
type hookAnswer struct {
	Message string   `json:"message"`
	Events  []string `json:"events,omitempty"`
}

// parseAnswer reads an ingress answer; it wants a JSON object with a
// message, and names of at most a handful of Events.
func parseAnswer(b []byte) (hookAnswer, error) {
	var a hookAnswer
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&a); err != nil {
		return hookAnswer{}, fmt.Errorf("%w: not the ingress's JSON: %v", errBadAnswer, err)
	}
	if a.Message == "" {
		return hookAnswer{}, fmt.Errorf("%w: no message", errBadAnswer)
	}
	if len(a.Events) > 100 {
		return hookAnswer{}, fmt.Errorf("%w: %d events for one delivery", errBadAnswer, len(a.Events))
	}
	for _, name := range a.Events {
		if name == "" || len(name) > 253 {
			return hookAnswer{}, fmt.Errorf("%w: event name %q", errBadAnswer, truncate(name, 64))
		}
	}
	return a, nil
}

// deliver POSTs a signed generic delivery to url and returns the status
// code and the parsed answer. The token is never part of an error.
func deliver(ctx context.Context, c *http.Client, url, token string, body []byte) (int, hookAnswer, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, hookAnswer{}, err
	}
	req.Header.Set("Content-Type", mediaTypeGeneric)
	req.Header.Set(headerSignature, sign(token, body))
	resp, err := c.Do(req)
	if err != nil {
		return 0, hookAnswer{}, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswerBytes))
	if err != nil {
		return resp.StatusCode, hookAnswer{}, fmt.Errorf("reading the answer: %w", err)
	}
	a, err := parseAnswer(raw)
	if err != nil {
		return resp.StatusCode, hookAnswer{}, fmt.Errorf("%s: %w", resp.Status, err)
	}
	return resp.StatusCode, a, nil
}

// deliverAccepted delivers body and wants 202 naming one Event, whose name
// it returns.
func deliverAccepted(ctx context.Context, c *http.Client, url, token string, body []byte) (string, error) {
	code, a, err := deliver(ctx, c, url, token, body)
	if err != nil {
		return "", err
	}
	if code != http.StatusAccepted || len(a.Events) != 1 {
		return "", fmt.Errorf("%w: %d %q with events %q, want 202 naming one Event", errBadAnswer, code, a.Message, a.Events)
	}
	return a.Events[0], nil
}

// truncate bounds s to n bytes, marking a cut.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "…"
}

// Errors of deliveries.
var (
	// errBadAnswer: the ingress answered something else than expected.
	errBadAnswer = errors.New("unexpected answer")
	// errNoPong: a trigger never answered a ping.
	errNoPong = errors.New("no pong")
)
