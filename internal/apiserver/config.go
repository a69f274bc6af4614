package apiserver

import (
	"context"
	"fmt"
	"net"
	"os"
	"strconv"
	"sync"

	noopoteltrace "go.opentelemetry.io/otel/trace/noop"
	apiextensionsapiserver "k8s.io/apiextensions-apiserver/pkg/apiserver"
	crdoptions "k8s.io/apiextensions-apiserver/pkg/cmd/server/options"
	openapinamer "k8s.io/apiserver/pkg/endpoints/openapi"
	"k8s.io/apiserver/pkg/registry/generic"
	genericapiserver "k8s.io/apiserver/pkg/server"
	genericoptions "k8s.io/apiserver/pkg/server/options"
	etcdmetrics "k8s.io/apiserver/pkg/storage/etcd3/metrics"
	"k8s.io/apiserver/pkg/util/webhook"
	"k8s.io/client-go/dynamic"
	netutils "k8s.io/utils/net"

	"github.com/tinyforge/tinyforge/internal/apiserver/corestore"
	"github.com/tinyforge/tinyforge/internal/datadir"
)

// Config is everything the API server needs to start, with etcd already up.
type Config struct {
	CRD *apiextensionsapiserver.Config
	// CoreRESTOptions backs the core types with the same etcd as the CRDs.
	CoreRESTOptions generic.RESTOptionsGetter
	// Etcd is the embedded etcd, nil with --etcd-servers.
	Etcd *EmbeddedEtcd
	// KubeconfigPath is where the admin kubeconfig was written.
	KubeconfigPath string
	// ServerURL is how local clients reach the API.
	ServerURL string

	admission *tinyforgeAdmission
	// etcdClient is every resource's connection to etcd; Run closes it.
	etcdClient *etcdClient
}

