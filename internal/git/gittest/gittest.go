// Package gittest serves git repositories to tests over git's smart HTTP
// protocol, with git's own git-http-backend behind an optional token check
// and TLS.
package gittest

import (
	"crypto/subtle"
	"encoding/pem"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

// Options say how a Server serves.
type Options struct {
	// Token, when set, is the password every request's basic
	// authentication must carry; others get 401.
	Token string
	// User, when set with Token, is the user name they must carry.
	User string
	// TLS serves HTTPS with a self-signed certificate, which git is told
	// to trust through GIT_SSL_CAINFO for the rest of the test (so the
	// test cannot run in parallel).
	TLS bool
}

// Server is a git HTTP server running until its test ends.
type Server struct {
	// URL is the server's base URL; a repository's URL is URL + "/" +
	// its directory name under the served root.
	URL string
	// Authorized and Refused count the requests that passed and failed
	// the token check.
	Authorized, Refused atomic.Int32
}

// Serve serves the repositories under root (git's GIT_PROJECT_ROOT).
func Serve(t testing.TB, root string, o Options) *Server {
	t.Helper()
	out, err := exec.Command("git", "--exec-path").Output()
	if err != nil {
		t.Fatalf("git --exec-path: %v", err)
	}
	path := filepath.Join(strings.TrimSpace(string(out)), "git-http-backend")
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("git http-backend: %v", err)
	}
	backend := &cgi.Handler{
		Path: path,
		Root: "/",
		Env:  []string{"GIT_PROJECT_ROOT=" + root, "GIT_HTTP_EXPORT_ALL=1", "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=" + os.DevNull},
	}
	s := &Server{}
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if o.Token != "" {
			user, pass, ok := r.BasicAuth()
			if !ok || (o.User != "" && user != o.User) || subtle.ConstantTimeCompare([]byte(pass), []byte(o.Token)) != 1 {
				s.Refused.Add(1)
				w.Header().Set("WWW-Authenticate", `Basic realm="git"`)
				http.Error(w, "authentication required", http.StatusUnauthorized)
				return
			}
		}
		s.Authorized.Add(1)
		backend.ServeHTTP(w, r)
	})
	var srv *httptest.Server
	if o.TLS {
		srv = httptest.NewTLSServer(handler)
		ca := filepath.Join(t.TempDir(), "ca.pem")
		if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
			t.Fatal(err)
		}
		t.Setenv("GIT_SSL_CAINFO", ca)
	} else {
		srv = httptest.NewServer(handler)
	}
	t.Cleanup(srv.Close)
	s.URL = srv.URL
	return s
}
