package ingress_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/klog/v2/ktesting"
	"sigs.k8s.io/controller-runtime/pkg/client"

	tinyforgev1alpha1 "github.com/tinyforge/tinyforge/api/v1alpha1"
	"github.com/tinyforge/tinyforge/controllers"
	"github.com/tinyforge/tinyforge/internal/apiserver/apiservertest"
	"github.com/tinyforge/tinyforge/internal/ingress"
	"github.com/tinyforge/tinyforge/plugins"
)

const fixtures = "../../test/fixtures/webhooks"

// fakeTrigger acts on the event types its kind names and matches nothing;
// the ingress only needs its kind and EventAcceptor.
type fakeTrigger struct {
	kind  string
	types []plugins.EventType
}

func init() {
	plugins.RegisterTrigger(fakeTrigger{kind: "fakegit", types: []plugins.EventType{plugins.EventTypeGitPush, plugins.EventTypeGitTag}})
	plugins.RegisterTrigger(fakeTrigger{kind: "fakeimage", types: []plugins.EventType{plugins.EventTypeImagePush}})
}

func (f fakeTrigger) Kind() string                               { return f.kind }
func (fakeTrigger) Validate(*field.Path, []byte) field.ErrorList { return nil }
func (fakeTrigger) Match(context.Context, plugins.Deps, plugins.MatchRequest) (plugins.MatchResult, error) {
	return plugins.Skipped("fake"), nil
}
func (f fakeTrigger) Accepts(t plugins.EventType) bool {
	for _, a := range f.types {
		if a == t {
			return true
		}
	}
	return false
}

type env struct {
	t    *testing.T
	c    client.Client
	base string
}

// start runs the API server, the controllers (which publish webhook paths
// and dispatch Events) and the ingress on a free loopback port.
func start(t *testing.T, o ingress.Options) *env {
	t.Helper()
	if testing.Short() {
		t.Skip("starts an API server")
	}
	s := apiservertest.Start(t)
	co := controllers.NewOptions()
	co.LeaderElect = false
	mgr, err := controllers.NewManager(s.Admin, co)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); _ = mgr.Start(ctx) }()
	o.Address = "127.0.0.1:0"
	ready := make(chan *ingress.Server, 1)
	errc := make(chan error, 1)
	go func() {
		defer wg.Done()
		errc <- ingress.Serve(ctx, s.Admin, controllers.Scheme(), o, ktesting.NewLogger(t, ktesting.NewConfig()), func(s *ingress.Server) { ready <- s })
	}()
	t.Cleanup(func() { cancel(); wg.Wait() })
	var srv *ingress.Server
	select {
	case srv = <-ready:
	case err := <-errc:
		t.Fatalf("ingress: %v", err)
	case <-time.After(60 * time.Second):
		t.Fatal("the ingress did not start within 60s")
	}
	c, err := client.New(s.Admin, client.Options{Scheme: controllers.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, c: c, base: "http://" + srv.Addr()}
}

// trigger creates a trigger with the token in its own Secret and returns
// its webhook path once published.
func (e *env) trigger(name, kind string, provider tinyforgev1alpha1.Provider, token string, mutate ...func(*tinyforgev1alpha1.Trigger)) string {
	e.t.Helper()
	ctx := context.Background()
	sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name + "-token"}, Data: map[string][]byte{"token": []byte(token)}}
	if err := e.c.Create(ctx, sec); err != nil {
		e.t.Fatal(err)
	}
	tr := &tinyforgev1alpha1.Trigger{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name}}
	tr.Spec.Kind, tr.Spec.Provider = kind, provider
	tr.Spec.Config = &runtime.RawExtension{Raw: []byte("{}")}
	tr.Spec.SecretRef = &tinyforgev1alpha1.TriggerSecretReference{Name: sec.Name, Key: "token"}
	for _, m := range mutate {
		m(tr)
	}
	if err := e.c.Create(ctx, tr); err != nil {
		e.t.Fatal(err)
	}
	err := wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		err := e.c.Get(ctx, client.ObjectKeyFromObject(tr), tr)
		return err == nil && tr.Status.WebhookPath != "", nil
	})
	if err != nil {
		e.t.Fatalf("trigger %s published no webhook path: %v", name, err)
	}
	return tr.Status.WebhookPath
}

type delivery struct {
	path    string
	headers map[string]string
	body    []byte
}

type answer struct {
	code    int
	Message string   `json:"message"`
	Events  []string `json:"events"`
	header  http.Header
}

