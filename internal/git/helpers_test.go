package git

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// testRepo is a repository made with the git CLI: a work tree where the
// test commits, and a bare clone beside it that the fetch tests read.
type testRepo struct {
	t    *testing.T
	work string
	bare string
}

// newRepo makes a repository with one commit on main.
func newRepo(t *testing.T) *testRepo {
	t.Helper()
	dir := t.TempDir()
	r := &testRepo{t: t, work: filepath.Join(dir, "work"), bare: filepath.Join(dir, "site.git")}
	gitCmd(t, "", "init", "--quiet", "--initial-branch=main", r.work)
	r.write("index.html", "v1\n")
	r.commit("first")
	gitCmd(t, "", "init", "--quiet", "--bare", "--initial-branch=main", r.bare)
	r.push()
	return r
}

// url is the bare repository's file:// URL.
func (r *testRepo) url() string { return "file://" + r.bare }

func (r *testRepo) write(name, content string) {
	r.t.Helper()
	p := filepath.Join(r.work, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		r.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		r.t.Fatal(err)
	}
}

// commit commits everything and returns the commit ID.
func (r *testRepo) commit(msg string) string {
	r.t.Helper()
	gitCmd(r.t, r.work, "add", "--all")
	gitCmd(r.t, r.work, "commit", "--quiet", "--allow-empty", "-m", msg)
	return gitCmd(r.t, r.work, "rev-parse", "HEAD")
}

// push pushes every branch and tag to the bare repository.
func (r *testRepo) push() {
	r.t.Helper()
	gitCmd(r.t, r.work, "push", "--quiet", "--force", "--all", r.bare)
	gitCmd(r.t, r.work, "push", "--quiet", "--force", "--tags", r.bare)
}

// gitCmd runs git for a test, with a config of its own, and returns its
// trimmed stdout.
func gitCmd(t testing.TB, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"GIT_CONFIG_GLOBAL="+os.DevNull, "GIT_CONFIG_NOSYSTEM=1",
		"GIT_AUTHOR_NAME=Test", "GIT_AUTHOR_EMAIL=test@example.com",
		"GIT_COMMITTER_NAME=Test", "GIT_COMMITTER_EMAIL=test@example.com",
	)
	out, err := cmd.Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, stderr)
	}
	return strings.TrimSpace(string(out))
}

func readFile(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// freePort returns a loopback port nobody listens on right now.
func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// gitDaemon serves the bare repositories under base with git daemon on a
// loopback port, and returns the git:// URL of base.
func gitDaemon(t *testing.T, base string) string {
	t.Helper()
	var (
		port int
		cmd  *exec.Cmd
	)
	deadline := time.Now().Add(20 * time.Second)
	for {
		// The port may be taken between choosing it and git daemon binding
		// it: choose again.
		port = freePort(t)
		cmd = exec.Command("git", "daemon", "--export-all", "--reuseaddr", "--informative-errors",
			"--base-path="+base, "--listen=127.0.0.1", fmt.Sprintf("--port=%d", port), base)
		cmd.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL="+os.DevNull, "GIT_CONFIG_NOSYSTEM=1")
		if err := cmd.Start(); err != nil {
			t.Fatalf("starting git daemon: %v", err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		if waitListening(fmt.Sprintf("127.0.0.1:%d", port), exited, 5*time.Second) {
			t.Cleanup(func() {
				_ = cmd.Process.Kill()
				<-exited
			})
			return fmt.Sprintf("git://127.0.0.1:%d", port)
		}
		_ = cmd.Process.Kill()
		<-exited
		if time.Now().After(deadline) {
			t.Fatal("git daemon did not start listening")
		}
	}
}

// waitListening polls addr until it accepts a connection, the process
// exits, or timeout passes.
func waitListening(addr string, exited <-chan error, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			_ = c.Close()
			return true
		}
		select {
		case <-exited:
			return false
		case <-time.After(20 * time.Millisecond):
		}
	}
	return false
}

// hangingServer accepts connections and never answers, and returns its
// address.
func hangingServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		<-done
		for _, c := range conns {
			_ = c.Close()
		}
	})
	return ln.Addr().String()
}
