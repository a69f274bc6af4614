package plugins_test

import (
	"context"
	"errors"
	"fmt"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/tinyforge/tinyforge/plugins"
)

// helloSource is a source plugin reduced to its shape: a real one lives in
// its own package under plugins/ and talks to deps.Docker.
type helloSource struct{}

// Compile-time check that helloSource is a Source.
var _ plugins.Source = helloSource{}

// helloConfig is the config helloSource accepts.
type helloConfig struct {
	Greeting string `json:"greeting"`
}

func (helloSource) Kind() string { return "hello" }

func (helloSource) Validate(path *field.Path, config []byte) field.ErrorList {
	var cfg helloConfig
	errs := plugins.DecodeStrict(path, config, &cfg)
	if len(errs) == 0 && cfg.Greeting == "" {
		errs = append(errs, field.Required(path.Child("greeting"), ""))
	}
	return errs
}

func (helloSource) Deploy(ctx context.Context, deps plugins.Deps, w plugins.Workload, intent plugins.DeploymentIntent) (plugins.DeployResult, error) {
	return plugins.DeployResult{Revision: intent.Revision, Message: "said hello"}, nil
}

func (helloSource) Reconcile(ctx context.Context, deps plugins.Deps, w plugins.Workload) (plugins.ReconcileResult, error) {
	return plugins.ReconcileResult{Healthy: true}, nil
}

func (helloSource) Teardown(ctx context.Context, deps plugins.Deps, w plugins.Workload) error {
	return nil
}

// A plugin package registers its plugins in init; the binary blank-imports
// the package, and a duplicate kind stops it at start.
func init() {
	plugins.RegisterSource(helloSource{})
}

func Example() {
	src, err := plugins.LookupSource("hello")
	if err != nil {
		fmt.Println(err)
		return
	}
	path := field.NewPath("spec", "source", "config")
	fmt.Println(src.Kind(), src.Validate(path, []byte(`{"greeting":"hi"}`)))
	fmt.Println(src.Validate(path, []byte(`{"greting":"hi"}`)).ToAggregate())

	// The error lists the known kinds (see ExampleNewRegistry).
	_, err = plugins.LookupSource("goodbye")
	fmt.Println(errors.Is(err, plugins.ErrUnknownKind))
	// Output:
	// hello []
	// spec.source.config.greting: Unsupported value: "greting": supported values: "greeting"
	// true
}

// A registry of its own keeps a test away from the process-wide ones.
func ExampleNewRegistry() {
	reg := plugins.NewRegistry[plugins.Source]("source")
	reg.Register(helloSource{})
	fmt.Println(reg.Kinds())
	_, err := reg.Lookup("image")
	fmt.Println(err)
	// Output:
	// [hello]
	// unknown source kind "image" (known kinds: hello)
}

func ExampleMergeConfig() {
	trigger := []byte(`{"repository":"registry.local/web","tagPolicy":{"semver":">=1.0.0"},"platform":"linux/amd64"}`)
	binding := []byte(`{"tagPolicy":{"exact":"staging"},"platform":null}`)
	merged, err := plugins.MergeConfig(trigger, binding)
	fmt.Println(string(merged), err)
	// Output:
	// {"repository":"registry.local/web","tagPolicy":{"exact":"staging"}} <nil>
}
