package apiserver

import (
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/pflag"
	crdoptions "k8s.io/apiextensions-apiserver/pkg/cmd/server/options"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	netutils "k8s.io/utils/net"

	"github.com/tinyforge/tinyforge/internal/datadir"
)

// Default ports, as Kubernetes and k3s use them.
const (
	DefaultSecurePort     = 6443
	DefaultEtcdClientPort = 2379
	DefaultEtcdPeerPort   = 2380
)

// Options are the API server's command-line options.
type Options struct {
	// DataDir holds etcd's data, TLS material, the token file and the
	// admin kubeconfig.
	DataDir string
	// EtcdServers, when set, replaces the embedded etcd with an external
	// cluster; EtcdCAFile, EtcdCertFile and EtcdKeyFile secure it.
	EtcdServers                           []string
	EtcdCAFile, EtcdCertFile, EtcdKeyFile string
	EtcdClientPort, EtcdPeerPort          int
	// TLSSANs are extra names and addresses for the generated serving
	// certificate, for clients that reach the server by another name.
	TLSSANs []string
	// TokenFile is the static token file (token,user,uid,"groups").
	TokenFile string

	// CRD holds the generic and apiextensions server options; only the
	// serving ones are exposed as flags.
	CRD *crdoptions.CustomResourceDefinitionsServerOptions
}

// NewOptions returns the defaults: data in datadir.Default(), HTTPS on
// 127.0.0.1:6443, embedded etcd on 127.0.0.1:2379.
func NewOptions(out, errOut io.Writer) *Options {
	o := &Options{
		DataDir:        datadir.Default(),
		EtcdClientPort: DefaultEtcdClientPort,
		EtcdPeerPort:   DefaultEtcdPeerPort,
		CRD:            crdoptions.NewCustomResourceDefinitionsServerOptions(out, errOut),
	}
	ss := o.CRD.RecommendedOptions.SecureServing
	ss.BindAddress = netutils.ParseIPSloppy("127.0.0.1")
	ss.BindPort = DefaultSecurePort
	// Kubernetes' own layout: /registry/<group>/<resource>/<namespace>/<name>.
	o.CRD.RecommendedOptions.Etcd.StorageConfig.Prefix = "/registry"
	o.CRD.RecommendedOptions.Features.EnablePriorityAndFairness = false
	// Watches of other processes (`tinyforge proxy`, `tinyforge
	// controllers`, `forgectl get -w`) never end on their own: without a
	// grace they hold a stopping server for its whole shutdown timeout.
	o.CRD.ServerRunOptions.ShutdownWatchTerminationGracePeriod = DefaultShutdownWatchGrace
	return o
}

// DefaultShutdownWatchGrace is how long a stopping server lets the watches of
// its clients end before it stops listening.
const DefaultShutdownWatchGrace = 5 * time.Second

// AddFlags registers the options on fs.
func (o *Options) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.DataDir, "data-dir", o.DataDir, "Directory for etcd data, TLS certificates, the token file and the admin kubeconfig (env "+datadir.EnvVar+").")
	ss := o.CRD.RecommendedOptions.SecureServing
	fs.IPVar(&ss.BindAddress, "bind-address", ss.BindAddress, "Address the HTTPS API listens on; 0.0.0.0 to serve other machines.")
	fs.IntVar(&ss.BindPort, "secure-port", ss.BindPort, "Port of the HTTPS API.")
	fs.StringSliceVar(&o.TLSSANs, "tls-san", o.TLSSANs, "Extra host names or IP addresses for the generated serving certificate.")
	fs.StringVar(&o.TokenFile, "token-auth-file", o.TokenFile, "Static token file (token,user,uid,\"group1,group2\"); default <data-dir>/tokens.csv, created with admin and viewer tokens.")
	fs.StringSliceVar(&o.EtcdServers, "etcd-servers", o.EtcdServers, "External etcd endpoints (https://host:2379,...); empty runs an embedded etcd.")
	fs.StringVar(&o.EtcdCAFile, "etcd-cafile", o.EtcdCAFile, "CA bundle that signed the external etcd's serving certificates.")
	fs.StringVar(&o.EtcdCertFile, "etcd-certfile", o.EtcdCertFile, "Client certificate for the external etcd.")
	fs.StringVar(&o.EtcdKeyFile, "etcd-keyfile", o.EtcdKeyFile, "Client key for the external etcd.")
	fs.IntVar(&o.EtcdClientPort, "etcd-client-port", o.EtcdClientPort, "Loopback port of the embedded etcd's client API.")
	fs.IntVar(&o.EtcdPeerPort, "etcd-peer-port", o.EtcdPeerPort, "Loopback port of the embedded etcd's peer API.")
	fs.DurationVar(&o.CRD.ServerRunOptions.ShutdownWatchTerminationGracePeriod, "shutdown-watch-termination-grace-period", o.CRD.ServerRunOptions.ShutdownWatchTerminationGracePeriod,
		"Longest wait at shutdown for clients' watches to end before the server stops listening.")
}

