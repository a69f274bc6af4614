package dockertest

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/registry"
	"golang.org/x/crypto/bcrypt"
)

// RegistryBinary is the CNCF distribution registry, from Debian's
// docker-registry package (hack/test-env.sh installs it).
const RegistryBinary = "docker-registry"

// registryLogLines is how much of its log a failed test shows.
const registryLogLines = 40

// registryStartTimeout bounds the wait for a registry to answer /v2/.
const registryStartTimeout = 15 * time.Second

// Registry is a real docker-registry process serving plain HTTP on a free
// loopback port, with its storage in a temporary directory, for one test.
// The Docker daemon treats 127.0.0.0/8 registries as insecure, so it pushes
// to and pulls from it over HTTP without any daemon configuration.
type Registry struct {
	// Addr is host:port, such as 127.0.0.1:41234: the registry part of the
	// image references it serves.
	Addr string
	// User and Password are the one htpasswd account, when the registry was
	// started WithBasicAuth; empty otherwise.
	User, Password string

	cmd      *exec.Cmd
	exited   chan struct{} // closed when the process has exited
	out      *syncBuffer
	stopOnce sync.Once
}

// RegistryOption changes the registry StartRegistry runs.
type RegistryOption func(*registryConfig)

type registryConfig struct {
	user, password string
	notify         []notifyEndpoint
}

type notifyEndpoint struct {
	url     string
	headers http.Header
}

// WithBasicAuth protects the registry with htpasswd basic auth and one
// account; every request, pulls included, then needs the credentials.
func WithBasicAuth(user, password string) RegistryOption {
	return func(c *registryConfig) { c.user, c.password = user, password }
}

// WithNotifications makes the registry POST its notification envelopes
// (Content-Type application/vnd.docker.distribution.events.v1+json; blob and
// manifest pushes and pulls) to url, with headers on every request, such as
// Authorization: Bearer <token>. It can be given more than once, for more
// endpoints. Deliveries that fail are retried by the registry every 200ms.
func WithNotifications(url string, headers http.Header) RegistryOption {
	return func(c *registryConfig) {
		c.notify = append(c.notify, notifyEndpoint{url: url, headers: headers.Clone()})
	}
}

// StartRegistry runs docker-registry on a free loopback port until the test
// ends (or Stop), and returns once it answers /v2/. It fails the test when
// the binary is missing or the registry does not start; the registry's log
// is shown when the test fails.
func StartRegistry(t testing.TB, opts ...RegistryOption) *Registry {
	t.Helper()
	cfg := &registryConfig{}
	for _, o := range opts {
		o(cfg)
	}
	bin, err := exec.LookPath(RegistryBinary)
	if err != nil {
		t.Fatalf("dockertest: %s is not installed (Debian package docker-registry; run hack/test-env.sh): %v", RegistryBinary, err)
	}
	dir := t.TempDir()
	if cfg.user != "" {
		hash, err := bcrypt.GenerateFromPassword([]byte(cfg.password), bcrypt.MinCost)
		if err != nil {
			t.Fatalf("dockertest: hashing the registry password: %v", err)
		}
		line := cfg.user + ":" + string(hash) + "\n"
		if err := os.WriteFile(filepath.Join(dir, "htpasswd"), []byte(line), 0o600); err != nil {
			t.Fatalf("dockertest: %v", err)
		}
	}

	// The free port is found by listening and closing, so another process
	// may take it before the registry binds it: try again on a new one.
	var lastErr error
	for range 3 {
		r, err := startRegistryOnce(t, bin, dir, cfg)
		if err == nil {
			t.Logf("dockertest: registry listening on %s", r.Addr)
			return r
		}
		lastErr = err
	}
	t.Fatalf("dockertest: starting the registry: %v", lastErr)
	return nil
}

