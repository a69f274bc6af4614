package dockertest

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/go-connections/nat"

	"github.com/tinyforge/tinyforge/internal/docker"
)

// pollInterval is how often the Wait helpers look again: short enough that
// measured times are close to the truth, long enough to cost nothing.
const pollInterval = 25 * time.Millisecond

// WaitHTTP polls url with GET until it answers 200 with a body containing
// want (any 200 when want is empty), and returns that body. It fails the
// test with the last answer or error when timeout passes first. Each poll
// opens a new connection, as a fresh client would. Call it from the test's
// goroutine.
func WaitHTTP(t testing.TB, url, want string, timeout time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	defer c.CloseIdleConnections()
	var last string
	for {
		body, ok, desc := getOnce(t.Context(), c, url, want, deadline)
		if ok {
			return body
		}
		last = desc
		if !sleepUntilNext(t.Context(), deadline) {
			t.Fatalf("dockertest: %s gave no 200 containing %q within %v; last: %s", url, want, timeout, last)
		}
	}
}

func getOnce(ctx context.Context, c *http.Client, url, want string, deadline time.Time) (body string, ok bool, desc string) {
	// A poll may not outlive the deadline, nor hang on a stuck server.
	if limit := time.Now().Add(2 * time.Second); limit.Before(deadline) {
		deadline = limit
	}
	ctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", false, err.Error()
	}
	resp, err := c.Do(req)
	if err != nil {
		return "", false, err.Error()
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return "", false, fmt.Sprintf("%s, reading body: %v", resp.Status, err)
	}
	if resp.StatusCode == http.StatusOK && strings.Contains(string(b), want) {
		return string(b), true, ""
	}
	return "", false, fmt.Sprintf("%s %q", resp.Status, b)
}

// sleepUntilNext waits one poll interval, and reports false when the
// deadline (or the test) ends first.
func sleepUntilNext(ctx context.Context, deadline time.Time) bool {
	if !time.Now().Before(deadline) {
		return false
	}
	timer := time.NewTimer(min(pollInterval, time.Until(deadline)))
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// WaitHealth polls the container until Docker's own health status is want
// (container.Healthy, container.Unhealthy or container.Starting) and returns
// the inspection that showed it. It fails the test at once when the image
// has no HEALTHCHECK or the container stops, and with the last probe's
// output when timeout passes first.
func WaitHealth(t testing.TB, cli docker.API, containerID, want string, timeout time.Duration) container.InspectResponse {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last string
	for {
		insp, err := cli.ContainerInspect(t.Context(), containerID)
		switch {
		case err != nil:
			last = err.Error()
		case insp.State == nil:
			last = "no state"
		case insp.State.Health == nil:
			t.Fatalf("dockertest: container %.12s has no health check; build its image WithHealthcheck", containerID)
		case insp.State.Health.Status == want:
			return insp
		case !insp.State.Running:
			t.Fatalf("dockertest: container %.12s stopped (%s, exit code %d) while waiting for health %q",
				containerID, insp.State.Status, insp.State.ExitCode, want)
		default:
			last = "health " + insp.State.Health.Status
			if n := len(insp.State.Health.Log); n > 0 {
				p := insp.State.Health.Log[n-1]
				last += fmt.Sprintf(", last probe exit %d: %q", p.ExitCode, strings.TrimSpace(p.Output))
			}
		}
		if !sleepUntilNext(t.Context(), deadline) {
			t.Fatalf("dockertest: container %.12s not %q within %v; last: %s", containerID, want, timeout, last)
		}
	}
}

// HostAddr returns the host:port a published container port (such as
// TestAppPort, "8080/tcp"; "/tcp" is assumed when no protocol is given) is
// reachable at from the host. A binding on every interface is reported on
// 127.0.0.1.
func HostAddr(t testing.TB, cli docker.API, containerID, port string) string {
	t.Helper()
	if !strings.Contains(port, "/") {
		port += "/tcp"
	}
	insp, err := cli.ContainerInspect(t.Context(), containerID)
	if err != nil {
		t.Fatalf("dockertest: inspecting container %.12s: %v", containerID, err)
	}
	if insp.NetworkSettings != nil {
		for _, b := range insp.NetworkSettings.Ports[nat.Port(port)] {
			if b.HostPort == "" {
				continue
			}
			ip := b.HostIP
			if ip == "" || ip == "0.0.0.0" || ip == "::" {
				ip = "127.0.0.1"
			}
			return net.JoinHostPort(ip, b.HostPort)
		}
	}
	t.Fatalf("dockertest: container %.12s publishes no host port for %s (is it running, with a PortBinding?)", containerID, port)
	return ""
}

// NetworkAddr returns the host:port of container port port (such as "8080")
// at the container's own address on Docker network networkName ("bridge"
// for the default one), where the host reaches it without Docker's
// userland proxy.
func NetworkAddr(t testing.TB, cli docker.API, containerID, networkName, port string) string {
	t.Helper()
	insp, err := cli.ContainerInspect(t.Context(), containerID)
	if err != nil {
		t.Fatalf("dockertest: inspecting container %.12s: %v", containerID, err)
	}
	if insp.NetworkSettings != nil {
		if ep := insp.NetworkSettings.Networks[networkName]; ep != nil && ep.IPAddress != "" {
			return net.JoinHostPort(ep.IPAddress, port)
		}
	}
	t.Fatalf("dockertest: container %.12s has no address on network %s (is it running, attached to it?)", containerID, networkName)
	return ""
}
