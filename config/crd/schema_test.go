package crd

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/cel"
	structuraldefaulting "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/defaulting"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/listtype"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/pruning"
	apiservervalidation "k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	celconfig "k8s.io/apiserver/pkg/apis/cel"
	"sigs.k8s.io/yaml"

	"github.com/tinyforge/tinyforge/api/v1alpha1"
)

// schemaValidator applies a CRD's schema the way the API server does on
// create and update: prune, default, then OpenAPI and CEL validation.
type schemaValidator struct {
	structural *structuralschema.Structural
	openAPI    apiservervalidation.SchemaValidator
	cel        *cel.Validator
}

func newSchemaValidator(t *testing.T, crd *apiextensionsv1.CustomResourceDefinition) *schemaValidator {
	t.Helper()
	internal := &apiextensions.JSONSchemaProps{}
	if err := apiextensionsv1.Convert_v1_JSONSchemaProps_To_apiextensions_JSONSchemaProps(
		crd.Spec.Versions[0].Schema.OpenAPIV3Schema, internal, nil); err != nil {
		t.Fatal(err)
	}
	structural, err := structuralschema.NewStructural(internal)
	if err != nil {
		t.Fatal(err)
	}
	openAPI, _, err := apiservervalidation.NewSchemaValidator(internal)
	if err != nil {
		t.Fatal(err)
	}
	return &schemaValidator{
		structural: structural,
		openAPI:    openAPI,
		cel:        cel.NewValidator(structural, true, celconfig.PerCallLimit),
	}
}

// admit prunes and defaults obj in place and returns the validation errors
// of creating it (old nil) or of updating old to it.
func (v *schemaValidator) admit(obj, old map[string]any) field.ErrorList {
	pruning.Prune(obj, v.structural, true)
	structuraldefaulting.Default(obj, v.structural)
	var errs field.ErrorList
	if old == nil {
		errs = apiservervalidation.ValidateCustomResource(nil, obj, v.openAPI)
	} else {
		errs = apiservervalidation.ValidateCustomResourceUpdate(nil, obj, old, v.openAPI)
	}
	errs = append(errs, listtype.ValidateListSetsAndMaps(nil, v.structural, obj)...)
	var oldObj any
	if old != nil {
		oldObj = old
	}
	celErrs, _ := v.cel.Validate(context.Background(), nil, v.structural, obj, oldObj, celconfig.RuntimeCELCostBudget)
	return append(errs, celErrs...)
}

func validatorsByKind(t *testing.T) map[string]*schemaValidator {
	t.Helper()
	crds, err := CRDs()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*schemaValidator{}
	for _, crd := range crds {
		out[crd.Spec.Names.Kind] = newSchemaValidator(t, crd)
	}
	return out
}

func readYAML(t *testing.T, path string) map[string]any {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	obj := map[string]any{}
	if err := yaml.Unmarshal(data, &obj); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return obj
}

func TestSamplesAreValid(t *testing.T) {
	validators := validatorsByKind(t)
	files, err := filepath.Glob("../samples/tinyforge_v1alpha1_*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	sampled := map[string]bool{}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			obj := readYAML(t, f)
			kind, _ := obj["kind"].(string)
			if obj["apiVersion"] != v1alpha1.GroupVersion.String() {
				t.Errorf("apiVersion %v, want %s", obj["apiVersion"], v1alpha1.GroupVersion)
			}
			v, ok := validators[kind]
			if !ok {
				t.Fatalf("no CRD for kind %q", kind)
			}
			sampled[kind] = true
			before, _ := yaml.Marshal(obj)
			for _, e := range v.admit(obj, nil) {
				t.Error(e)
			}
			after, _ := yaml.Marshal(obj)
			if len(after) < len(before) {
				t.Errorf("pruning dropped fields the schema does not know:\nbefore:\n%s\nafter:\n%s", before, after)
			}
			// The sample must also decode strictly into the Go type.
			typed, err := scheme().New(v1alpha1.GroupVersion.WithKind(kind))
			if err != nil {
				t.Fatal(err)
			}
			if err := yaml.UnmarshalStrict(after, typed); err != nil {
				t.Errorf("decoding into %T: %v", typed, err)
			}
		})
	}
	for kind := range validators {
		if kind == v1alpha1.KindSourceKind || kind == v1alpha1.KindTriggerKind {
			continue // written by the server, never by hand
		}
		if !sampled[kind] {
			t.Errorf("no sample for kind %s", kind)
		}
	}
}