func startRegistryOnce(t testing.TB, bin, dir string, cfg *registryConfig) (*Registry, error) {
	addr, err := freeLoopbackAddr()
	if err != nil {
		return nil, err
	}
	config, err := registryConfigJSON(dir, addr, cfg)
	if err != nil {
		return nil, err
	}
	cfgPath := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(cfgPath, config, 0o600); err != nil {
		return nil, err
	}
	r := &Registry{
		Addr: addr, User: cfg.user, Password: cfg.password,
		cmd:    exec.Command(bin, "serve", cfgPath),
		exited: make(chan struct{}),
		out:    &syncBuffer{},
	}
	r.cmd.Stdout, r.cmd.Stderr = r.out, r.out
	if err := r.cmd.Start(); err != nil {
		return nil, fmt.Errorf("running %s: %w", bin, err)
	}
	go func() {
		_ = r.cmd.Wait()
		close(r.exited)
	}()
	if err := r.waitReady(); err != nil {
		r.Stop()
		return nil, err
	}
	t.Cleanup(func() {
		r.Stop()
		if t.Failed() {
			t.Logf("dockertest: registry %s log (last %d lines):\n%s", r.Addr, registryLogLines, r.out.tail(registryLogLines))
		}
	})
	return r, nil
}

// registryConfigJSON renders the registry's config as JSON, which its YAML
// parser reads, so no value needs YAML quoting.
func registryConfigJSON(dir, addr string, cfg *registryConfig) ([]byte, error) {
	c := map[string]any{
		"version": "0.1",
		"log":     map[string]any{"level": "info", "accesslog": map[string]any{"disabled": true}},
		"storage": map[string]any{
			"filesystem": map[string]any{"rootdirectory": filepath.Join(dir, "data")},
			"delete":     map[string]any{"enabled": true},
		},
		"http": map[string]any{"addr": addr},
	}
	if cfg.user != "" {
		c["auth"] = map[string]any{"htpasswd": map[string]any{"realm": "tinyforge-test", "path": filepath.Join(dir, "htpasswd")}}
	}
	if len(cfg.notify) > 0 {
		var endpoints []map[string]any
		for i, n := range cfg.notify {
			headers := n.headers
			if headers == nil {
				headers = http.Header{}
			}
			endpoints = append(endpoints, map[string]any{
				"name":      fmt.Sprintf("endpoint-%d", i),
				"url":       n.url,
				"headers":   headers,
				"timeout":   "2s",
				"threshold": 1,
				"backoff":   "200ms",
			})
		}
		c["notifications"] = map[string]any{"endpoints": endpoints}
	}
	return json.MarshalIndent(c, "", "  ")
}

func freeLoopbackAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("finding a free port: %w", err)
	}
	addr := ln.Addr().String()
	return addr, ln.Close()
}

// waitReady polls /v2/ until the registry answers at all (401 with basic
// auth, 200 without), the process exits, or the start timeout passes.
func (r *Registry) waitReady() error {
	deadline := time.Now().Add(registryStartTimeout)
	c := &http.Client{Timeout: time.Second}
	defer c.CloseIdleConnections()
	for {
		resp, err := c.Get("http://" + r.Addr + "/v2/")
		if err == nil {
			resp.Body.Close()
			// Anything else on the port is another process that took it.
			if v := resp.Header.Get("Docker-Distribution-Api-Version"); v != "registry/2.0" {
				r.Stop()
				return fmt.Errorf("something other than the registry answers on %s (%s)", r.Addr, resp.Status)
			}
			return nil
		}
		select {
		case <-r.exited:
			return fmt.Errorf("registry on %s exited: %s", r.Addr, strings.TrimSpace(r.out.String()))
		case <-time.After(pollInterval):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("registry on %s did not answer within %v: %w\n%s", r.Addr, registryStartTimeout, err, r.out.String())
		}
	}
}

// Stop kills the registry and waits for it to exit; later requests to Addr
// are refused. It is safe to call more than once, and runs when the test
// ends anyway. The storage stays until the test ends.
func (r *Registry) Stop() {
	r.stopOnce.Do(func() {
		_ = r.cmd.Process.Kill()
		<-r.exited
	})
}

// Ref returns the reference of repository path (with an optional :tag) in
// this registry: Ref("team/web:v1") is "127.0.0.1:41234/team/web:v1".
func (r *Registry) Ref(path string) string {
	return r.Addr + "/" + path
}

// AuthConfig is the account for the Docker API, or an empty config when
// the registry has no auth.
func (r *Registry) AuthConfig() registry.AuthConfig {
	if r.User == "" {
		return registry.AuthConfig{ServerAddress: r.Addr}
	}
	return registry.AuthConfig{Username: r.User, Password: r.Password, ServerAddress: r.Addr}
}

