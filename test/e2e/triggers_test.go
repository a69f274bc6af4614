package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"

	tinyforgev1alpha1 "github.com/tinyforge/tinyforge/api/v1alpha1"
	"github.com/tinyforge/tinyforge/controllers"
	"github.com/tinyforge/tinyforge/controllers/event"
	"github.com/tinyforge/tinyforge/controllers/trigger"
	"github.com/tinyforge/tinyforge/internal/docker"
	"github.com/tinyforge/tinyforge/internal/docker/dockertest"
)

// registryTrigger is a registry Trigger whose token is in its own Secret,
// so the test knows the webhook path before the trigger exists.
func registryTrigger(name, token, repository, policy string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Secret
metadata: {name: %[1]s-token, namespace: default}
stringData: {token: %[2]s}
---
apiVersion: tinyforge.dev/v1alpha1
kind: Trigger
metadata: {name: %[1]s, namespace: default}
spec:
  kind: registry
  provider: distribution
  secretRef: {name: %[1]s-token}
  config:
    repository: %[3]s
    tagPolicy: %[4]s
`, name, token, repository, policy)
}

func binding(name, trig, workload, override string) string {
	m := fmt.Sprintf(`apiVersion: tinyforge.dev/v1alpha1
kind: TriggerBinding
metadata: {name: %s, namespace: default}
spec:
  triggerRef: {name: %s}
  workloadRef: {name: %s}
`, name, trig, workload)
	if override != "" {
		m += "  config: " + override + "\n"
	}
	return m
}

func (s *server) client(t *testing.T) client.Client {
	t.Helper()
	c, err := client.New(s.Admin, client.Options{Scheme: controllers.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// waitObj polls obj until cond holds.
func waitObj(t *testing.T, c client.Client, obj client.Object, name string, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	pollCond(t, what, timeout, func() bool {
		if err := c.Get(context.Background(), client.ObjectKey{Namespace: "default", Name: name}, obj); err != nil {
			return false
		}
		return cond()
	})
}

func workloadReadyAt(c client.Client, name, revision string) func() bool {
	return func() bool {
		var w tinyforgev1alpha1.Workload
		if err := c.Get(context.Background(), client.ObjectKey{Namespace: "default", Name: name}, &w); err != nil {
			return false
		}
		return w.Status.CurrentRevision == revision && meta.IsStatusConditionTrue(w.Status.Conditions, "Ready")
	}
}

// TestRegistryPushRedeploys: a real registry notifies the ingress of a
// docker push; the bound workloads whose policy accepts the tag redeploy
// the pushed digest, the others skip it with a reason, and one push fans
// out to twenty workloads.
func TestRegistryPushRedeploys(t *testing.T) {
	if testing.Short() {
		t.Skip("needs Docker and a registry")
	}
	cli := dockertest.Client(t)
	const fanOut = 20
	names := []string{"reg-a", "reg-b"}
	for i := range fanOut {
		names = append(names, fmt.Sprintf("fan-%02d", i))
	}
	// Registered before the server starts, so they run after it stops:
	// a running server recreates containers removed under it.
	for _, n := range names {
		dockertest.CleanupContainers(t, cli, docker.LabelNamespace+"=default", docker.LabelWorkload+"="+n)
	}
	s := startServer(t, "")
	c := s.client(t)
	const token = "registry-hook-token"
	path := trigger.WebhookPath("default", "pushes", []byte(token))
	reg := dockertest.StartRegistry(t, dockertest.WithNotifications("http://"+s.IngressAddr+path,
		http.Header{"Authorization": {"Bearer " + token}}))

	v1 := dockertest.BuildTestApp(t, cli, fmt.Sprintf("tinyforge-e2e/reg-%d:v1", time.Now().UnixNano()), dockertest.WithVersion("v1"))
	v2 := dockertest.BuildTestApp(t, cli, fmt.Sprintf("tinyforge-e2e/reg-%d:v2", time.Now().UnixNano()), dockertest.WithVersion("v2"))
	// Stop the server before the images go, or it recreates the containers
	// their cleanup removes.
	t.Cleanup(s.stop)
	d1 := reg.Push(t, cli, v1, "e2e/web:v1")

	manifests := []string{registryTrigger("pushes", token, reg.Ref("e2e/web"), `{glob: "v*"}`)}
	for _, n := range names {
		manifests = append(manifests, webWorkload(n, reg.Ref("e2e/web:v1"), ""))
		override := ""
		if n == "reg-b" {
			// The same trigger, narrowed for this workload only.
			override = `{tagPolicy: {exact: v9}}`
		}
		manifests = append(manifests, binding(n, "pushes", n, override))
	}
	s.mustApply(t, strings.Join(manifests, "---\n"))
	for _, n := range names {
		pollCond(t, n+" ready at v1", 3*time.Minute, workloadReadyAt(c, n, d1))
	}
	var tr tinyforgev1alpha1.Trigger
	waitObj(t, c, &tr, "pushes", 30*time.Second, "the trigger's webhook path", func() bool { return tr.Status.WebhookPath == path })

	// docker push v2: the registry notifies the ingress.
	start := time.Now()
	d2 := reg.Push(t, cli, v2, "e2e/web:v2")
	var ev tinyforgev1alpha1.Event
	var evName string
	pollCond(t, "an Event for the push", time.Minute, func() bool {
		var list tinyforgev1alpha1.EventList
		if err := c.List(context.Background(), &list, client.InNamespace("default")); err != nil {
			return false
		}
		for _, e := range list.Items {
			if e.Spec.Image != nil && e.Spec.Image.Tag == "v2" {
				evName = e.Name
				return true
			}
		}
		return false
	})
	waitObj(t, c, &ev, evName, time.Minute, "the event dispatched", func() bool { return ev.Status.Phase == tinyforgev1alpha1.EventPhaseDispatched })
	if ev.Spec.Provider != tinyforgev1alpha1.ProviderDistribution || ev.Spec.Verification != tinyforgev1alpha1.VerificationVerified {
		t.Errorf("event provider %q verification %q, want distribution, Verified", ev.Spec.Provider, ev.Spec.Verification)
	}
	outcomes := map[string]tinyforgev1alpha1.BindingOutcome{}
	for _, o := range ev.Status.Outcomes {
		outcomes[o.Binding] = o
	}
	if o := outcomes["reg-b"]; o.Result != tinyforgev1alpha1.MatchResultSkipped || !strings.Contains(o.Reason, "v2") {
		t.Errorf("reg-b (override exact v9): %+v, want Skipped naming tag v2", o)
	}
	for _, n := range names {
		if n == "reg-b" {
			continue
		}
		o := outcomes[n]
		if o.Result != tinyforgev1alpha1.MatchResultMatched || o.Rollout != event.RolloutName(n, evName, n) {
			t.Errorf("%s: %+v, want Matched", n, o)
		}
	}
	for _, n := range names {
		if n == "reg-b" {
			continue
		}
		pollCond(t, n+" serving the pushed digest", 3*time.Minute, workloadReadyAt(c, n, d2))
	}
	t.Logf("push to %d workloads serving the new digest: %v", len(names)-1, time.Since(start).Round(time.Millisecond))
	for _, n := range names {
		var ro tinyforgev1alpha1.Rollout
		if n == "reg-b" {
			continue
		}
		waitObj(t, c, &ro, event.RolloutName(n, evName, n), 30*time.Second, n+"'s rollout Succeeded", func() bool {
			return ro.Status.Phase == tinyforgev1alpha1.RolloutPhaseSucceeded && ro.Status.Revision == d2
		})
	}
	s.waitServes(t, "reg-a.default.localhost", "v2")
	if got := workloadReadyAt(c, "reg-b", d1)(); !got {
		t.Errorf("reg-b left v1 although its binding skipped the push")
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		list := running(t, cli, "default", "reg-a")
		if len(list) == 1 && list[0].Labels[docker.LabelRevision] == d2 {
			break
		}
		if time.Now().After(deadline) {
			for _, c := range list {
				t.Logf("running: %s %s rollout=%s revision=%s", c.Names, c.Status, c.Labels[docker.LabelRollout], c.Labels[docker.LabelRevision])
			}
			t.Fatalf("reg-a runs %d containers 30s after the switch, want one of %s\n%s", len(list), d2,
				s.forgectl(t, "get", "rollouts", "-l", "tinyforge.dev/workload=reg-a", "-o", "wide"))
		}
		time.Sleep(100 * time.Millisecond)
	}

	// The same delivery again changes nothing: the registry's event ID
	// names the Event, so the ingress answers 200 duplicate and no Rollout
	// appears.
	var before tinyforgev1alpha1.RolloutList
	if err := c.List(context.Background(), &before, client.InNamespace("default")); err != nil {
		t.Fatal(err)
	}
	envelope := fmt.Sprintf(`{"events":[{"id":%q,"timestamp":"2026-11-27T10:00:00Z","action":"push",
	  "target":{"mediaType":"application/vnd.docker.distribution.manifest.v2+json","digest":%q,"repository":"e2e/web","tag":"v2"},
	  "request":{"host":%q}}]}`, ev.Spec.DeliveryID, d2, reg.Addr)
	req, _ := http.NewRequest(http.MethodPost, "http://"+s.IngressAddr+path, strings.NewReader(envelope))
	req.Header.Set("Content-Type", "application/vnd.docker.distribution.events.v1+json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	answer, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(answer), "duplicate") || !strings.Contains(string(answer), evName) {
		t.Errorf("redelivery answered %d %s, want 200 duplicate naming %s", resp.StatusCode, answer, evName)
	}
	var after tinyforgev1alpha1.RolloutList
	if err := c.List(context.Background(), &after, client.InNamespace("default")); err != nil {
		t.Fatal(err)
	}
	if len(after.Items) != len(before.Items) {
		t.Errorf("%d rollouts before the redelivery, %d after", len(before.Items), len(after.Items))
	}

	// forgectl shows the outcome and the URL to paste into a provider.
	out := s.forgectl(t, "get", "events.tinyforge.dev", evName)
	mustContain(t, "get events.tinyforge.dev", out, evName, "image-push", "Dispatched")
	out = s.forgectl(t, "webhook-url", "trigger/pushes")
	if strings.TrimSpace(out) != "http://"+s.IngressAddr+path {
		t.Errorf("webhook-url printed %q, want %q", out, "http://"+s.IngressAddr+path)
	}
}

// TestSamplesApply: every sample in config/samples applies as the README
// says, now that every plugin kind they name exists.
func TestSamplesApply(t *testing.T) {
	s := startServer(t, "")
	out := s.forgectl(t, "apply", "-f", "../../config/samples/")
	for _, want := range []string{"workload.tinyforge.dev/hello", "trigger.tinyforge.dev/hello-registry", "triggerbinding.tinyforge.dev/hello-registry-hello", "rollout.tinyforge.dev/", "event.tinyforge.dev/"} {
		mustContain(t, "apply -f config/samples/", out, want)
	}
	var tr tinyforgev1alpha1.Trigger
	waitObj(t, s.client(t), &tr, "hello-registry", 30*time.Second, "the sample trigger's webhook path", func() bool {
		return strings.HasPrefix(tr.Status.WebhookPath, "/hooks/")
	})
	out = s.forgectl(t, "webhook-url", "trigger/hello-registry")
	if !strings.HasPrefix(out, "http://"+s.IngressAddr+"/hooks/") {
		t.Errorf("webhook-url printed %q", out)
	}
}