func scheme() *runtime.Scheme {
	s := runtime.NewScheme()
	if err := v1alpha1.AddToScheme(s); err != nil {
		panic(err)
	}
	return s
}

// TestDefaultsMatchConstants keeps the markers in api/v1alpha1 and the
// Default* constants controllers fall back on from drifting apart.
func TestDefaultsMatchConstants(t *testing.T) {
	v := validatorsByKind(t)[v1alpha1.KindWorkload]
	obj := map[string]any{
		"apiVersion": v1alpha1.GroupVersion.String(),
		"kind":       v1alpha1.KindWorkload,
		"metadata":   map[string]any{"name": "web"},
		"spec": map[string]any{
			"source": map[string]any{"kind": "image"},
			"routes": []any{map[string]any{"port": int64(8080)}},
		},
	}
	if errs := v.admit(obj, nil); len(errs) > 0 {
		t.Fatal(errs)
	}
	data, _ := yaml.Marshal(obj)
	w := &v1alpha1.Workload{}
	if err := yaml.UnmarshalStrict(data, w); err != nil {
		t.Fatal(err)
	}
	parse := func(s string) time.Duration {
		d, err := time.ParseDuration(s)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	s := w.Spec
	for _, c := range []struct {
		name      string
		got, want any
	}{
		{"approval", s.Approval, v1alpha1.ApprovalNone},
		{"revisionHistoryLimit", *s.RevisionHistoryLimit, v1alpha1.DefaultRevisionHistoryLimit},
		{"routes[0].pathPrefix", s.Routes[0].PathPrefix, v1alpha1.DefaultPathPrefix},
		{"strategy.type", s.Strategy.Type, v1alpha1.StrategyBlueGreen},
		{"strategy.drainTimeout", s.Strategy.DrainTimeout.Duration, parse(v1alpha1.DefaultDrainTimeout)},
		{"strategy.progressDeadline", s.Strategy.ProgressDeadline.Duration, parse(v1alpha1.DefaultProgressDeadline)},
		{"healthCheck.interval", s.HealthCheck.Interval.Duration, parse(v1alpha1.DefaultHealthCheckInterval)},
		{"healthCheck.timeout", s.HealthCheck.Timeout.Duration, parse(v1alpha1.DefaultHealthCheckTimeout)},
		{"healthCheck.startPeriod", s.HealthCheck.StartPeriod.Duration, parse(v1alpha1.DefaultHealthCheckStartPeriod)},
		{"healthCheck.failureThreshold", s.HealthCheck.FailureThreshold, v1alpha1.DefaultFailureThreshold},
	} {
		if c.got != c.want {
			t.Errorf("default %s = %v, want %v", c.name, c.got, c.want)
		}
	}

	tv := validatorsByKind(t)[v1alpha1.KindTrigger]
	trigger := map[string]any{
		"apiVersion": v1alpha1.GroupVersion.String(),
		"kind":       v1alpha1.KindTrigger,
		"metadata":   map[string]any{"name": "t"},
		"spec": map[string]any{
			"kind":      "registry",
			"secretRef": map[string]any{"name": "s"},
		},
	}
	if errs := tv.admit(trigger, nil); len(errs) > 0 {
		t.Fatal(errs)
	}
	key := trigger["spec"].(map[string]any)["secretRef"].(map[string]any)["key"]
	if key != v1alpha1.DefaultTriggerSecretKey {
		t.Errorf("default secretRef.key = %v, want %q", key, v1alpha1.DefaultTriggerSecretKey)
	}
}

// TestValidationRules exercises the bounds and cross-field rules a user
// meets on create and update.
func TestValidationRules(t *testing.T) {
	validators := validatorsByKind(t)
	samples := map[string]string{
		v1alpha1.KindWorkload:       "tinyforge_v1alpha1_workload.yaml",
		v1alpha1.KindTrigger:        "tinyforge_v1alpha1_trigger.yaml",
		v1alpha1.KindTriggerBinding: "tinyforge_v1alpha1_triggerbinding.yaml",
		v1alpha1.KindEvent:          "tinyforge_v1alpha1_event.yaml",
		v1alpha1.KindRollout:        "tinyforge_v1alpha1_rollout.yaml",
	}
	sample := func(kind string) map[string]any {
		return readYAML(t, filepath.Join("../samples", samples[kind]))
	}
	spec := func(obj map[string]any) map[string]any { return obj["spec"].(map[string]any) }

	for _, tc := range []struct {
		name string
		kind string
		// edit changes the sample into the object under test; when update is
		// set, the unedited (defaulted) sample is the old object.
		edit    func(spec map[string]any)
		update  bool
		wantErr string // empty: must be valid
	}{
		{
			name:    "workload env value and valueFrom are exclusive",
			kind:    v1alpha1.KindWorkload,
			edit:    func(s map[string]any) { s["env"].([]any)[1].(map[string]any)["value"] = "x" },
			wantErr: "value and valueFrom are mutually exclusive",
		},
		{
			name: "workload duplicate env names",
			kind: v1alpha1.KindWorkload,
			edit: func(s map[string]any) {
				s["env"] = append(s["env"].([]any), map[string]any{"name": "GREETING", "value": "again"})
			},
			wantErr: "Duplicate value",
		},
		{
			name: "workload duplicate routes",
			kind: v1alpha1.KindWorkload,
			edit: func(s map[string]any) {
				s["routes"] = append(s["routes"].([]any), map[string]any{"host": "hello.localhost", "port": int64(9090)})
			},
			wantErr: "each host and pathPrefix pair may appear in one route only",
		},
		{
			name: "workload routes differing by path",
			kind: v1alpha1.KindWorkload,
			edit: func(s map[string]any) {
				s["routes"] = append(s["routes"].([]any),
					map[string]any{"host": "hello.localhost", "pathPrefix": "/api", "port": int64(9090)},
					map[string]any{"port": int64(9090)})
			},
		},
		{
			name:    "workload source kind must be a DNS label",
			kind:    v1alpha1.KindWorkload,
			edit:    func(s map[string]any) { s["source"].(map[string]any)["kind"] = "Image" },
			wantErr: "spec.source.kind",
		},
		{
			name:    "workload route port bounded",
			kind:    v1alpha1.KindWorkload,
			edit:    func(s map[string]any) { s["routes"].([]any)[0].(map[string]any)["port"] = int64(70000) },
			wantErr: "spec.routes[0].port",
		},
		{
			name:    "workload route host is a hostname",
			kind:    v1alpha1.KindWorkload,
			edit:    func(s map[string]any) { s["routes"].([]any)[0].(map[string]any)["host"] = "https://hello" },
			wantErr: "spec.routes[0].host",
		},
		{
			name:    "workload revisionHistoryLimit not negative",
			kind:    v1alpha1.KindWorkload,
			edit:    func(s map[string]any) { s["revisionHistoryLimit"] = int64(-1) },
			wantErr: "spec.revisionHistoryLimit",
		},
		{
			name:    "workload strategy type enum",
			kind:    v1alpha1.KindWorkload,
			edit:    func(s map[string]any) { s["strategy"].(map[string]any)["type"] = "Rolling" },
			wantErr: "spec.strategy.type",
		},
		{
			name:    "workload duration syntax",
			kind:    v1alpha1.KindWorkload,
			edit:    func(s map[string]any) { s["strategy"].(map[string]any)["drainTimeout"] = "30 seconds" },
			wantErr: "spec.strategy.drainTimeout",
		},
		{
			name:    "workload source config must be an object",
			kind:    v1alpha1.KindWorkload,
			edit:    func(s map[string]any) { s["source"].(map[string]any)["config"] = "image: x" },
			wantErr: "spec.source.config",
		},
		{
			name:    "trigger provider enum",
			kind:    v1alpha1.KindTrigger,
			edit:    func(s map[string]any) { s["provider"] = "bitbucket" },
			wantErr: "spec.provider",
		},
		{
			name:    "binding needs a workload",
			kind:    v1alpha1.KindTriggerBinding,
			edit:    func(s map[string]any) { delete(s, "workloadRef") },
			wantErr: "spec.workloadRef",
		},
		{
			name:    "image-push event needs image",
			kind:    v1alpha1.KindEvent,
			edit:    func(s map[string]any) { delete(s, "image") },
			wantErr: "image is required for type image-push",
		},
		{
			name:    "git-tag event needs git",
			kind:    v1alpha1.KindEvent,
			edit:    func(s map[string]any) { s["type"] = "git-tag" },
			wantErr: "git is required",
		},
		{
			name:    "event spec is immutable",
			kind:    v1alpha1.KindEvent,
			edit:    func(s map[string]any) { s["image"].(map[string]any)["tag"] = "v2" },
			update:  true,
			wantErr: "spec is immutable",
		},
		{
			name:    "rollout revision is immutable",
			kind:    v1alpha1.KindRollout,
			edit:    func(s map[string]any) { s["revision"] = "sha256:0000" },
			update:  true,
			wantErr: "revision is immutable",
		},
		{
			name:    "rollout eventRef cannot be removed",
			kind:    v1alpha1.KindRollout,
			edit:    func(s map[string]any) { delete(s, "eventRef") },
			update:  true,
			wantErr: "eventRef is immutable",
		},
		{
			name:   "rollout can be approved",
			kind:   v1alpha1.KindRollout,
			edit:   func(s map[string]any) { s["approved"] = true },
			update: true,
		},
		{
			name:    "rollout reason enum",
			kind:    v1alpha1.KindRollout,
			edit:    func(s map[string]any) { s["reason"] = "Because" },
			wantErr: "spec.reason",
		},
		{
			name:    "rollout revision bounded",
			kind:    v1alpha1.KindRollout,
			edit:    func(s map[string]any) { s["revision"] = strings.Repeat("a", v1alpha1.MaxRevisionLength+1) },
			wantErr: "spec.revision",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := validators[tc.kind]
			var old map[string]any
			if tc.update {
				old = sample(tc.kind)
				if errs := v.admit(old, nil); len(errs) > 0 {
					t.Fatal(errs)
				}
			}
			obj := sample(tc.kind)
			tc.edit(spec(obj))
			errs := v.admit(obj, old)
			if tc.wantErr == "" {
				for _, e := range errs {
					t.Error(e)
				}
				return
			}
			t.Logf("errors: %v", errs)
			if !strings.Contains(errorText(errs), tc.wantErr) {
				t.Errorf("errors %v, want one mentioning %q", errs, tc.wantErr)
			}
		})
	}

	t.Run("approval cannot be withdrawn", func(t *testing.T) {
		v := validators[v1alpha1.KindRollout]
		old := sample(v1alpha1.KindRollout)
		spec(old)["approved"] = true
		if errs := v.admit(old, nil); len(errs) > 0 {
			t.Fatal(errs)
		}
		obj := sample(v1alpha1.KindRollout)
		if errs := v.admit(obj, old); !strings.Contains(errorText(errs), "approved cannot be withdrawn") {
			t.Errorf("errors %v, want approved cannot be withdrawn", errs)
		}
	})
}

func errorText(errs field.ErrorList) string {
	if agg := errs.ToAggregate(); agg != nil {
		return agg.Error()
	}
	return ""
}
