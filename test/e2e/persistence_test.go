package e2e

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"

	"github.com/tinyforge/tinyforge/controllers"
	"github.com/tinyforge/tinyforge/internal/apiserver"
	"github.com/tinyforge/tinyforge/internal/apiserver/apiservertest"
)

const persistenceObjects = `apiVersion: v1
kind: Namespace
metadata:
  name: persist
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  namespace: persist
data:
  greeting: hello
---
apiVersion: tinyforge.dev/v1alpha1
kind: Rollout
metadata:
  name: web-1
  namespace: persist
spec:
  workloadRef: {name: web}
  revision: sha256:1111111111111111111111111111111111111111111111111111111111111111
  reason: ConfigChange
`

// resourceVersions maps kind/name to resourceVersion for the test objects.
func resourceVersions(t *testing.T, s *server) map[string]string {
	t.Helper()
	out := s.forgectl(t, "get", "namespace/persist", "configmap/settings", "rollouts.tinyforge.dev/web-1", "-n", "persist",
		"-o", `jsonpath={range .items[*]}{.kind}/{.metadata.name}={.metadata.resourceVersion}{"\n"}{end}`)
	rvs := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		k, v, _ := strings.Cut(line, "=")
		rvs[k] = v
	}
	if len(rvs) != 3 {
		t.Fatalf("got %v, want three objects", rvs)
	}
	return rvs
}

func TestRestartKeepsEveryObject(t *testing.T) {
	s := startServer(t, "")
	if _, errOut, err := s.tryForgectl(strings.NewReader(persistenceObjects), "apply", "-f", "-"); err != nil {
		t.Fatalf("apply: %v\n%s", err, errOut)
	}
	before := resourceVersions(t, s)
	token := s.Admin.BearerToken
	var leader string
	err := wait.PollUntilContextTimeout(context.Background(), 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		leader = leaseEvent(t, s, " became leader")
		return leader != "", nil
	})
	if err != nil {
		t.Fatalf("the controllers never took their Lease: %v", err)
	}

	start := time.Now()
	if err := s.terminate(); err != nil {
		t.Fatalf("SIGTERM: exit = %v, want a clean exit", err)
	}
	t.Logf("stopped %s after SIGTERM", time.Since(start).Round(time.Millisecond))
	// A first start and a clean stop: the embedded etcd, whose lines are
	// the JSON ones, logged no error, the flags were applied before the API
	// server's options read them, and the controllers let go of their
	// Lease without complaint.
	for _, line := range strings.Split(s.logs.String(), "\n") {
		if strings.Contains(line, `"level":"error"`) {
			t.Errorf("etcd logged an error in a first start and a clean stop: %s", line)
		}
		if strings.Contains(line, "SetFallback") {
			t.Errorf("feature gates were read before the flags were applied: %s", line)
		}
		if strings.Contains(line, "Unable to write event") {
			t.Errorf("an Event was lost at shutdown: %s", line)
		}
		if strings.Contains(line, "leader election lost") {
			t.Errorf("a clean stop's release of the Lease was logged as a loss: %s", line)
		}
	}

	s2 := runServer(t, s.DataDir, s.Args)
	if s2.Admin.BearerToken != token {
		t.Errorf("the admin token changed across a restart")
	}
	after := resourceVersions(t, s2)
	for k, v := range before {
		if after[k] != v {
			t.Errorf("%s: resourceVersion %s before restart, %s after", k, v, after[k])
		}
	}
	if got := s2.forgectl(t, "get", "configmap/settings", "-n", "persist", "-o", "jsonpath={.data.greeting}"); got != "hello" {
		t.Errorf("configmap data after restart = %q", got)
	}
	// The stopped server's controllers let go of their Lease, and said so
	// while the API was still there to record it.
	if got := leaseEvent(t, s2, " stopped leading"); got != leader {
		t.Errorf("the Lease's \"stopped leading\" Event names %q, want the stopped server's controllers, %q", got, leader)
	}
}

// leaseEvent returns the identity in the controllers' Lease's newest
// LeaderElection Event whose message ends with suffix, or "".
func leaseEvent(t *testing.T, s *server, suffix string) string {
	t.Helper()
	list, err := kubernetes.NewForConfigOrDie(s.Admin).CoreV1().Events(apiserver.SystemNamespace).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatalf("listing Events: %v", err)
	}
	var newest *corev1.Event
	for i, e := range list.Items {
		if e.InvolvedObject.Kind == "Lease" && e.InvolvedObject.Name == controllers.LeaderElectionID &&
			strings.HasSuffix(e.Message, suffix) && (newest == nil || newest.LastTimestamp.Before(&e.LastTimestamp)) {
			newest = &list.Items[i]
		}
	}
	if newest == nil {
		return ""
	}
	return strings.TrimSuffix(newest.Message, suffix)
}

// startEtcd runs a real etcd (etcd's own main package) on free loopback
// ports with data in a temp dir.
func startEtcd(t *testing.T) string {
	t.Helper()
	ports, err := apiservertest.FreePorts(2)
	if err != nil {
		t.Fatal(err)
	}
	client := "http://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[0]))
	peer := "http://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[1]))
	cmd := exec.Command(bin.etcd, "--name", "e2e", "--data-dir", t.TempDir(),
		"--listen-client-urls", client, "--advertise-client-urls", client,
		"--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
		"--initial-cluster", "e2e="+peer, "--log-level", "error")
	logs := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("etcd output:\n%s", tail(logs.String(), 40))
		}
	})
	c, err := clientv3.New(clientv3.Config{Endpoints: []string{client}, DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	deadline := time.Now().Add(time.Minute)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := c.Status(ctx, client)
		cancel()
		if err == nil {
			return client
		}
		if time.Now().After(deadline) {
			t.Fatalf("etcd at %s not ready: %v", client, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestExternalEtcd(t *testing.T) {
	endpoint := startEtcd(t)
	s := startServer(t, "", "--etcd-servers", endpoint)
	if _, errOut, err := s.tryForgectl(strings.NewReader(persistenceObjects), "apply", "-f", "-"); err != nil {
		t.Fatalf("apply: %v\n%s", err, errOut)
	}
	before := resourceVersions(t, s)

	// The objects live in the external etcd, under Kubernetes' key layout.
	c, err := clientv3.New(clientv3.Config{Endpoints: []string{endpoint}, DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, key := range []string{"/registry/tinyforge.dev/rollouts/persist/web-1", "/registry/configmaps/persist/settings"} {
		resp, err := c.Get(ctx, key)
		if err != nil || len(resp.Kvs) != 1 {
			t.Errorf("etcd key %s: %v, %d values", key, err, len(resp.Kvs))
		}
	}

	// A second server on a fresh data dir, same etcd, serves the same objects.
	if err := s.terminate(); err != nil {
		t.Fatalf("SIGTERM: %v", err)
	}
	s2 := startServer(t, "", "--etcd-servers", endpoint)
	after := resourceVersions(t, s2)
	if fmt.Sprint(before) != fmt.Sprint(after) {
		t.Errorf("objects through a second server = %v, want %v", after, before)
	}
}
