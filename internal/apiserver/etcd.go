package apiserver

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
	"k8s.io/klog/v2"

	"github.com/tinyforge/tinyforge/internal/memory"
)

const (
	// etcdReadyTimeout bounds how long a start waits for the embedded etcd.
	etcdReadyTimeout = 60 * time.Second
	// etcdSnapshotCount and etcdSnapshotCatchUpEntries bound the raft log
	// held in memory; see StartEmbeddedEtcd.
	etcdSnapshotCount          = 1000
	etcdSnapshotCatchUpEntries = 100
)

// EmbeddedEtcd is an etcd member running inside this process, listening on
// loopback only, with its data under the TinyForge data directory.
type EmbeddedEtcd struct {
	etcd      *embed.Etcd
	ClientURL string
	// closing quiets the errors etcd logs as Close stops its listeners.
	closing *atomic.Bool
}

// StartEmbeddedEtcd starts a single-member etcd with data in dir and clients
// served on 127.0.0.1:clientPort over TLS with client certificates.
func StartEmbeddedEtcd(ctx context.Context, dir string, clientPort, peerPort int, tls etcdTLS) (*EmbeddedEtcd, error) {
	cfg := embed.NewConfig()
	cfg.Name = "tinyforge"
	cfg.Dir = filepath.Join(dir, "etcd")
	closing := new(atomic.Bool)
	lg, err := newEtcdLogger(closing)
	if err != nil {
		return nil, fmt.Errorf("building etcd's logger: %w", err)
	}
	cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(lg)
	clientURL := url.URL{Scheme: "https", Host: net.JoinHostPort("127.0.0.1", strconv.Itoa(clientPort))}
	peerURL := url.URL{Scheme: "http", Host: net.JoinHostPort("127.0.0.1", strconv.Itoa(peerPort))}
	cfg.ListenClientUrls = []url.URL{clientURL}
	cfg.AdvertiseClientUrls = []url.URL{clientURL}
	cfg.ListenPeerUrls = []url.URL{peerURL}
	cfg.AdvertisePeerUrls = []url.URL{peerURL}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	// One member on loopback: a short election timer makes it leader in
	// tens of milliseconds instead of up to a second.
	cfg.TickMs = 10
	cfg.ElectionMs = 100
	cfg.ClientTLSInfo.CertFile = tls.ServerCert
	cfg.ClientTLSInfo.KeyFile = tls.ServerKey
	cfg.ClientTLSInfo.TrustedCAFile = tls.CA
	cfg.ClientTLSInfo.ClientCertAuth = true
	// Raft keeps every entry since the last snapshot in memory, each with
	// its write's payload: by default up to 15,000 of them, about 20 MiB of
	// 1 KiB Events and their status updates. A single member has no
	// follower to catch up, so snapshot often and keep few entries past it.
	cfg.SnapshotCount = etcdSnapshotCount
	cfg.SnapshotCatchUpEntries = etcdSnapshotCatchUpEntries
	// The API server compacts; keep etcd's own housekeeping light.
	cfg.AutoCompactionMode = "periodic"
	cfg.AutoCompactionRetention = "1h"

	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return nil, fmt.Errorf("starting embedded etcd in %s: %w", cfg.Dir, err)
	}
	stop := func() {
		closing.Store(true)
		e.Close()
	}
	select {
	case <-e.Server.ReadyNotify():
	case err := <-e.Err():
		stop()
		return nil, fmt.Errorf("embedded etcd failed: %w", err)
	case <-time.After(etcdReadyTimeout):
		stop()
		return nil, fmt.Errorf("embedded etcd not ready after %s", etcdReadyTimeout)
	case <-ctx.Done():
		stop()
		return nil, ctx.Err()
	}
	// etcd maps its database with MAP_POPULATE, the unwritten part of the
	// file's last 16 MiB growth too; drop those zero pages.
	db := filepath.Join(cfg.Dir, "member", "snap", "db")
	if n, err := memory.ReleaseFileHoles(db); err != nil {
		klog.FromContext(ctx).Info("Could not release the unwritten pages of etcd's database", "path", db, "err", err)
	} else if n > 0 {
		klog.FromContext(ctx).V(1).Info("Released the unwritten pages of etcd's database", "path", db, "bytes", n)
	}
	return &EmbeddedEtcd{etcd: e, ClientURL: clientURL.String(), closing: closing}, nil
}

// Close stops etcd and waits for it to release its data directory.
func (e *EmbeddedEtcd) Close() {
	e.closing.Store(true)
	e.etcd.Close()
	<-e.etcd.Server.StopNotify()
}
