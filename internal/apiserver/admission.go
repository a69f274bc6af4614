package apiserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/admission"
	"k8s.io/apiserver/pkg/authentication/user"
	genericapiserver "k8s.io/apiserver/pkg/server"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"

	tinyforgev1alpha1 "github.com/tinyforge/tinyforge/api/v1alpha1"
	"github.com/tinyforge/tinyforge/plugins"
)

// tinyforgeAdmission is TinyForge's whole admission chain:
//   - objects may only be created in namespaces that exist;
//   - plugin config is checked by the plugin that owns its kind, so a bad
//     config is refused at apply time with a 422 naming the field;
//   - SourceKinds and TriggerKinds are written by the server alone.
type tinyforgeAdmission struct {
	*admission.Handler
	// namespaces reads a namespace from storage; set once storage exists.
	namespaces func(ctx context.Context, name string) (*metav1.ObjectMeta, error)
	// namespaceLister caches namespaces once its informer has synced.
	namespaceLister atomic.Pointer[corelisters.NamespaceLister]
	// dynamic reads Triggers when a TriggerBinding's override is checked.
	dynamic func() (dynamic.Interface, error)
}

var (
	_ admission.ValidationInterface = (*tinyforgeAdmission)(nil)
	_ admission.MutationInterface   = (*tinyforgeAdmission)(nil)
)

// LabelRolloutWorkload is set on every Rollout to its spec.workloadRef.name,
// so the workload controller and users select a workload's Rollouts by label.
const LabelRolloutWorkload = "tinyforge.dev/workload"

// Admit labels Rollouts with their workload.
func (a *tinyforgeAdmission) Admit(_ context.Context, attr admission.Attributes, _ admission.ObjectInterfaces) error {
	if attr.GetSubresource() != "" || (attr.GetOperation() != admission.Create && attr.GetOperation() != admission.Update) {
		return nil
	}
	obj, ok := attr.GetObject().(*unstructured.Unstructured)
	if !ok {
		return nil
	}
	switch attr.GetKind().GroupKind() {
	case rolloutKind:
		labelRollout(obj)
	case eventKind:
		if attr.GetOperation() == admission.Create {
			stampManualUser(obj, attr)
		}
	}
	return nil
}

// labelRollout labels a Rollout with its workload, for selectors.
func labelRollout(obj *unstructured.Unstructured) {
	name, _, _ := unstructured.NestedString(obj.Object, "spec", "workloadRef", "name")
	if name == "" {
		return
	}
	labels := obj.GetLabels()
	if labels == nil {
		labels = map[string]string{}
	}
	labels[LabelRolloutWorkload] = name
	obj.SetLabels(labels)
}

// stampManualUser records who asked for a manual deploy, as this server
// authenticated them, over whatever the client wrote: the audit trail of
// `forgectl deploy` cannot be forged.
func stampManualUser(obj *unstructured.Unstructured, attr admission.Attributes) {
	if typ, _, _ := unstructured.NestedString(obj.Object, "spec", "type"); typ != string(tinyforgev1alpha1.EventTypeManual) {
		return
	}
	user := ""
	if u := attr.GetUserInfo(); u != nil {
		user = u.GetName()
	}
	if len(user) > 256 {
		user = user[:256]
	}
	if _, found, _ := unstructured.NestedMap(obj.Object, "spec", "manual"); !found {
		_ = unstructured.SetNestedMap(obj.Object, map[string]any{}, "spec", "manual")
	}
	_ = unstructured.SetNestedField(obj.Object, user, "spec", "manual", "user")
}

func newAdmission() *tinyforgeAdmission {
	return &tinyforgeAdmission{
		Handler: admission.NewHandler(admission.Create, admission.Update, admission.Delete),
	}
}

