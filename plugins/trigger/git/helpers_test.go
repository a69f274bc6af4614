package git

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"

	"github.com/tinyforge/tinyforge/plugins"
)

// testRepo is a real git repository made with the git CLI in a temporary
// folder, reached through a file:// URL.
type testRepo struct {
	dir string
	url string
	// Commits by what points to them.
	main, release, v1, v2rc string
	// v1Object is the annotated tag object of v1.0.0 (not a commit).
	v1Object string
}

// newTestRepo creates a repository with a main branch of two commits, a
// release/1.0 branch at the first, an annotated tag v1.0.0 at the first
// and a lightweight tag v2.0.0-rc.1 at the second.
func newTestRepo(t *testing.T) *testRepo {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "web.git")
	r := &testRepo{dir: dir, url: "file://" + dir}
	r.git(t, "init", "--quiet", "--initial-branch=main", dir)
	r.git(t, "-C", dir, "commit", "--quiet", "--allow-empty", "-m", "first")
	r.v1 = r.git(t, "-C", dir, "rev-parse", "HEAD")
	r.release = r.v1
	r.git(t, "-C", dir, "branch", "release/1.0")
	r.git(t, "-C", dir, "tag", "-a", "v1.0.0", "-m", "release 1.0.0")
	r.v1Object = r.git(t, "-C", dir, "rev-parse", "v1.0.0")
	r.git(t, "-C", dir, "commit", "--quiet", "--allow-empty", "-m", "second")
	r.main = r.git(t, "-C", dir, "rev-parse", "HEAD")
	r.v2rc = r.main
	r.git(t, "-C", dir, "tag", "v2.0.0-rc.1")
	if r.v1Object == r.v1 {
		t.Fatal("v1.0.0 is not an annotated tag")
	}
	return r
}

// git runs the git CLI and returns its trimmed output.
func (r *testRepo) git(t *testing.T, args ...string) string {
	t.Helper()
	base := []string{"-c", "user.name=Test", "-c", "user.email=test@example.com", "-c", "commit.gpgsign=false", "-c", "tag.gpgsign=false"}
	cmd := exec.Command("git", append(base, args...)...)
	cmd.Env = append(cmd.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// logBuffer is a logger that keeps every line, at every verbosity, so
// tests can check what is logged.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) logger() logr.Logger {
	return funcr.New(func(prefix, args string) {
		b.mu.Lock()
		defer b.mu.Unlock()
		fmt.Fprintln(&b.buf, prefix, args)
	}, funcr.Options{Verbosity: 10})
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// secrets is a SecretReader over a map of "namespace/name/key" to value,
// standing in for the API server.
func secrets(values map[string]string) plugins.SecretReader {
	return plugins.SecretReaderFunc(func(_ context.Context, namespace, name, key string) ([]byte, error) {
		v, ok := values[namespace+"/"+name+"/"+key]
		if !ok {
			return nil, fmt.Errorf("secret %s/%s key %s: %w", namespace, name, key, plugins.ErrSecretNotFound)
		}
		return []byte(v), nil
	})
}
