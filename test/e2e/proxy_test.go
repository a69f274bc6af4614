package e2e

import (
	"fmt"
	"net/http"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/tinyforge/tinyforge/internal/docker"
	"github.com/tinyforge/tinyforge/internal/docker/dockertest"
)

// proxyProc is a `tinyforge proxy` process.
type proxyProc struct {
	cmd    *exec.Cmd
	logs   *syncBuffer
	exited chan struct{}
}

// startProxy runs `tinyforge proxy` against s on addr and waits until it
// answers HTTP. The proxy stops, and its output is shown if the test
// failed, when cleanupT ends (the test, even when a subtest starts it).
func startProxy(t, cleanupT *testing.T, s *server, addr string) *proxyProc {
	t.Helper()
	p := &proxyProc{logs: &syncBuffer{}, exited: make(chan struct{})}
	p.cmd = exec.Command(bin.tinyforge, "proxy", "--kubeconfig", s.Kubeconf, "--proxy-http-address", addr)
	p.cmd.Stdout, p.cmd.Stderr = p.logs, p.logs
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		_ = p.cmd.Wait()
		close(p.exited)
	}()
	cleanupT.Cleanup(func() {
		p.stop(cleanupT)
		if cleanupT.Failed() {
			cleanupT.Logf("tinyforge proxy output:\n%s", tail(p.logs.String(), 60))
		}
	})
	c := &http.Client{Timeout: time.Second}
	pollCond(t, "tinyforge proxy to answer", time.Minute, func() bool {
		select {
		case <-p.exited:
			t.Fatalf("tinyforge proxy exited:\n%s", tail(p.logs.String(), 40))
		default:
		}
		resp, err := c.Get("http://" + addr + "/")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return true
	})
	return p
}

func (p *proxyProc) stop(t *testing.T) {
	select {
	case <-p.exited:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(time.Minute):
		_ = p.cmd.Process.Kill()
		t.Errorf("tinyforge proxy did not exit within a minute of SIGTERM")
	}
}

// hammer sends requests for host through s's proxy address until stopped
// and counts what failed.
type hammer struct {
	ok, failed atomic.Int64
	firstErr   atomic.Value
	stopCh     chan struct{}
	wg         sync.WaitGroup
}

func startHammer(s *server, host string, workers int) *hammer {
	h := &hammer{stopCh: make(chan struct{})}
	for range workers {
		h.wg.Go(func() {
			for {
				select {
				case <-h.stopCh:
					return
				default:
				}
				code, body, err := s.get(host, "/")
				if err != nil || code != 200 {
					h.failed.Add(1)
					h.firstErr.CompareAndSwap(nil, fmt.Sprintf("%d %q %v", code, body, err))
					continue
				}
				h.ok.Add(1)
			}
		})
	}
	return h
}

// stop ends the load and fails t if any request failed.
func (h *hammer) stop(t *testing.T, during string) {
	t.Helper()
	close(h.stopCh)
	h.wg.Wait()
	if h.ok.Load() == 0 {
		t.Errorf("no request succeeded %s", during)
	}
	if h.failed.Load() > 0 {
		t.Errorf("%d of %d requests failed %s; first: %v", h.failed.Load(), h.ok.Load()+h.failed.Load(), during, h.firstErr.Load())
	}
	t.Logf("%d requests %s, %d failed", h.ok.Load(), during, h.failed.Load())
}

// TestStandaloneProxy runs the controllers in a server without a proxy and
// `tinyforge proxy` apart, fed from status.routes: it serves, switches
// blue-green without dropping a request, follows a host change, keeps
// serving across its own restart and while the control plane is down.
func TestStandaloneProxy(t *testing.T) {
	cli := dockertest.Client(t)
	dockertest.CleanupContainers(t, cli, docker.LabelWorkload+"=apart", docker.LabelNamespace+"=default")
	tag := fmt.Sprintf("tinyforge-e2e/apart-%d", time.Now().UnixNano())
	dockertest.BuildTestApp(t, cli, tag+":v1", dockertest.WithVersion("v1"))
	dockertest.BuildTestApp(t, cli, tag+":v2", dockertest.WithVersion("v2"))

	s := startServer(t, "", "--proxy=false", "--resync-period=3s")
	if code, _, err := s.get("x.localhost", "/"); err == nil {
		t.Fatalf("the server answered on the proxy address (%d) with --proxy=false", code)
	}
	top := t
	px := startProxy(t, top, s, s.ProxyAddr)
	host := "apart.default.localhost"

	t.Run("serves the published route", func(t *testing.T) {
		s.mustApply(t, webWorkload("apart", tag+":v1", ""))
		s.forgectl(t, "wait", "--for=condition=Ready", "wl/apart", "--timeout=120s")
		s.waitServes(t, host, "version=v1")
		routes := s.forgectl(t, "get", "wl/apart", "-o", "jsonpath={.status.routes[0].host} {.status.routes[0].backends[0].revision}")
		mustContain(t, "status.routes", routes, host, "sha256:")
		mustContain(t, "status.url", s.forgectl(t, "get", "wl/apart", "-o", "jsonpath={.status.url}"), "http://"+host+":")
	})

	t.Run("blue-green switch drops no request", func(t *testing.T) {
		h := startHammer(s, host, 4)
		s.mustApply(t, webWorkload("apart", tag+":v2", ""))
		s.waitServes(t, host, "version=v2")
		pollCond(t, "one running container", 60*time.Second, func() bool { return len(running(t, cli, "default", "apart")) == 1 })
		h.stop(t, "through tinyforge proxy during the switch")
	})

	t.Run("a changed host is served and the old one removed", func(t *testing.T) {
		s.mustApply(t, strings.Replace(webWorkload("apart", tag+":v2", ""), "routes: [{port: 8080}]", "routes: [{host: moved.localhost, port: 8080}]", 1))
		s.waitServes(t, "moved.localhost", "version=v2")
		pollCond(t, "the old host to answer 404", 60*time.Second, func() bool {
			code, _, err := s.get(host, "/")
			return err == nil && code == http.StatusNotFound
		})
		routes := s.forgectl(t, "get", "wl/apart", "-o", "jsonpath={.status.routes[*].host}")
		if routes != "moved.localhost" {
			t.Errorf("status.routes hosts %q, want only moved.localhost", routes)
		}
	})

	t.Run("a restarted proxy serves at once", func(t *testing.T) {
		px.stop(t)
		px = startProxy(t, top, s, s.ProxyAddr)
		if code, body, err := s.get("moved.localhost", "/"); err != nil || code != 200 || !strings.Contains(body, "version=v2") {
			t.Errorf("first request after the restart: %d %q %v", code, body, err)
		}
	})

	t.Run("serves while the control plane is down", func(t *testing.T) {
		if err := s.terminate(); err != nil {
			t.Fatalf("stopping the server: %v", err)
		}
		h := startHammer(s, "moved.localhost", 2)
		deadline := time.Now().Add(2 * time.Second)
		for time.Now().Before(deadline) && h.ok.Load() < 50 {
			time.Sleep(20 * time.Millisecond)
		}
		h.stop(t, "with the server stopped")
	})
}
