package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/tinyforge/tinyforge/plugins"
)

// fixturesDir holds the real payloads shared by the project's tests,
// /work/shared/fixtures/webhooks seen from this package's directory.
const fixturesDir = "../../../test/fixtures/webhooks"

// fixture reads one shared payload, such as "github/push.json".
func fixture(t testing.TB, name string) []byte {
	t.Helper()
	body, err := os.ReadFile(filepath.Join(fixturesDir, name))
	if err != nil {
		abs, _ := filepath.Abs(fixturesDir)
		t.Fatalf("reading webhook fixture %s: %v (the shared fixtures are expected in %s)", name, err, abs)
	}
	return body
}

// fixtureNames lists every shared payload, as provider/file.json.
func fixtureNames(t testing.TB) []string {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(fixturesDir, "*", "*.json"))
	if err != nil || len(names) == 0 {
		abs, _ := filepath.Abs(fixturesDir)
		t.Fatalf("no webhook fixtures in %s (err %v)", abs, err)
	}
	for i, n := range names {
		rel, err := filepath.Rel(fixturesDir, n)
		if err != nil {
			t.Fatal(err)
		}
		names[i] = filepath.ToSlash(rel)
	}
	return names
}

// withFields returns body (a JSON object) with top-level keys replaced by
// fields; a nil value removes the key.
func withFields(t testing.TB, body []byte, fields map[string]any) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("fixture is not a JSON object: %v", err)
	}
	for k, v := range fields {
		if v == nil {
			delete(m, k)
			continue
		}
		m[k] = v
	}
	return mustJSON(t, m)
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// headers builds an http.Header from name/value pairs, canonicalizing names
// as net/http does for a real request.
func headers(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Set(kv[i], kv[i+1])
	}
	return h
}

// sign is the hex HMAC-SHA256 of body under secret, as providers sign.
func sign(secret string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return hex.EncodeToString(mac.Sum(nil))
}

// hashOf is the delivery ID of a body that comes without one.
func hashOf(body []byte) string {
	sum := sha256.Sum256(body)
	return hex.EncodeToString(sum[:])
}

// checkResult fails the test when got differs from want, printing both.
func checkResult(t *testing.T, got, want Result) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Parse() =\n%s\nwant\n%s", dump(got), dump(want))
	}
}

func dump(r Result) string {
	b, _ := json.MarshalIndent(r, "", "  ")
	return string(b)
}

func gitEvent(provider string, typ plugins.EventType, id string, g plugins.GitEvent) plugins.InboundEvent {
	return plugins.InboundEvent{Provider: provider, Type: typ, DeliveryID: id, Git: &g}
}

func imageEvent(provider, id, repo, tag, digest string) plugins.InboundEvent {
	return plugins.InboundEvent{
		Provider: provider, Type: plugins.EventTypeImagePush, DeliveryID: id,
		Image: &plugins.ImageRef{Repository: repo, Tag: tag, Digest: digest},
	}
}
