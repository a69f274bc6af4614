package git

import (
	"errors"
	"strings"
	"testing"
)

// A runner with maxStdout fails a command that prints more, instead of
// keeping all of it.
func TestRunBoundsStdout(t *testing.T) {
	t.Parallel()
	r := newRunner("", nil)
	out, err := r.run(t.Context(), t.TempDir(), "--version")
	if err != nil || !strings.HasPrefix(out, "git version ") {
		t.Fatalf("git --version = %q, %v", out, err)
	}
	r.maxStdout = 8
	out, err = r.run(t.Context(), t.TempDir(), "--version")
	var ge *Error
	if !errors.As(err, &ge) || !strings.Contains(err.Error(), "more than 8 bytes of output") || out != "" {
		t.Errorf("git --version with 8 bytes of room = %q, %v; want an *Error", out, err)
	}
}