// Complete fills in what depends on other options.
func (o *Options) Complete() error {
	if o.DataDir == "" {
		o.DataDir = datadir.Default()
	}
	abs, err := filepath.Abs(o.DataDir)
	if err != nil {
		return fmt.Errorf("resolving --data-dir: %w", err)
	}
	o.DataDir = abs
	if o.TokenFile == "" {
		o.TokenFile = filepath.Join(o.DataDir, "tokens.csv")
	}
	ss := o.CRD.RecommendedOptions.SecureServing
	ss.ServerCert.CertDirectory = filepath.Join(o.DataDir, "tls")
	ss.ServerCert.PairName = "apiserver"
	// Fix the effective version and feature gates now that flags are
	// parsed, before anything reads them (completing the options would
	// otherwise fix them itself, with a warning on every start).
	if err := o.CRD.ServerRunOptions.ComponentGlobalsRegistry.Set(); err != nil {
		return err
	}
	return o.CRD.Complete()
}

// Validate reports every invalid option at once.
func (o *Options) Validate() error {
	var errs []error
	if p := o.CRD.RecommendedOptions.SecureServing.BindPort; p < 0 || p > 65535 {
		errs = append(errs, fmt.Errorf("--secure-port %d is not a port", p))
	}
	if len(o.EtcdServers) == 0 {
		for name, p := range map[string]int{"--etcd-client-port": o.EtcdClientPort, "--etcd-peer-port": o.EtcdPeerPort} {
			if p <= 0 || p > 65535 {
				errs = append(errs, fmt.Errorf("%s %d is not a port", name, p))
			}
		}
		if o.EtcdClientPort == o.EtcdPeerPort {
			errs = append(errs, fmt.Errorf("--etcd-client-port and --etcd-peer-port must differ"))
		}
	}
	for _, f := range []string{o.EtcdCAFile, o.EtcdCertFile, o.EtcdKeyFile} {
		if f == "" {
			continue
		}
		if _, err := os.Stat(f); err != nil {
			errs = append(errs, fmt.Errorf("etcd TLS file: %w", err))
		}
	}
	if (o.EtcdCertFile == "") != (o.EtcdKeyFile == "") {
		errs = append(errs, fmt.Errorf("--etcd-certfile and --etcd-keyfile go together"))
	}
	for _, san := range o.TLSSANs {
		if san == "" {
			errs = append(errs, fmt.Errorf("--tls-san must not be empty"))
		}
	}
	return utilerrors.NewAggregate(errs)
}

// sans splits --tls-san into names and addresses.
func (o *Options) sans() (dns []string, ips []net.IP) {
	for _, s := range o.TLSSANs {
		if ip := netutils.ParseIPSloppy(s); ip != nil {
			ips = append(ips, ip)
		} else {
			dns = append(dns, s)
		}
	}
	return dns, ips
}
