package apiserver

import (
	"context"
	"fmt"
	"net/http"
	"path"
	"sync"
	"time"

	"go.etcd.io/etcd/client/pkg/v3/logutil"
	"go.etcd.io/etcd/client/pkg/v3/transport"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/kubernetes"
	"go.etcd.io/etcd/server/v3/etcdserver/api/v3client"
	"go.uber.org/zap/zapcore"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/metadata"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	genericfeatures "k8s.io/apiserver/pkg/features"
	"k8s.io/apiserver/pkg/registry/generic"
	genericapiserver "k8s.io/apiserver/pkg/server"
	"k8s.io/apiserver/pkg/server/healthz"
	"k8s.io/apiserver/pkg/storage"
	cacherstorage "k8s.io/apiserver/pkg/storage/cacher"
	"k8s.io/apiserver/pkg/storage/etcd3"
	"k8s.io/apiserver/pkg/storage/etcd3/metrics"
	"k8s.io/apiserver/pkg/storage/storagebackend"
	"k8s.io/apiserver/pkg/storage/storagebackend/factory"
	"k8s.io/apiserver/pkg/storage/value/encrypt/identity"
	utilfeature "k8s.io/apiserver/pkg/util/feature"
	"k8s.io/client-go/tools/cache"
)

// The etcd client's timeouts, those of k8s.io/apiserver's storage factory.
const (
	etcdDialTimeout      = 20 * time.Second
	etcdKeepaliveTime    = 30 * time.Second
	etcdKeepaliveTimeout = 10 * time.Second
)

// etcdClient is the one etcd connection that every resource's storage, the
// compactor, the health checks and the database size metric share.
// k8s.io/apiserver's storage factory opens a client per resource, each a
// gRPC connection with its own goroutines and buffers, and more for the
// compactor and the health checks: 17 for TinyForge's resources, some
// 5 MiB and 240 goroutines of an idle server. A kube-apiserver has a
// hundred resources and several etcds to spread them on; TinyForge has a
// dozen and one etcd.
type etcdClient struct {
	client *kubernetes.Client
	// local, with the embedded etcd, calls it in-process for everything,
	// watches included, for the resources served without a watch cache:
	// Events, whose every create and status update is a watch event for
	// the controllers. Their watches never ask for progress notifications,
	// which is what in-process watches got wrong (see newEtcdClient).
	local         *kubernetes.Client
	prefix        string
	compactor     etcd3.Compactor
	stopCompactor func()
	closeOnce     sync.Once
}

// newEtcdClient connects to the etcd of sc.Transport and starts the
// compactor when sc asks for compaction.
//
// With the embedded etcd, the client's reads and writes call the etcd
// server's KV service in this process instead, with no socket, TLS, HTTP/2
// framing or protobuf encoding in between: a third more API creates per
// second on the 2-CPU test machine. The watches of cached resources stay on
// the connection: with etcd's in-process watch adapter (v3client), the
// watch caches of idle resources stopped getting progress notifications
// under a heavy write load, and their consistent reads timed out ("Too
// large resource version"). The embedded etcd's TLS port stays open for
// etcdctl and backups.
func newEtcdClient(sc storagebackend.Config, embedded *EmbeddedEtcd) (*etcdClient, error) {
	client, err := dialEtcd(sc)
	if err != nil {
		return nil, err
	}
	c := &etcdClient{client: client, prefix: sc.Prefix, stopCompactor: func() {}}
	// Every request's latency lands in etcd_request_duration_seconds, as
	// with the storage factory's clients.
	if embedded != nil {
		local := &kubernetes.Client{Client: v3client.New(embedded.etcd.Server)}
		local.Kubernetes = local
		local.KV = etcd3.NewETCDLatencyTracker(local.KV)
		client.KV = local.KV
		c.local = local
	} else {
		client.KV = etcd3.NewETCDLatencyTracker(client.KV)
	}
	if sc.CompactionInterval > 0 {
		compactor := etcd3.StartCompactorPerEndpoint(client.Client, sc.CompactionInterval)
		c.compactor, c.stopCompactor = compactor, compactor.Stop
	}
	return c, nil
}

