package apiserver_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"

	tinyforgev1alpha1 "github.com/tinyforge/tinyforge/api/v1alpha1"
	"github.com/tinyforge/tinyforge/internal/apiserver/apiservertest"
	"github.com/tinyforge/tinyforge/plugins"
)

// testSource and testTrigger are plugins registered by this test binary only:
// the real plugins arrive with their own packages.
type testSource struct{ plugins.Source }

func (testSource) Kind() string { return "testsrc" }

type testSourceConfig struct {
	Image string `json:"image"`
	Port  int    `json:"port,omitempty"`
}

func (testSource) Validate(path *field.Path, config []byte) field.ErrorList {
	var c testSourceConfig
	if errs := plugins.DecodeStrict(path, config, &c); len(errs) > 0 {
		return errs
	}
	var errs field.ErrorList
	if c.Image == "" {
		errs = append(errs, field.Required(path.Child("image"), "an image reference is required"))
	}
	if c.Port < 0 || c.Port > 65535 {
		errs = append(errs, field.Invalid(path.Child("port"), c.Port, "must be a port number"))
	}
	return errs
}

func (testSource) Description() string { return "A source that only validates, for tests." }
func (testSource) Schema() []byte {
	return []byte(`{"type":"object","properties":{"image":{"type":"string"}}}`)
}
func (testSource) Sample() []byte { return []byte(`{"image":"example:v1"}`) }

type testTrigger struct{ plugins.Trigger }

func (testTrigger) Kind() string { return "testtrig" }

func (testTrigger) Validate(path *field.Path, config []byte) field.ErrorList {
	var c struct {
		Branch string `json:"branch"`
	}
	if errs := plugins.DecodeStrict(path, config, &c); len(errs) > 0 {
		return errs
	}
	if strings.Contains(c.Branch, " ") {
		return field.ErrorList{field.Invalid(path.Child("branch"), c.Branch, "must not contain spaces")}
	}
	return nil
}

func init() {
	plugins.RegisterSource(testSource{})
	plugins.RegisterTrigger(testTrigger{})
}

var (
	workloads       = tinyforgev1alpha1.GroupVersion.WithResource("workloads")
	triggers        = tinyforgev1alpha1.GroupVersion.WithResource("triggers")
	triggerBindings = tinyforgev1alpha1.GroupVersion.WithResource("triggerbindings")
	sourceKinds     = tinyforgev1alpha1.GroupVersion.WithResource("sourcekinds")
)

func obj(t *testing.T, kind, name, spec string) *unstructured.Unstructured {
	t.Helper()
	u := &unstructured.Unstructured{}
	u.SetAPIVersion(tinyforgev1alpha1.GroupVersion.String())
	u.SetKind(kind)
	u.SetName(name)
	u.SetNamespace("default")
	var m map[string]any
	if err := json.Unmarshal([]byte(spec), &m); err != nil {
		t.Fatalf("spec %s: %v", spec, err)
	}
	u.Object["spec"] = m
	return u
}

