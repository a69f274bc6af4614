//go:build deps

// Package hack pins modules the project needs before code imports them.
package hack

import (
	_ "github.com/docker/docker/client"
	_ "github.com/spf13/cobra"
	_ "go.etcd.io/etcd/client/v3"
	_ "go.etcd.io/etcd/server/v3/embed"
	_ "k8s.io/apiextensions-apiserver/pkg/apiserver"
	_ "k8s.io/apiextensions-apiserver/pkg/cmd/server/options"
	_ "k8s.io/apiserver/pkg/server"
	_ "k8s.io/apiserver/pkg/authentication/token/tokenfile"
	_ "k8s.io/apiserver/pkg/registry/generic/registry"
	_ "k8s.io/client-go/kubernetes"
	_ "k8s.io/kubectl/pkg/cmd"
	_ "k8s.io/component-base/version"
	_ "k8s.io/component-base/cli"
	_ "sigs.k8s.io/controller-runtime"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "github.com/go-logr/logr"
	_ "k8s.io/klog/v2"
)
