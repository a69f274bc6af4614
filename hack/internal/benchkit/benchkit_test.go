package benchkit

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A log excerpt holds the error lines and a panic with its frames, or the
// last lines when nothing panicked, cut to length.
func TestLogExcerpt(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, lines ...string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	long := "I " + strings.Repeat("x", 400)
	calm := write("calm.log", "I one", `{"level":"error","msg":"zap failed"}`, "I two", "W three", "I four", "I five", "I six", long)
	got := LogExcerpt(calm)
	want := []string{
		`    {"level":"error","msg":"zap failed"}`,
		"    W three", "    I four", "    I five", "    I six",
		"    " + long[:maxLineLength] + "...",
	}
	if got != strings.Join(want, "\n") {
		t.Errorf("LogExcerpt(calm) =\n%s\nwant\n%s", got, strings.Join(want, "\n"))
	}

	lines := []string{"E0101 early error", "I quiet", "panic: boom", "goroutine 1 [running]:"}
	for i := range 30 {
		lines = append(lines, "frame", "I after "+string(rune('a'+i%26)))
	}
	got = LogExcerpt(write("panic.log", lines...))
	for _, w := range []string{"E0101 early error", "panic: boom", "goroutine 1 [running]:"} {
		if !strings.Contains(got, w) {
			t.Errorf("LogExcerpt(panic) lacks %q:\n%s", w, got)
		}
	}
	if n := strings.Count(got, "\n") + 1; n != 1+panicFrameLines {
		t.Errorf("LogExcerpt(panic) has %d lines, want the error and %d of the panic:\n%s", n, panicFrameLines, got)
	}
	if strings.Contains(got, "I quiet") {
		t.Errorf("LogExcerpt(panic) has a line before the panic that is no error:\n%s", got)
	}

	if got := LogExcerpt(filepath.Join(dir, "missing.log")); !strings.HasPrefix(got, "(no log: ") {
		t.Errorf("LogExcerpt(missing) = %q", got)
	}
}

// FetchProfile writes the body of a 200 and refuses any other status.
func TestFetchProfile(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/debug/pprof/heap" {
			http.Error(w, "no such profile", http.StatusNotFound)
			return
		}
		w.Write([]byte("profile bytes"))
	}))
	defer srv.Close()
	path := filepath.Join(t.TempDir(), "heap.prof")
	if err := FetchProfile(t.Context(), srv.Client(), srv.URL+"/debug/pprof/heap", time.Minute, path); err != nil {
		t.Fatal(err)
	}
	if data, err := os.ReadFile(path); err != nil || string(data) != "profile bytes" {
		t.Errorf("profile = %q, %v", data, err)
	}
	err := FetchProfile(t.Context(), srv.Client(), srv.URL+"/debug/pprof/nope", time.Minute, filepath.Join(t.TempDir(), "x"))
	if err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("FetchProfile(404) = %v, want an error naming the status", err)
	}
}