// dialEtcd connects to the etcd cluster of sc.Transport.
func dialEtcd(sc storagebackend.Config) (*kubernetes.Client, error) {
	tlsInfo := transport.TLSInfo{CertFile: sc.Transport.CertFile, KeyFile: sc.Transport.KeyFile, TrustedCAFile: sc.Transport.TrustedCAFile}
	tlsConfig, err := tlsInfo.ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("etcd client TLS: %w", err)
	}
	if tlsInfo.Empty() && tlsInfo.TrustedCAFile == "" {
		tlsConfig = nil // plain http:// endpoints
	}
	logger, err := logutil.CreateDefaultZapLogger(zapcore.InfoLevel)
	if err != nil {
		return nil, fmt.Errorf("etcd client logger: %w", err)
	}
	client, err := kubernetes.New(clientv3.Config{
		Endpoints:            sc.Transport.ServerList,
		TLS:                  tlsConfig,
		DialTimeout:          etcdDialTimeout,
		DialKeepAliveTime:    etcdKeepaliveTime,
		DialKeepAliveTimeout: etcdKeepaliveTimeout,
		Logger:               logger.Named("etcd-client"),
	})
	if err != nil {
		return nil, fmt.Errorf("connecting to etcd %v: %w", sc.Transport.ServerList, err)
	}
	if err := waitUntilConnected(client.Client, etcdDialTimeout); err != nil {
		_ = client.Close()
		return nil, fmt.Errorf("connecting to etcd %v: %w", sc.Transport.ServerList, err)
	}
	return client, nil
}

// waitUntilConnected waits for the client's gRPC connection to be ready,
// so that a wrong address or certificate fails the start, not the first
// request.
func waitUntilConnected(client *clientv3.Client, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	conn := client.ActiveConnection()
	if conn == nil {
		return fmt.Errorf("no gRPC connection")
	}
	for {
		state := conn.GetState()
		if state == connectivity.Ready {
			return nil
		}
		if state == connectivity.Idle {
			conn.Connect()
		}
		if !conn.WaitForStateChange(ctx, state) {
			return fmt.Errorf("gRPC connection not ready: %w", ctx.Err())
		}
	}
}

// Close stops the compactor and closes the connection; call it once no
// storage uses the client any more.
func (c *etcdClient) Close() {
	c.closeOnce.Do(func() {
		c.stopCompactor()
		_ = c.client.Close()
		if c.local != nil {
			_ = c.local.Close()
		}
	})
}

// addHealthChecks adds the checks EtcdOptions.ApplyTo adds unless told to
// skip them, "etcd" to /healthz and /livez and "etcd-readiness" to /readyz,
// on this client instead of one client each.
func (c *etcdClient) addHealthChecks(gc *genericapiserver.Config, sc storagebackend.Config) {
	healthTimeout, readyTimeout := storagebackend.DefaultHealthcheckTimeout, storagebackend.DefaultReadinessTimeout
	if sc.HealthcheckTimeout != 0 {
		healthTimeout = sc.HealthcheckTimeout
	}
	if sc.ReadycheckTimeout != 0 {
		readyTimeout = sc.ReadycheckTimeout
	}
	gc.AddHealthChecks(healthz.NamedGroupedCheck("etcd", "etcd", func(r *http.Request) error {
		return c.probe(r.Context(), healthTimeout)
	}))
	gc.AddReadyzChecks(healthz.NamedGroupedCheck("etcd-readiness", "etcd-readiness", func(r *http.Request) error {
		return c.probe(r.Context(), readyTimeout)
	}))
}

// probe reads a key, as the storage factory's health check does.
func (c *etcdClient) probe(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if _, err := c.client.KV.Get(ctx, path.Join("/", c.prefix, "health")); err != nil {
		return fmt.Errorf("error getting data from etcd: %w", err)
	}
	return nil
}

// etcdMonitor reports the database size for apiserver_storage_size_bytes.
type etcdMonitor struct{ c *etcdClient }

var _ metrics.Monitor = etcdMonitor{}

// Monitor implements metrics.Monitor.
func (m etcdMonitor) Monitor(ctx context.Context) (metrics.StorageMetrics, error) {
	// The in-process client has no endpoints and ignores the one it is
	// given.
	endpoint := ""
	if endpoints := m.c.client.Endpoints(); len(endpoints) > 0 {
		endpoint = endpoints[0]
	}
	status, err := m.c.client.Status(ctx, endpoint)
	if err != nil {
		return metrics.StorageMetrics{}, fmt.Errorf("getting etcd status: %w", err)
	}
	return metrics.StorageMetrics{Size: status.DbSize}, nil
}

// Close implements metrics.Monitor; the client's owner closes the client.
func (m etcdMonitor) Close() error { return nil }

