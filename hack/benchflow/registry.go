package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/registry"
	"github.com/docker/docker/client"
)

// registryStartTimeout bounds the wait for the registry to answer /v2/.
const registryStartTimeout = 15 * time.Second

// registryProc is a docker-registry process serving plain HTTP on a free
// loopback port, with its storage under a directory of the run; the Docker
// daemon treats 127.0.0.0/8 registries as insecure, so it pushes over HTTP.
type registryProc struct {
	addr    string
	cmd     *exec.Cmd
	logPath string
	exited  chan struct{}
	once    sync.Once
}

// startRegistry runs the registry with its notifications POSTed to
// notifyURL with header Authorization: Bearer <token>, as the registry
// trigger of the ingress expects; a start that loses its port to another
// process is tried again.
func startRegistry(ctx context.Context, bin, dir, notifyURL, token string) (*registryProc, error) {
	var err error
	for attempt := 1; attempt <= 3; attempt++ {
		var r *registryProc
		if r, err = startRegistryOnce(ctx, bin, filepath.Join(dir, fmt.Sprintf("registry-%d", attempt)), notifyURL, token); err == nil {
			return r, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
	}
	return nil, err
}

func startRegistryOnce(ctx context.Context, bin, dir, notifyURL, token string) (*registryProc, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("finding a free port: %w", err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cfg, err := registryConfig(dir, addr, notifyURL, token)
	if err != nil {
		return nil, err
	}
	cfgPath := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(cfgPath, cfg, 0o600); err != nil {
		return nil, err
	}
	logPath := filepath.Join(dir, "registry.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logFile.Close()
	r := &registryProc{addr: addr, cmd: exec.Command(bin, "serve", cfgPath), logPath: logPath, exited: make(chan struct{})}
	r.cmd.Stdout, r.cmd.Stderr = logFile, logFile
	r.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := r.cmd.Start(); err != nil {
		return nil, fmt.Errorf("running %s: %w", bin, err)
	}
	go func() {
		_ = r.cmd.Wait()
		close(r.exited)
	}()
	if err := r.waitReady(ctx); err != nil {
		r.stop()
		return nil, err
	}
	return r, nil
}

// registryConfig renders the registry's config as JSON, which its YAML
// parser reads: filesystem storage, no access log, and one notification
// endpoint retried every 200ms, as internal/docker/dockertest runs it.
func registryConfig(dir, addr, notifyURL, token string) ([]byte, error) {
	c := map[string]any{
		"version": "0.1",
		"log":     map[string]any{"level": "warn", "accesslog": map[string]any{"disabled": true}},
		"storage": map[string]any{
			"filesystem": map[string]any{"rootdirectory": filepath.Join(dir, "data")},
			"delete":     map[string]any{"enabled": true},
		},
		"http": map[string]any{"addr": addr},
		"notifications": map[string]any{"endpoints": []map[string]any{{
			"name":      "tinyforge",
			"url":       notifyURL,
			"headers":   http.Header{"Authorization": {"Bearer " + token}},
			"timeout":   "2s",
			"threshold": 1,
			"backoff":   "200ms",
		}}},
	}
	return json.MarshalIndent(c, "", "  ")
}

// waitReady polls /v2/ until the registry answers, it exits, or the start
// timeout passes.
func (r *registryProc) waitReady(ctx context.Context) error {
	c := &http.Client{Timeout: time.Second}
	defer c.CloseIdleConnections()
	deadline := time.NewTimer(registryStartTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(readyPollInterval)
	defer tick.Stop()
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+r.addr+"/v2/", nil)
		if err != nil {
			return err
		}
		resp, err := c.Do(req)
		if err == nil {
			resp.Body.Close()
			// Anything else on the port is another process that took it.
			if v := resp.Header.Get("Docker-Distribution-Api-Version"); v != "registry/2.0" {
				return fmt.Errorf("something other than the registry answers on %s (%s)", r.addr, resp.Status)
			}
			return nil
		}
		select {
		case <-tick.C:
		case <-r.exited:
			log, _ := os.ReadFile(r.logPath)
			return fmt.Errorf("registry on %s exited: %s", r.addr, strings.TrimSpace(string(log)))
		case <-deadline.C:
			return fmt.Errorf("registry on %s did not answer within %v: %w", r.addr, registryStartTimeout, err)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (r *registryProc) stop() {
	r.once.Do(func() {
		_ = r.cmd.Process.Kill()
		<-r.exited
	})
}

// ref is the reference of repository path (with an optional :tag) in the
// registry.
func (r *registryProc) ref(path string) string { return r.addr + "/" + path }

// push tags the local image src as ref(path), where path is
// repository:tag, pushes it through the daemon and returns the manifest
// digest the registry stored. The push has finished when it returns.
func (r *registryProc) push(ctx context.Context, cli *client.Client, src, path string) (string, error) {
	target := r.ref(path)
	ctx, cancel := context.WithTimeout(ctx, imageOpTimeout)
	defer cancel()
	if err := cli.ImageTag(ctx, src, target); err != nil {
		return "", fmt.Errorf("tagging %s as %s: %w", src, target, err)
	}
	auth, err := registry.EncodeAuthConfig(registry.AuthConfig{ServerAddress: r.addr})
	if err != nil {
		return "", fmt.Errorf("encoding the registry auth: %w", err)
	}
	rc, err := cli.ImagePush(ctx, target, image.PushOptions{RegistryAuth: auth})
	if err != nil {
		return "", fmt.Errorf("pushing %s: %w", target, err)
	}
	defer rc.Close()
	var digest string
	err = readStream(rc, func(raw json.RawMessage) {
		var aux struct{ Digest string }
		if json.Unmarshal(raw, &aux) == nil && aux.Digest != "" {
			digest = aux.Digest
		}
	})
	if err != nil {
		return "", fmt.Errorf("pushing %s: %w", target, err)
	}
	if digest == "" {
		return "", errors.New("pushing " + target + ": the daemon reported no digest")
	}
	return digest, nil
}
