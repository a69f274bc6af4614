package main

import (
	"bytes"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestBuildStep(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	if err := os.MkdirAll(filepath.Join(src, "css"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, body := range map[string]string{"index.html": "<h1>hi</h1>\n", "css/site.css": "body{}\n"} {
		if err := os.WriteFile(filepath.Join(src, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("index.html", filepath.Join(src, "home.html")); err != nil {
		t.Fatal(err)
	}
	dist := filepath.Join(dir, "dist")

	tests := []struct {
		name       string
		cfg        config
		wantCode   int
		wantStdout string
		wantStderr string
	}{
		{name: "copy", cfg: config{buildCopy: src + ":" + dist}, wantStdout: "copied 2 files"},
		{name: "copy onto itself again fails", cfg: config{buildCopy: src + ":" + dist}, wantCode: 1, wantStderr: "exists"},
		{name: "bad argument", cfg: config{buildCopy: "src"}, wantCode: 2, wantStderr: "SRC:DST"},
		{name: "missing source", cfg: config{buildCopy: filepath.Join(dir, "none") + ":" + filepath.Join(dir, "x")}, wantCode: 1, wantStderr: "no such file"},
		{name: "fail", cfg: config{buildFail: "npm ERR! missing script: build"}, wantCode: buildFailCode, wantStderr: "npm ERR! missing script: build\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := buildStep(tt.cfg, &stdout, &stderr); code != tt.wantCode {
				t.Errorf("exit code %d, want %d (stderr %q)", code, tt.wantCode, stderr.String())
			}
			if !strings.Contains(stdout.String(), tt.wantStdout) || !strings.Contains(stderr.String(), tt.wantStderr) {
				t.Errorf("stdout %q, stderr %q; want %q and %q", stdout.String(), stderr.String(), tt.wantStdout, tt.wantStderr)
			}
		})
	}
	for name, want := range map[string]string{"index.html": "<h1>hi</h1>\n", "css/site.css": "body{}\n", "home.html": "<h1>hi</h1>\n", "built.txt": "built from " + src + "\n"} {
		if b, err := os.ReadFile(filepath.Join(dist, name)); err != nil || string(b) != want {
			t.Errorf("dist/%s = %q, %v; want %q", name, b, err, want)
		}
	}
	if link, err := os.Readlink(filepath.Join(dist, "home.html")); err != nil || link != "index.html" {
		t.Errorf("dist/home.html links to %q, %v; want index.html", link, err)
	}
}

// In static mode the directory's files answer every path the endpoints
// leave, index.html answers /, and /healthz still works.
func TestStaticMode(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "docs"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, body := range map[string]string{"index.html": "<h1>home</h1>\n", "docs/a.txt": "a\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	s := newTestServer(t, config{staticDir: dir, version: "v1"})
	tests := []struct {
		name       string
		path       string
		wantStatus int
		wantBody   string
	}{
		{name: "index", path: "/", wantStatus: http.StatusOK, wantBody: "<h1>home</h1>\n"},
		{name: "file", path: "/docs/a.txt", wantStatus: http.StatusOK, wantBody: "a\n"},
		{name: "missing", path: "/nope.html", wantStatus: http.StatusNotFound, wantBody: "404 page not found\n"},
		{name: "health", path: "/healthz", wantStatus: http.StatusOK, wantBody: "ok\n"},
		{name: "no escape", path: "/../../etc/passwd", wantStatus: http.StatusNotFound, wantBody: "404 page not found\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := s.do(t, http.MethodGet, tt.path)
			if code != tt.wantStatus || body != tt.wantBody {
				t.Errorf("GET %s = %d %q, want %d %q", tt.path, code, body, tt.wantStatus, tt.wantBody)
			}
		})
	}
}
