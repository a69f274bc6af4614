package apiserver_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/tinyforge/tinyforge/internal/apiserver/apiservertest"
)

func TestServesCoreTypesAndCRDs(t *testing.T) {
	s := apiservertest.Start(t)
	ctx := context.Background()
	kube := kubernetes.NewForConfigOrDie(s.Admin)

	if _, err := kube.CoreV1().Namespaces().Get(ctx, "default", metav1.GetOptions{}); err != nil {
		t.Fatalf("default namespace: %v", err)
	}
	sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "s1", Namespace: "default"}, StringData: map[string]string{"token": "x"}}
	got, err := kube.CoreV1().Secrets("default").Create(ctx, sec, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating secret: %v", err)
	}
	if string(got.Data["token"]) != "x" || got.Type != corev1.SecretTypeOpaque {
		t.Fatalf("secret = %+v, want data.token=x and type Opaque", got)
	}
	_, err = kube.CoreV1().ConfigMaps("nope").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "c"}}, metav1.CreateOptions{})
	if !apierrors.IsNotFound(err) {
		t.Fatalf("creating in a missing namespace: err = %v, want NotFound", err)
	}

	dc := discovery.NewDiscoveryClientForConfigOrDie(s.Admin)
	_, lists, err := dc.ServerGroupsAndResources()
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	want := map[string]bool{
		"v1/secrets": false, "v1/namespaces": false, "v1/events": false, "v1/configmaps": false,
		"coordination.k8s.io/v1/leases":    false,
		"tinyforge.dev/v1alpha1/workloads": false, "tinyforge.dev/v1alpha1/triggers": false,
		"tinyforge.dev/v1alpha1/triggerbindings": false, "tinyforge.dev/v1alpha1/events": false,
		"tinyforge.dev/v1alpha1/rollouts": false, "tinyforge.dev/v1alpha1/sourcekinds": false,
		"tinyforge.dev/v1alpha1/triggerkinds": false,
	}
	for _, l := range lists {
		for _, r := range l.APIResources {
			key := l.GroupVersion + "/" + r.Name
			if _, ok := want[key]; ok {
				want[key] = true
			}
		}
	}
	for k, seen := range want {
		if !seen {
			t.Errorf("discovery lacks %s", k)
		}
	}
	// The legacy group list, which kube-aggregator would normally keep.
	groups, err := dc.WithLegacy().ServerGroups()
	if err != nil {
		t.Fatalf("legacy discovery: %v", err)
	}
	var names []string
	for _, g := range groups.Groups {
		names = append(names, g.Name)
	}
	if !strings.Contains(strings.Join(names, ","), "tinyforge.dev") {
		t.Errorf("legacy /apis groups = %v, want tinyforge.dev", names)
	}
}

func TestAuthentication(t *testing.T) {
	s := apiservertest.Start(t)
	ctx := context.Background()
	get := func(cfg *rest.Config, path string) int {
		t.Helper()
		client, err := rest.HTTPClientFor(cfg)
		if err != nil {
			t.Fatal(err)
		}
		// A fresh CRD's watch cache answers 429 until it has synced;
		// client-go retries those, and so does this.
		code := 0
		deadline := time.Now().Add(30 * time.Second)
		for {
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+path, nil)
			resp, err := client.Do(req)
			if err != nil {
				t.Fatalf("GET %s: %v", path, err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			code = resp.StatusCode
			if code != http.StatusTooManyRequests || time.Now().After(deadline) {
				return code
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	anon := rest.AnonymousClientConfig(s.Admin)
	wrong := rest.AnonymousClientConfig(s.Admin)
	wrong.BearerToken = "not-a-token"
	tests := []struct {
		name string
		cfg  *rest.Config
		path string
		want int
	}{
		{"no token, health", anon, "/readyz", 200},
		{"no token, livez check", anon, "/livez/ping", 200},
		{"no token, API", anon, "/api/v1/namespaces", 401},
		{"no token, version", anon, "/version", 401},
		{"no token, metrics", anon, "/metrics", 401},
		{"wrong token, API", wrong, "/api/v1/namespaces", 401},
		{"wrong token, health", wrong, "/healthz", 401},
		{"admin, API", s.Admin, "/api/v1/namespaces", 200},
		{"admin, metrics", s.Admin, "/metrics", 200},
		{"viewer, list", s.Viewer, "/apis/tinyforge.dev/v1alpha1/workloads", 200},
		{"viewer, secrets", s.Viewer, "/api/v1/namespaces/default/secrets", 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := get(tt.cfg, tt.path); got != tt.want {
				t.Errorf("GET %s = %d, want %d", tt.path, got, tt.want)
			}
		})
	}

	viewer := kubernetes.NewForConfigOrDie(s.Viewer)
	_, err := viewer.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "c"}}, metav1.CreateOptions{})
	if !apierrors.IsForbidden(err) {
		t.Errorf("viewer create: err = %v, want Forbidden", err)
	}
}
