package apiserver_test

import (
	"context"
	"io"
	"net"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/tinyforge/tinyforge/internal/apiserver"
	"github.com/tinyforge/tinyforge/internal/apiserver/apiservertest"
)

// TestPortInUseIsAnError: a server whose port is taken reports that and
// stops the etcd it started, instead of crashing.
func TestPortInUseIsAnError(t *testing.T) {
	s := apiservertest.Start(t)
	u, err := url.Parse(s.URL)
	if err != nil {
		t.Fatal(err)
	}
	_, portStr, _ := net.SplitHostPort(u.Host)
	port, _ := strconv.Atoi(portStr)

	o := apiserver.NewOptions(io.Discard, io.Discard)
	o.DataDir = t.TempDir()
	o.CRD.RecommendedOptions.SecureServing.BindPort = port
	ports, err := apiservertest.FreePorts(2)
	if err != nil {
		t.Fatal(err)
	}
	o.EtcdClientPort, o.EtcdPeerPort = ports[0], ports[1]
	if err := o.Complete(); err != nil {
		t.Fatal(err)
	}
	cfg, err := o.Config(context.Background())
	if err == nil {
		if cfg.Etcd != nil {
			cfg.Etcd.Close()
		}
		t.Fatal("a taken port was not an error")
	}
	if !strings.Contains(err.Error(), "address already in use") {
		t.Errorf("err = %v, want it to say the address is in use", err)
	}
	// The embedded etcd was stopped: its ports are free again.
	for _, p := range ports {
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
		if err != nil {
			t.Errorf("etcd port %d still taken after the failed start: %v", p, err)
			continue
		}
		l.Close()
	}
}