// Config prepares the data directory (TLS, tokens, kubeconfig), starts the
// embedded etcd unless an external one is configured, and builds the server
// configuration by hand: the apiextensions options' own Config() wants a core
// informer factory, which a standalone server does not have.
func (o *Options) Config(ctx context.Context) (_ *Config, err error) {
	if err := os.MkdirAll(o.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("creating data dir: %w", err)
	}
	rec := o.CRD.RecommendedOptions
	dns, ips := o.sans()
	ips = append(ips, netutils.ParseIPSloppy("127.0.0.1"))
	if err := rec.SecureServing.MaybeDefaultWithSelfSignedCerts("localhost", dns, ips); err != nil {
		return nil, fmt.Errorf("creating self-signed serving certificate: %w", err)
	}
	admin, viewer, err := ensureTokens(o.TokenFile)
	if err != nil {
		return nil, err
	}

	// cfg is not the named result: `return nil, err` must not hide the
	// etcd this function started from the cleanup below.
	cfg := &Config{}
	defer func() {
		if err != nil && cfg.etcdClient != nil {
			cfg.etcdClient.Close()
		}
		if err != nil && cfg.Etcd != nil {
			cfg.Etcd.Close()
		}
	}()
	transport := &rec.Etcd.StorageConfig.Transport
	if len(o.EtcdServers) > 0 {
		transport.ServerList = o.EtcdServers
		transport.TrustedCAFile, transport.CertFile, transport.KeyFile = o.EtcdCAFile, o.EtcdCertFile, o.EtcdKeyFile
	} else {
		pki, err := ensureEtcdPKI(o.DataDir)
		if err != nil {
			return nil, err
		}
		if cfg.Etcd, err = StartEmbeddedEtcd(ctx, o.DataDir, o.EtcdClientPort, o.EtcdPeerPort, pki); err != nil {
			return nil, err
		}
		transport.ServerList = []string{cfg.Etcd.ClientURL}
		transport.TrustedCAFile, transport.CertFile, transport.KeyFile = pki.CA, pki.ClientCert, pki.ClientKey
	}

	gc := genericapiserver.NewRecommendedConfig(apiextensionsapiserver.Codecs)
	if err := o.CRD.ServerRunOptions.ApplyTo(&gc.Config); err != nil {
		return nil, err
	}
	// The health checks and the size metric use the shared client below,
	// not clients of their own.
	rec.Etcd.SkipHealthEndpoints = true
	if err := rec.Etcd.ApplyTo(&gc.Config); err != nil {
		return nil, err
	}
	if cfg.etcdClient, err = newEtcdClient(rec.Etcd.StorageConfig, cfg.Etcd); err != nil {
		return nil, err
	}
	cfg.etcdClient.addHealthChecks(&gc.Config, rec.Etcd.StorageConfig)
	monitor := etcdMonitor{cfg.etcdClient}
	etcdmetrics.SetStorageMonitorGetter(func() ([]etcdmetrics.Monitor, error) { return []etcdmetrics.Monitor{monitor}, nil })
	watchCache := rec.Etcd.EnableWatchCache
	gc.RESTOptionsGetter = onSharedEtcd(gc.RESTOptionsGetter, cfg.etcdClient, watchCache)
	if err := rec.SecureServing.ApplyToConfig(&gc.Config); err != nil {
		return nil, err
	}
	if err := rec.Features.ApplyTo(&gc.Config, nil, nil); err != nil {
		return nil, err
	}
	if err := o.CRD.APIEnablement.ApplyTo(&gc.Config, apiextensionsapiserver.DefaultAPIResourceConfigSource(), apiextensionsapiserver.Scheme); err != nil {
		return nil, err
	}
	if gc.Authentication.Authenticator, err = newAuthenticator(o.TokenFile); err != nil {
		return nil, err
	}
	if gc.Authorization.Authorizer, err = newAuthorizer(); err != nil {
		return nil, err
	}
	cfg.admission = newAdmission()
	loopback := gc.LoopbackClientConfig
	cfg.admission.dynamic = sync.OnceValues(func() (dynamic.Interface, error) { return dynamic.NewForConfig(loopback) })
	gc.AdmissionControl = cfg.admission
	namer := openapinamer.NewDefinitionNamer(apiextensionsapiserver.Scheme, corestore.Scheme)
	openAPIDefinitions := newOpenAPIDefinitions()
	gc.OpenAPIConfig = genericapiserver.DefaultOpenAPIConfig(openAPIDefinitions, namer)
	gc.OpenAPIConfig.Info.Title = "TinyForge"
	gc.OpenAPIV3Config = genericapiserver.DefaultOpenAPIV3Config(openAPIDefinitions, namer)
	gc.OpenAPIV3Config.Info.Title = "TinyForge"

	cfg.CRD = &apiextensionsapiserver.Config{
		GenericConfig: gc,
		ExtraConfig: apiextensionsapiserver.ExtraConfig{
			CRDRESTOptionsGetter: onSharedEtcd(crdoptions.NewCRDRESTOptionsGetter(*rec.Etcd, gc.ResourceTransformers, gc.StorageObjectCountTracker), cfg.etcdClient, watchCache, tinyforgeEvents),
			// Conversion webhooks are not used: TinyForge's CRDs have one version.
			ServiceResolver:     noServices{},
			AuthResolverWrapper: webhook.NewDefaultAuthenticationInfoResolverWrapper(nil, nil, gc.LoopbackClientConfig, noopoteltrace.NewTracerProvider()),
		},
	}
	cfg.CoreRESTOptions = onSharedEtcd(coreRESTOptions(*rec.Etcd, gc), cfg.etcdClient, watchCache, coreEvents)

	host := rec.SecureServing.BindAddress
	if host.IsUnspecified() {
		host = netutils.ParseIPSloppy("127.0.0.1")
	}
	cfg.ServerURL = "https://" + net.JoinHostPort(host.String(), strconv.Itoa(rec.SecureServing.BindPort))
	caPEM, err := os.ReadFile(rec.SecureServing.ServerCert.CertKey.CertFile)
	if err != nil {
		return nil, fmt.Errorf("reading serving certificate: %w", err)
	}
	cfg.KubeconfigPath = datadir.Kubeconfig(o.DataDir)
	if err := writeKubeconfig(cfg.KubeconfigPath, cfg.ServerURL, caPEM, admin, viewer); err != nil {
		return nil, err
	}
	return cfg, nil
}

// coreRESTOptions is the CRDs' etcd configuration with the core types' codec.
func coreRESTOptions(etcd genericoptions.EtcdOptions, gc *genericapiserver.RecommendedConfig) generic.RESTOptionsGetter {
	sc := etcd.StorageConfig
	sc.Codec = corestore.Codecs.LegacyCodec(corestore.Versions...)
	sc.StorageObjectCountTracker = gc.StorageObjectCountTracker
	etcd.StorageConfig = sc
	return etcd.CreateRESTOptionsGetter(&genericoptions.SimpleStorageFactory{StorageConfig: sc}, gc.ResourceTransformers)
}