// decorator builds a resource's storage on this client, wrapped in a watch
// cache when cached, as genericregistry.StorageWithCacher does on a client
// of its own.
func (c *etcdClient) decorator(cached bool) generic.StorageDecorator {
	return func(config *storagebackend.ConfigForResource, resourcePrefix string, keyFunc func(runtime.Object) (string, error),
		newFunc, newListFunc func() runtime.Object, getAttrs storage.AttrFunc, triggers storage.IndexerFuncs, indexers *cache.Indexers,
	) (storage.Interface, factory.DestroyFunc, error) {
		s, destroy, err := c.newStore(config, newFunc, newListFunc, resourcePrefix, cached)
		if err != nil || !cached {
			return s, destroy, err
		}
		cacher, err := cacherstorage.NewCacherFromConfig(cacherstorage.Config{
			Storage:             s,
			Versioner:           storage.APIObjectVersioner{},
			GroupResource:       config.GroupResource,
			EventsHistoryWindow: config.EventsHistoryWindow,
			ResourcePrefix:      resourcePrefix,
			KeyFunc:             keyFunc,
			NewFunc:             newFunc,
			NewListFunc:         newListFunc,
			GetAttrsFunc:        getAttrs,
			IndexerFuncs:        triggers,
			Indexers:            indexers,
			Codec:               config.Codec,
		})
		if err != nil {
			destroy()
			return nil, func() {}, fmt.Errorf("watch cache of %s: %w", config.GroupResource, err)
		}
		delegator := cacherstorage.NewCacheDelegator(cacher, s)
		var once sync.Once
		return delegator, func() {
			once.Do(func() {
				delegator.Stop()
				cacher.Stop()
				destroy()
			})
		}, nil
	}
}

// newStore is factory.Create on the shared client (on local when not
// cached).
func (c *etcdClient) newStore(config *storagebackend.ConfigForResource, newFunc, newListFunc func() runtime.Object, resourcePrefix string, cached bool) (storage.Interface, factory.DestroyFunc, error) {
	transformer := config.Transformer
	if transformer == nil {
		transformer = identity.NewEncryptCheckTransformer()
	}
	versioner := storage.APIObjectVersioner{}
	decoder := etcd3.NewDefaultDecoder(config.Codec, versioner)
	unsafeDeletion := utilfeature.DefaultFeatureGate.Enabled(genericfeatures.AllowUnsafeMalformedObjectDeletion)
	if unsafeDeletion {
		transformer = etcd3.WithCorruptObjErrorHandlingTransformer(transformer)
		decoder = etcd3.WithCorruptObjErrorHandlingDecoder(decoder)
	}
	client := c.client
	if !cached && c.local != nil {
		client = c.local
	}
	store, err := etcd3.New(client, c.compactor, config.Codec, newFunc, newListFunc, config.Prefix, resourcePrefix,
		config.GroupResource, transformer, config.LeaseManagerConfig, decoder, versioner)
	if err != nil {
		return nil, nil, fmt.Errorf("storage of %s: %w", config.GroupResource, err)
	}
	var s storage.Interface = ownStream{Interface: store, resource: config.GroupResource.String()}
	if unsafeDeletion {
		s = etcd3.NewStoreWithUnsafeCorruptObjectDeletion(s, config.GroupResource)
	}
	// The registry calls destroy more than once (subresources share it).
	var once sync.Once
	return s, func() { once.Do(store.Close) }, nil
}

// watchStreamKey is the gRPC metadata key that gives each resource's
// watches a watch stream of their own on the shared client.
const watchStreamKey = "tinyforge-watch-stream"

// ownStream gives one resource's watches, and its watch cache's requests
// for watch progress, a gRPC watch stream of their own on the shared
// client, as a client per resource would. The etcd client keys its watch
// streams by the context's gRPC metadata, and etcd answers a progress
// request only when every watcher on the stream is in sync: on one stream
// for all resources, the watch cache of a resource that sees no writes
// could wait for a progress notification that does not come, and its
// consistent reads time out ("Too large resource version").
type ownStream struct {
	storage.Interface
	resource string
}

func (s ownStream) streamContext(ctx context.Context) context.Context {
	return metadata.AppendToOutgoingContext(ctx, watchStreamKey, s.resource)
}

// Watch implements storage.Interface.
func (s ownStream) Watch(ctx context.Context, key string, opts storage.ListOptions) (watch.Interface, error) {
	return s.Interface.Watch(s.streamContext(ctx), key, opts)
}

// RequestWatchProgress implements storage.Interface.
func (s ownStream) RequestWatchProgress(ctx context.Context) error {
	return s.Interface.RequestWatchProgress(s.streamContext(ctx))
}