var (
	workloadKind       = tinyforgev1alpha1.GroupVersion.WithKind(tinyforgev1alpha1.KindWorkload).GroupKind()
	triggerKind        = tinyforgev1alpha1.GroupVersion.WithKind(tinyforgev1alpha1.KindTrigger).GroupKind()
	triggerBindingKind = tinyforgev1alpha1.GroupVersion.WithKind(tinyforgev1alpha1.KindTriggerBinding).GroupKind()
	sourceKindKind     = tinyforgev1alpha1.GroupVersion.WithKind(tinyforgev1alpha1.KindSourceKind).GroupKind()
	triggerKindKind    = tinyforgev1alpha1.GroupVersion.WithKind(tinyforgev1alpha1.KindTriggerKind).GroupKind()
	rolloutKind        = tinyforgev1alpha1.GroupVersion.WithKind(tinyforgev1alpha1.KindRollout).GroupKind()
	eventKind          = tinyforgev1alpha1.GroupVersion.WithKind(tinyforgev1alpha1.KindEvent).GroupKind()
	triggersResource   = tinyforgev1alpha1.GroupVersion.WithResource("triggers")
	namespacesResource = schema.GroupResource{Resource: "namespaces"}
	// protectedNamespaces hold the server's own objects.
	protectedNamespaces = map[string]bool{metav1.NamespaceDefault: true, SystemNamespace: true}
)

// Validate implements admission.ValidationInterface.
func (a *tinyforgeAdmission) Validate(ctx context.Context, attr admission.Attributes, _ admission.ObjectInterfaces) error {
	gk := attr.GetKind().GroupKind()
	if gk == sourceKindKind || gk == triggerKindKind {
		return a.serverOnly(attr)
	}
	if attr.GetOperation() == admission.Delete {
		if attr.GetResource().GroupResource() == namespacesResource && protectedNamespaces[attr.GetName()] {
			return apierrors.NewForbidden(namespacesResource, attr.GetName(), errors.New("this namespace is part of TinyForge and cannot be deleted"))
		}
		return nil
	}
	if attr.GetSubresource() != "" {
		return nil
	}
	if attr.GetOperation() == admission.Create && attr.GetNamespace() != "" && attr.GetResource().Resource != "namespaces" {
		if err := a.namespaceExists(ctx, attr.GetNamespace()); err != nil {
			return err
		}
	}
	obj, ok := attr.GetObject().(*unstructured.Unstructured)
	if !ok {
		return nil
	}
	var errs field.ErrorList
	switch gk {
	case workloadKind:
		errs = validatePluginConfig(obj, field.NewPath("spec", "source"), plugins.LookupSource, plugins.SourceKinds)
	case triggerKind:
		errs = validatePluginConfig(obj, field.NewPath("spec"), plugins.LookupTrigger, plugins.TriggerKinds)
	case triggerBindingKind:
		errs = a.validateBinding(ctx, obj)
	default:
		return nil
	}
	if len(errs) > 0 {
		return apierrors.NewInvalid(gk, obj.GetName(), errs)
	}
	return nil
}

// serverOnly lets only the server's own loopback client write plugin kinds.
func (a *tinyforgeAdmission) serverOnly(attr admission.Attributes) error {
	if u := attr.GetUserInfo(); u != nil && u.GetName() == user.APIServerUser {
		return nil
	}
	return apierrors.NewForbidden(attr.GetResource().GroupResource(), attr.GetName(),
		errors.New("plugin kinds are published by the server from its registered plugins and are read-only"))
}

func (a *tinyforgeAdmission) namespaceExists(ctx context.Context, ns string) error {
	m, err := a.namespace(ctx, ns)
	if apierrors.IsNotFound(err) {
		return apierrors.NewNotFound(namespacesResource, ns)
	}
	if err != nil {
		return apierrors.NewInternalError(fmt.Errorf("checking namespace %q: %w", ns, err))
	}
	if m.DeletionTimestamp != nil {
		return apierrors.NewForbidden(namespacesResource, ns, fmt.Errorf("namespace %s is being terminated", ns))
	}
	return nil
}

// namespace reads a namespace from the informer's cache, or from storage
// when the cache is not running yet or has not seen it (just created).
func (a *tinyforgeAdmission) namespace(ctx context.Context, name string) (*metav1.ObjectMeta, error) {
	if l := a.namespaceLister.Load(); l != nil {
		if ns, err := (*l).Get(name); err == nil {
			return &ns.ObjectMeta, nil
		}
	}
	if a.namespaces == nil {
		return &metav1.ObjectMeta{Name: name}, nil
	}
	return a.namespaces(ctx, name)
}