// RegistryAuth is AuthConfig encoded for the X-Registry-Auth header, as
// image.PushOptions and image.PullOptions take it.
func (r *Registry) RegistryAuth() string {
	enc, err := registry.EncodeAuthConfig(r.AuthConfig())
	if err != nil {
		// Marshalling a struct of strings does not fail.
		return ""
	}
	return enc
}

// DockerConfigJSON returns a .dockerconfigjson document (the value of a
// kubernetes.io/dockerconfigjson Secret) holding the registry's account
// under its plain host:port key, as docker login writes it; without auth
// it holds no account.
func (r *Registry) DockerConfigJSON() []byte {
	if r.User == "" {
		return []byte(`{"auths":{}}`)
	}
	auth := base64.StdEncoding.EncodeToString([]byte(r.User + ":" + r.Password))
	b, _ := json.Marshal(map[string]any{"auths": map[string]any{r.Addr: map[string]string{"auth": auth}}})
	return b
}

// ImagePusher is the part of the Docker client Push uses; *client.Client
// has it.
type ImagePusher interface {
	ImageTag(ctx context.Context, source, target string) error
	ImagePush(ctx context.Context, image string, options image.PushOptions) (io.ReadCloser, error)
	ImageRemove(ctx context.Context, imageID string, options image.RemoveOptions) ([]image.DeleteResponse, error)
}

// Push tags the local image src (an ID or a reference, such as one
// BuildTestApp built) as Ref(path), where path is repository:tag, pushes it
// through the Docker daemon with the registry's credentials, and returns the
// manifest digest the registry stored (sha256:…). Pushing the same image
// again gives the same digest; a different image gives another. The local
// tag is removed when the test ends.
func (r *Registry) Push(t testing.TB, cli ImagePusher, src, path string) (digest string) {
	t.Helper()
	target := r.Ref(path)
	if !strings.Contains(path, ":") {
		t.Fatalf("dockertest: Push(%q): the path needs a :tag", path)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	if err := cli.ImageTag(ctx, src, target); err != nil {
		t.Fatalf("dockertest: tagging %s as %s: %v", src, target, err)
	}
	t.Cleanup(func() { untag(t, cli, target) })
	start := time.Now()
	rc, err := cli.ImagePush(ctx, target, image.PushOptions{RegistryAuth: r.RegistryAuth()})
	if err != nil {
		t.Fatalf("dockertest: pushing %s: %v", target, err)
	}
	defer rc.Close()
	digest, err = readPushOutput(rc)
	if err != nil {
		t.Fatalf("dockertest: pushing %s: %v", target, err)
	}
	t.Logf("dockertest: pushed %s (%s) in %v", target, digest, time.Since(start).Round(time.Millisecond))
	return digest
}

// untag removes a local tag Push made; the image stays while another
// reference holds it. It runs after the test, with its own deadline.
func untag(t testing.TB, cli ImagePusher, ref string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := cli.ImageRemove(ctx, ref, image.RemoveOptions{}); err != nil && !cerrdefs.IsNotFound(err) && !cerrdefs.IsConflict(err) {
		t.Errorf("dockertest: removing tag %s: %v", ref, err)
	}
}

// readPushOutput reads a push's progress stream to its end and returns the
// digest its aux message reports, or the error it reports in-band (a failed
// push answers 200).
func readPushOutput(r io.Reader) (string, error) {
	var digest string
	dec := json.NewDecoder(r)
	for {
		var msg struct {
			Error       string `json:"error"`
			ErrorDetail *struct {
				Message string `json:"message"`
			} `json:"errorDetail"`
			Aux *struct {
				Digest string `json:"Digest"`
			} `json:"aux"`
		}
		if err := dec.Decode(&msg); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return "", fmt.Errorf("reading push output: %w", err)
		}
		if msg.ErrorDetail != nil && msg.ErrorDetail.Message != "" {
			return "", errors.New(msg.ErrorDetail.Message)
		}
		if msg.Error != "" {
			return "", errors.New(msg.Error)
		}
		if msg.Aux != nil && msg.Aux.Digest != "" {
			digest = msg.Aux.Digest
		}
	}
	if digest == "" {
		return "", errors.New("the daemon reported no digest")
	}
	return digest, nil
}

// syncBuffer is a bytes.Buffer the registry process writes to while the
// test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// tail returns the last n lines written.
func (b *syncBuffer) tail(n int) string {
	lines := strings.Split(strings.TrimRight(b.String(), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
