package apiserver

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apiextensionsapiserver "k8s.io/apiextensions-apiserver/pkg/apiserver"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apiserver/pkg/registry/rest"
	genericapiserver "k8s.io/apiserver/pkg/server"
	"k8s.io/klog/v2"

	"github.com/tinyforge/tinyforge/internal/apiserver/corestore"
)

// CompletedConfig is a Config whose defaults are filled in; only it can
// build a Server.
type CompletedConfig struct {
	*completedConfig
}

type completedConfig struct {
	crd  apiextensionsapiserver.CompletedConfig
	core *Config
}

// Complete fills in defaults. Discovery is switched back on: apiextensions
// turns it off because kube-aggregator normally serves /apis, and without it
// every kubectl call fails.
func (c *Config) Complete() CompletedConfig {
	crd := c.CRD.Complete()
	crd.GenericConfig.EnableDiscovery = true
	return CompletedConfig{&completedConfig{crd: crd, core: c}}
}

// Server is TinyForge's API server: CRDs and core types on one generic
// server, with etcd under it when embedded.
type Server struct {
	Generic *genericapiserver.GenericAPIServer
	crd     *apiextensionsapiserver.CustomResourceDefinitions
	cfg     *Config
}

// New builds the server and its post-start hooks: install the CRDs and wait
// until they are established, create the default namespaces, publish the
// plugin kinds. /readyz is green only once all of them have finished.
func (c CompletedConfig) New() (*Server, error) {
	crd, err := c.crd.New(genericapiserver.NewEmptyDelegate())
	if err != nil {
		return nil, fmt.Errorf("building API server: %w", err)
	}
	s := &Server{Generic: crd.GenericAPIServer, crd: crd, cfg: c.core}

	legacy, coordination, err := corestore.APIGroups(c.core.CoreRESTOptions)
	if err != nil {
		return nil, err
	}
	nsStore := legacy.VersionedResourcesStorageMap["v1"]["namespaces"].(rest.Getter)
	c.core.admission.namespaces = func(ctx context.Context, name string) (*metav1.ObjectMeta, error) {
		obj, err := nsStore.Get(ctx, name, &metav1.GetOptions{})
		if err != nil {
			return nil, err
		}
		return &obj.(*corev1.Namespace).ObjectMeta, nil
	}
	if err := s.Generic.InstallLegacyAPIGroup(genericapiserver.DefaultLegacyAPIPrefix, legacy); err != nil {
		return nil, fmt.Errorf("installing core/v1: %w", err)
	}
	if err := s.Generic.InstallAPIGroup(coordination); err != nil {
		return nil, fmt.Errorf("installing coordination.k8s.io: %w", err)
	}

	if err := newGroupDiscovery(crd).register(s.Generic); err != nil {
		return nil, err
	}
	if err := s.Generic.AddPostStartHook("tinyforge-namespace-informer", c.core.admission.startNamespaceInformer); err != nil {
		return nil, err
	}
	if err := s.Generic.AddPostStartHook("tinyforge-bootstrap", bootstrap); err != nil {
		return nil, err
	}
	return s, nil
}

// AddPostStartHook runs hook once the server serves; readiness waits for it.
func (s *Server) AddPostStartHook(name string, hook genericapiserver.PostStartHookFunc) error {
	return s.Generic.AddPostStartHook(name, hook)
}

// AddPreShutdownHook runs hook when shutdown starts, while the server still
// serves.
func (s *Server) AddPreShutdownHook(name string, hook genericapiserver.PreShutdownHookFunc) error {
	return s.Generic.AddPreShutdownHook(name, hook)
}

// Run serves until ctx is cancelled, then shuts down gracefully, closes the
// etcd client and stops the embedded etcd.
func (s *Server) Run(ctx context.Context) error {
	if s.cfg.Etcd != nil {
		defer s.cfg.Etcd.Close()
	}
	// Before etcd stops: the client would otherwise retry until its timeout.
	defer s.cfg.etcdClient.Close()
	klog.FromContext(ctx).Info("Serving the TinyForge API", "url", s.cfg.ServerURL, "kubeconfig", s.cfg.KubeconfigPath)
	return s.Generic.PrepareRun().RunWithContext(ctx)
}

// ServerURL is the address local clients use.
func (s *Server) ServerURL() string { return s.cfg.ServerURL }

// KubeconfigPath is the admin kubeconfig's path.
func (s *Server) KubeconfigPath() string { return s.cfg.KubeconfigPath }
