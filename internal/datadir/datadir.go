// Package datadir decides where TinyForge keeps its state (etcd data, TLS
// material, tokens and the admin kubeconfig) when no --data-dir is given.
package datadir

import (
	"os"
	"path/filepath"
)

// EnvVar overrides the default data directory for both tinyforge and forgectl.
const EnvVar = "TINYFORGE_DATA_DIR"

// KubeconfigFile is the admin kubeconfig's file name inside the data directory.
const KubeconfigFile = "kubeconfig"

// Default returns $TINYFORGE_DATA_DIR when set, /var/lib/tinyforge for root
// (like k3s's /var/lib/rancher/k3s) and ~/.tinyforge for everyone else.
func Default() string {
	if d := os.Getenv(EnvVar); d != "" {
		return d
	}
	if os.Geteuid() == 0 {
		return "/var/lib/tinyforge"
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".tinyforge")
	}
	return ".tinyforge"
}

// Kubeconfig returns the admin kubeconfig path inside dir.
func Kubeconfig(dir string) string {
	return filepath.Join(dir, KubeconfigFile)
}
