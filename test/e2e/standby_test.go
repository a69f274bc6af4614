package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tinyforge/tinyforge/internal/docker"
	"github.com/tinyforge/tinyforge/internal/docker/dockertest"
)

// TestStandbyServerProxy: two servers share one etcd. The proxy of the one
// whose controllers stand by serves every route from status.routes, keeps
// serving while it takes over from the stopped leader, and then its own
// controllers deploy through it.
func TestStandbyServerProxy(t *testing.T) {
	cli := dockertest.Client(t)
	dockertest.CleanupContainers(t, cli, docker.LabelWorkload+"=standby", docker.LabelNamespace+"=default")
	tag := fmt.Sprintf("tinyforge-e2e/standby-%d", time.Now().UnixNano())
	dockertest.BuildTestApp(t, cli, tag+":v1", dockertest.WithVersion("v1"))
	dockertest.BuildTestApp(t, cli, tag+":v2", dockertest.WithVersion("v2"))
	host := "standby.default.localhost"

	endpoint := startEtcd(t)
	leader := startServer(t, "", "--etcd-servers", endpoint)
	leader.mustApply(t, webWorkload("standby", tag+":v1", ""))
	leader.forgectl(t, "wait", "--for=condition=Ready", "wl/standby", "--timeout=120s")
	leader.waitServes(t, host, "version=v1")

	standby := startServer(t, "", "--etcd-servers", endpoint)
	standby.waitServes(t, host, "version=v1")
	// It served through the standby feed, not as the leader.
	if logs := standby.logs.String(); !strings.Contains(logs, "the proxy serves every Workload's status.routes meanwhile") {
		t.Fatalf("the second server's proxy served without its standby feed:\n%s", tail(logs, 40))
	}

	h := startHammer(standby, host, 2)
	if err := leader.terminate(); err != nil {
		t.Fatalf("stopping the leader: %v", err)
	}
	standby.mustApply(t, webWorkload("standby", tag+":v2", ""))
	standby.waitServes(t, host, "version=v2")
	pollCond(t, "one running container", 60*time.Second, func() bool { return len(running(t, cli, "default", "standby")) == 1 })
	h.stop(t, "through the standby's proxy while it took over and deployed")
}
