// Package forgectl builds the forgectl command: the kubectl command tree
// pre-wired to TinyForge's kubeconfig, plus TinyForge's own verbs.
package forgectl