func TestAdmissionValidatesPluginConfig(t *testing.T) {
	s := apiservertest.Start(t)
	ctx := context.Background()
	dc := dynamic.NewForConfigOrDie(s.Admin)

	// A trigger for the binding cases to merge over.
	if _, err := dc.Resource(triggers).Namespace("default").Create(ctx,
		obj(t, "Trigger", "main", `{"kind":"testtrig","config":{"branch":"main"}}`), metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating trigger: %v", err)
	}

	tests := []struct {
		name      string
		gvr       schema.GroupVersionResource
		obj       *unstructured.Unstructured
		wantField string // the 422's cause; empty means accepted
		wantMsg   string
	}{
		{name: "valid workload", gvr: workloads,
			obj: obj(t, "Workload", "ok", `{"source":{"kind":"testsrc","config":{"image":"web:v1","port":8080}}}`)},
		{name: "missing required config field", gvr: workloads,
			obj:       obj(t, "Workload", "noimage", `{"source":{"kind":"testsrc","config":{"port":8080}}}`),
			wantField: "spec.source.config.image", wantMsg: "an image reference is required"},
		{name: "bad config value", gvr: workloads,
			obj:       obj(t, "Workload", "badport", `{"source":{"kind":"testsrc","config":{"image":"web:v1","port":70000}}}`),
			wantField: "spec.source.config.port", wantMsg: "must be a port number"},
		{name: "unknown config key", gvr: workloads,
			obj:       obj(t, "Workload", "typo", `{"source":{"kind":"testsrc","config":{"image":"web:v1","imagePullPolcy":"x"}}}`),
			wantField: "spec.source.config.imagePullPolcy", wantMsg: `supported values: "image", "port"`},
		{name: "unknown source kind lists the known ones", gvr: workloads,
			obj:       obj(t, "Workload", "nokind", `{"source":{"kind":"helm","config":{}}}`),
			wantField: "spec.source.kind", wantMsg: `"testsrc"`},
		{name: "bad trigger config", gvr: triggers,
			obj:       obj(t, "Trigger", "bad", `{"kind":"testtrig","config":{"branch":"a b"}}`),
			wantField: "spec.config.branch", wantMsg: "must not contain spaces"},
		{name: "unknown trigger kind", gvr: triggers,
			obj:       obj(t, "Trigger", "nokind", `{"kind":"svn","config":{}}`),
			wantField: "spec.kind", wantMsg: `"testtrig"`},
		{name: "binding override merged over its trigger", gvr: triggerBindings,
			obj:       obj(t, "TriggerBinding", "badoverride", `{"triggerRef":{"name":"main"},"workloadRef":{"name":"ok"},"config":{"branch":"x y"}}`),
			wantField: "spec.config.branch", wantMsg: "must not contain spaces"},
		{name: "valid binding override", gvr: triggerBindings,
			obj: obj(t, "TriggerBinding", "okoverride", `{"triggerRef":{"name":"main"},"workloadRef":{"name":"ok"},"config":{"branch":"release"}}`)},
		{name: "binding to a trigger that does not exist yet", gvr: triggerBindings,
			obj: obj(t, "TriggerBinding", "later", `{"triggerRef":{"name":"later"},"workloadRef":{"name":"ok"},"config":{"branch":"x y"}}`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := dc.Resource(tt.gvr).Namespace("default").Create(ctx, tt.obj, metav1.CreateOptions{})
			if tt.wantField == "" {
				if err != nil {
					t.Fatalf("create: %v", err)
				}
				return
			}
			if !apierrors.IsInvalid(err) {
				t.Fatalf("create: err = %v, want 422 Invalid", err)
			}
			status := err.(apierrors.APIStatus).Status()
			if status.Code != 422 {
				t.Errorf("code = %d, want 422", status.Code)
			}
			var found bool
			for _, c := range status.Details.Causes {
				if c.Field == tt.wantField && strings.Contains(c.Message, tt.wantMsg) {
					found = true
				}
			}
			if !found {
				t.Errorf("causes = %+v, want field %s with %q", status.Details.Causes, tt.wantField, tt.wantMsg)
			}
		})
	}

	// An update is checked like a create.
	w, err := dc.Resource(workloads).Namespace("default").Get(ctx, "ok", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := unstructured.SetNestedField(w.Object, "", "spec", "source", "config", "image"); err != nil {
		t.Fatal(err)
	}
	if _, err := dc.Resource(workloads).Namespace("default").Update(ctx, w, metav1.UpdateOptions{}); !apierrors.IsInvalid(err) {
		t.Errorf("update with a bad config: err = %v, want 422 Invalid", err)
	}
}

func TestPluginKindsArePublishedAndReadOnly(t *testing.T) {
	s := apiservertest.Start(t)
	ctx := context.Background()
	dc := dynamic.NewForConfigOrDie(s.Admin)

	// Kinds are published right after the server turns ready.
	var sk *unstructured.Unstructured
	err := wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		var err error
		sk, err = dc.Resource(sourceKinds).Get(ctx, "testsrc", metav1.GetOptions{})
		return err == nil, nil
	})
	if err != nil {
		t.Fatalf("sourcekind testsrc never published: %v", err)
	}
	desc, _, _ := unstructured.NestedString(sk.Object, "spec", "description")
	sample, _, _ := unstructured.NestedMap(sk.Object, "spec", "sample")
	if desc == "" || sample["image"] != "example:v1" {
		t.Errorf("sourcekind spec = %v, want the plugin's description and sample", sk.Object["spec"])
	}
	if _, err := dc.Resource(sourceKinds).Get(ctx, "image", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("sourcekind of an unregistered plugin: err = %v, want NotFound", err)
	}
	if err := dc.Resource(sourceKinds).Delete(ctx, "testsrc", metav1.DeleteOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("admin deleting a sourcekind: err = %v, want Forbidden", err)
	}
	sk.Object["spec"].(map[string]any)["description"] = "changed"
	if _, err := dc.Resource(sourceKinds).Update(ctx, sk, metav1.UpdateOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("admin updating a sourcekind: err = %v, want Forbidden", err)
	}
}
