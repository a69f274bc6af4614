package app

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

const testKubeconfig = `apiVersion: v1
kind: Config
clusters:
- name: c
  cluster: {server: "https://127.0.0.1:6443", insecure-skip-tls-verify: true}
users:
- name: u
  user: {token: t}
contexts:
- name: c
  context: {cluster: c, user: u}
current-context: c
`

// TestKubeconfigFlags checks that a part run alone reaches the API server
// with TinyForge's rate limits, not client-go's 5 requests/s, and that the
// flags change them.
func TestKubeconfigFlags(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(path, []byte(testKubeconfig), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args  []string
		qps   float32
		burst int
		err   string
	}{
		{qps: DefaultKubeAPIQPS, burst: DefaultKubeAPIBurst},
		{args: []string{"--kube-api-qps=200", "--kube-api-burst=400"}, qps: 200, burst: 400},
		{args: []string{"--kube-api-qps=-1"}, qps: -1, burst: DefaultKubeAPIBurst},
		{args: []string{"--kube-api-burst=0"}, err: "--kube-api-burst must be at least 1"},
	} {
		k := newKubeconfigFlags()
		fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
		k.addFlags(fs)
		if err := fs.Parse(append([]string{"--kubeconfig", path}, tc.args...)); err != nil {
			t.Fatal(err)
		}
		cfg, err := k.load()
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%v: error %v, want one containing %q", tc.args, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%v: %v", tc.args, err)
		}
		if cfg.Host != "https://127.0.0.1:6443" || cfg.BearerToken != "t" {
			t.Errorf("%v: host %q, token %q: not the kubeconfig's", tc.args, cfg.Host, cfg.BearerToken)
		}
		if cfg.QPS != tc.qps || cfg.Burst != tc.burst {
			t.Errorf("%v: QPS %v, burst %d; want %v, %d", tc.args, cfg.QPS, cfg.Burst, tc.qps, tc.burst)
		}
	}
}

// TestPartsTakeKubeconfigFlags checks that every part that can run alone
// has the kubeconfig and rate-limit flags.
func TestPartsTakeKubeconfigFlags(t *testing.T) {
	root := NewCommand(io.Discard, io.Discard)
	for _, part := range []string{"controllers", "ingress", "proxy"} {
		sub, _, err := root.Find([]string{part})
		if err != nil || sub.Name() != part {
			t.Fatalf("no %s command: %v", part, err)
		}
		for _, name := range []string{"kubeconfig", "kube-api-qps", "kube-api-burst"} {
			if sub.Flags().Lookup(name) == nil {
				t.Errorf("%s has no --%s", part, name)
			}
		}
	}
}