// post delivers d, retrying 404s briefly: the ingress's cache may not have
// seen a trigger's new path yet.
func (e *env) post(d delivery) answer {
	e.t.Helper()
	var a answer
	deadline := time.Now().Add(10 * time.Second)
	for {
		req, _ := http.NewRequest(http.MethodPost, e.base+d.path, bytes.NewReader(d.body))
		for k, v := range d.headers {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			e.t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		a = answer{code: resp.StatusCode, header: resp.Header}
		if err := json.Unmarshal(b, &a); err != nil {
			e.t.Fatalf("answer %d is not JSON: %q", resp.StatusCode, b)
		}
		if a.code != http.StatusNotFound || time.Now().After(deadline) || !strings.HasPrefix(d.path, "/hooks/") || d.path == "/hooks/nope" {
			return a
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func fixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(fixtures, name))
	if err != nil {
		t.Fatalf("fixture %s: %v", name, err)
	}
	return b
}

func sign(token string, body []byte) string {
	m := hmac.New(sha256.New, []byte(token))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

func github(event, id, token string, body []byte) map[string]string {
	h := map[string]string{"X-GitHub-Event": event, "X-GitHub-Delivery": id, "Content-Type": "application/json"}
	if token != "" {
		h["X-Hub-Signature-256"] = "sha256=" + sign(token, body)
	}
	return h
}

func TestIngress(t *testing.T) {
	e := start(t, ingress.Options{MaxBodyBytes: 256 << 10, RateLimit: 1, RateBurst: 40})
	const token = "gh-s3cret"
	gh := e.trigger("site", "fakegit", "", token)
	registry := e.trigger("registry", "fakeimage", tinyforgev1alpha1.ProviderDistribution, "reg-s3cret")
	quiet := e.trigger("quiet", "fakegit", "", "x", func(t *tinyforgev1alpha1.Trigger) { t.Spec.Suspend = true })
	push := fixture(t, "github/push.json")

	tests := []struct {
		name     string
		d        delivery
		code     int
		message  string
		nEvents  int
		checkEvt func(*testing.T, *tinyforgev1alpha1.Event)
	}{
		{name: "unknown path", d: delivery{path: "/hooks/nope", headers: github("push", "1", token, push), body: push}, code: 404, message: "no trigger listens at this path"},
		{name: "signed push", d: delivery{path: gh, headers: github("push", "d-1", token, push), body: push}, code: 202, message: "accepted", nEvents: 1,
			checkEvt: func(t *testing.T, ev *tinyforgev1alpha1.Event) {
				if ev.Spec.Type != tinyforgev1alpha1.EventTypeGitPush || ev.Spec.Provider != "github" || ev.Spec.DeliveryID != "d-1" ||
					ev.Spec.Verification != tinyforgev1alpha1.VerificationVerified || ev.Spec.Git == nil ||
					ev.Spec.Git.Commit != "fd489864e7642b48eaad6e3f155c10e46810ec72" || ev.Spec.Git.Ref != "refs/heads/master" {
					t.Errorf("event spec = %+v git %+v", ev.Spec, ev.Spec.Git)
				}
			}},
		{name: "redelivery", d: delivery{path: gh, headers: github("push", "d-1", token, push), body: push}, code: 200, message: "duplicate", nEvents: 1},
		{name: "wrong signature", d: delivery{path: gh, headers: github("push", "d-2", "not-the-token", push), body: push}, code: 401, message: "signature"},
		{name: "missing signature", d: delivery{path: gh, headers: github("push", "d-3", "", push), body: push}, code: 401, message: "signature"},
		{name: "malformed body", d: delivery{path: gh, headers: github("push", "d-4", token, []byte("{nope")), body: []byte("{nope")}, code: 400, message: "malformed"},
		{name: "unsupported event", d: delivery{path: gh, headers: github("issues", "d-5", token, []byte("{}")), body: []byte("{}")}, code: 400, message: "issues"},
		{name: "undetectable provider", d: delivery{path: gh, headers: map[string]string{"Content-Type": "application/json"}, body: []byte(`{"a":1}`)}, code: 400},
		{name: "ping", d: delivery{path: gh, headers: github("ping", "d-6", token, fixture(t, "github/ping.json")), body: fixture(t, "github/ping.json")}, code: 200, message: "pong"},
		{name: "branch deleted", d: delivery{path: gh, headers: github("delete", "d-7", token, fixture(t, "github/delete.json")), body: fixture(t, "github/delete.json")}, code: 202, message: "ignored: "},
		{name: "too large", d: delivery{path: gh, headers: github("push", "d-8", token, make([]byte, 300<<10)), body: make([]byte, 300<<10)}, code: 413, message: "over the limit"},
		{name: "suspended", d: delivery{path: quiet, headers: github("push", "d-9", "x", push), body: push}, code: 202, message: "ignored: trigger default/quiet is suspended"},
		{name: "event type the trigger ignores", d: delivery{path: registry, headers: map[string]string{
			"Content-Type": "application/json", "X-TinyForge-Event": "git-push", "Authorization": "Bearer reg-s3cret"}, body: push}, code: 400},
		{name: "registry envelope", d: delivery{path: registry, headers: map[string]string{
			"Content-Type": "application/vnd.docker.distribution.events.v1+json", "Authorization": "Bearer reg-s3cret"},
			body: fixture(t, "distribution/manifest-push.json")}, code: 202, message: "accepted", nEvents: 1,
			checkEvt: func(t *testing.T, ev *tinyforgev1alpha1.Event) {
				if ev.Spec.Type != tinyforgev1alpha1.EventTypeImagePush || ev.Spec.Image == nil || ev.Spec.Image.Tag == "" || !strings.HasPrefix(ev.Spec.Image.Digest, "sha256:") {
					t.Errorf("event spec = %+v image %+v", ev.Spec, ev.Spec.Image)
				}
			}},
		{name: "registry with a wrong token", d: delivery{path: registry, headers: map[string]string{
			"Content-Type": "application/vnd.docker.distribution.events.v1+json", "Authorization": "Bearer guess"},
			body: fixture(t, "distribution/manifest-push.json")}, code: 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := e.post(tt.d)
			if a.code != tt.code || !strings.Contains(a.Message, tt.message) {
				t.Fatalf("answer %d %q, want %d containing %q", a.code, a.Message, tt.code, tt.message)
			}
			if len(a.Events) != tt.nEvents {
				t.Fatalf("answer names events %v, want %d", a.Events, tt.nEvents)
			}
			for _, name := range a.Events {
				var ev tinyforgev1alpha1.Event
				if err := e.c.Get(context.Background(), client.ObjectKey{Namespace: "default", Name: name}, &ev); err != nil {
					t.Fatalf("event %s named in the answer: %v", name, err)
				}
				if tt.checkEvt != nil {
					tt.checkEvt(t, &ev)
				}
			}
		})
	}

	// A git push to a registry trigger is answered "ignored", with no Event.
	t.Run("git push to a registry trigger", func(t *testing.T) {
		before := e.countEvents()
		gitOnImage := e.trigger("image-only", "fakeimage", tinyforgev1alpha1.ProviderGitHub, "k")
		a := e.post(delivery{path: gitOnImage, headers: github("push", "d-10", "k", push), body: push})
		if a.code != 202 || a.Message != "ignored: a fakeimage trigger does not act on git-push events" {
			t.Fatalf("answer %d %q", a.code, a.Message)
		}
		if after := e.countEvents(); after != before {
			t.Errorf("%d events before, %d after an ignored delivery", before, after)
		}
	})

	t.Run("rate limit", func(t *testing.T) {
		var limited answer
		for i := range 60 {
			a := e.post(delivery{path: gh, headers: github("push", fmt.Sprintf("burst-%d", i), token, push), body: push})
			if a.code == http.StatusTooManyRequests {
				limited = a
				break
			}
		}
		if limited.code != http.StatusTooManyRequests || limited.header.Get("Retry-After") == "" {
			t.Fatalf("60 deliveries at once were never answered 429 with Retry-After: last %d %q", limited.code, limited.Message)
		}
	})

	t.Run("metrics count every outcome", func(t *testing.T) {
		resp, err := http.Get(e.base + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		for _, want := range []string{
			`tinyforge_ingress_deliveries_total{code="202",outcome="accepted",provider="github"}`,
			`tinyforge_ingress_deliveries_total{code="200",outcome="duplicate",provider="github"}`,
			`tinyforge_ingress_deliveries_total{code="401",outcome="unauthorized",provider="github"}`,
			`tinyforge_ingress_deliveries_total{code="404",outcome="not_found",provider=""}`,
			`tinyforge_ingress_deliveries_total{code="413",outcome="too_large",provider=""}`,
			`tinyforge_ingress_deliveries_total{code="429",outcome="rate_limited",provider=""}`,
			`tinyforge_ingress_deliveries_total{code="200",outcome="pong",provider="github"}`,
		} {
			if !strings.Contains(string(b), want) {
				t.Errorf("/metrics lacks %s", want)
			}
		}
	})
}

func (e *env) countEvents() int {
	var list tinyforgev1alpha1.EventList
	if err := e.c.List(context.Background(), &list, client.InNamespace("default")); err != nil {
		e.t.Fatal(err)
	}
	return len(list.Items)
}