// startNamespaceInformer feeds the namespace cache once the server serves.
func (a *tinyforgeAdmission) startNamespaceInformer(hc genericapiserver.PostStartHookContext) error {
	kube, err := kubernetes.NewForConfig(hc.LoopbackClientConfig)
	if err != nil {
		return err
	}
	f := informers.NewSharedInformerFactory(kube, 0)
	lister := f.Core().V1().Namespaces().Lister()
	f.Start(hc.Done())
	go func() {
		f.WaitForCacheSync(hc.Done())
		a.namespaceLister.Store(&lister)
	}()
	return nil
}

// pluginValidator is what a source or trigger plugin offers admission.
type pluginValidator interface {
	Validate(path *field.Path, config []byte) field.ErrorList
}

// validatePluginConfig checks base.kind against the registry and base.config
// with the plugin's Validate.
func validatePluginConfig[P pluginValidator](obj *unstructured.Unstructured, base *field.Path, lookup func(string) (P, error), known func() []string) field.ErrorList {
	kindPath := base.Child("kind")
	kind, _, _ := unstructured.NestedString(obj.Object, pathElems(kindPath)...)
	p, err := lookup(kind)
	if err != nil {
		if len(known()) == 0 {
			return field.ErrorList{field.Invalid(kindPath, kind, "no plugin of this sort is built into this server")}
		}
		return field.ErrorList{field.NotSupported(kindPath, kind, known())}
	}
	configPath := base.Child("config")
	config, err := nestedJSON(obj, configPath)
	if err != nil {
		return field.ErrorList{field.Invalid(configPath, "", err.Error())}
	}
	return p.Validate(configPath, config)
}

// validateBinding checks the binding's override merged over its Trigger's
// config. A Trigger that does not exist yet is not an error here: the
// binding controller reports it, and checks again once it appears.
func (a *tinyforgeAdmission) validateBinding(ctx context.Context, obj *unstructured.Unstructured) field.ErrorList {
	configPath := field.NewPath("spec", "config")
	override, err := nestedJSON(obj, configPath)
	if err != nil {
		return field.ErrorList{field.Invalid(configPath, "", err.Error())}
	}
	triggerName, _, _ := unstructured.NestedString(obj.Object, "spec", "triggerRef", "name")
	if triggerName == "" || a.dynamic == nil {
		return nil
	}
	dc, err := a.dynamic()
	if err != nil {
		return field.ErrorList{field.InternalError(configPath, err)}
	}
	trig, err := dc.Resource(triggersResource).Namespace(obj.GetNamespace()).Get(ctx, triggerName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return field.ErrorList{field.InternalError(configPath, fmt.Errorf("reading trigger %q: %w", triggerName, err))}
	}
	kind, _, _ := unstructured.NestedString(trig.Object, "spec", "kind")
	p, err := plugins.LookupTrigger(kind)
	if err != nil {
		return field.ErrorList{field.Invalid(field.NewPath("spec", "triggerRef", "name"), triggerName, err.Error())}
	}
	base, err := nestedJSON(trig, field.NewPath("spec", "config"))
	if err != nil {
		return field.ErrorList{field.Invalid(configPath, "", fmt.Sprintf("trigger %q: %v", triggerName, err))}
	}
	merged, err := plugins.MergeConfig(base, override)
	if err != nil {
		return field.ErrorList{field.Invalid(configPath, "", err.Error())}
	}
	return p.Validate(configPath, merged)
}

// nestedJSON returns the JSON at path in obj, or nil when it is absent.
func nestedJSON(obj *unstructured.Unstructured, path *field.Path) ([]byte, error) {
	v, found, err := unstructured.NestedFieldNoCopy(obj.Object, pathElems(path)...)
	if err != nil || !found || v == nil {
		return nil, err
	}
	return json.Marshal(v)
}

// pathElems turns a field path of plain children ("spec.source.kind") into
// its elements.
func pathElems(p *field.Path) []string {
	return strings.Split(p.String(), ".")
}
