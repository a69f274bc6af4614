package static

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tinyforge/tinyforge/internal/git/gittest"
	"github.com/tinyforge/tinyforge/plugins"
)

// A token from the secretRef Secret authenticates to an https repository;
// a wrong or missing one fails the deploy without showing the token.
func TestDeployWithToken(t *testing.T) {
	e := setupEnv(t)
	e.repo.write(map[string]string{"site/index.html": "private\n"})
	e.repo.commit("v1")
	const token = "glpat-0123456789abcdefghij"
	url := e.httpsRepo(token) + "/site.git"
	secrets := map[string]string{"good/token": token, "bad/token": "wrong-" + token}
	e.deps.Secrets = plugins.SecretReaderFunc(func(_ context.Context, namespace, name, key string) ([]byte, error) {
		if namespace != e.ns {
			t.Errorf("secret read from namespace %s", namespace)
		}
		v, ok := secrets[name+"/"+key]
		if !ok {
			return nil, fmt.Errorf("secret %s/%s key %s: %w", namespace, name, key, plugins.ErrSecretNotFound)
		}
		return []byte(v), nil
	})
	tests := []struct {
		name    string
		secret  string
		wantIs  error
		wantErr string
	}{
		{name: "token", secret: "good"},
		{name: "wrong token", secret: "bad", wantErr: "terminal prompts disabled"},
		{name: "missing secret", secret: "none", wantIs: plugins.ErrSecretNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := e.config(map[string]any{
				"git":       map[string]any{"url": url, "path": "site"},
				"secretRef": map[string]any{"name": tt.secret},
			})
			if errs := e.src.Validate(testPath, cfg); len(errs) > 0 {
				t.Fatal(errs)
			}
			res, err := e.src.Deploy(e.ctx, e.deps, e.workload("private", cfg, ""), plugins.DeploymentIntent{Reason: "config change"})
			if tt.wantIs == nil && tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Deploy: %v", err)
				}
				t.Logf("deployed: %s", res.Message)
				if code, body := fetch(t, "http://"+e.routes.backend(e.key("private")).Address+"/"); code != http.StatusOK || body != "private\n" {
					t.Errorf("GET / = %d %q", code, body)
				}
				return
			}
			if err == nil {
				t.Fatal("Deploy succeeded")
			}
			t.Logf("refused: %v", err)
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("error does not wrap %v", tt.wantIs)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error does not contain %q", tt.wantErr)
			}
			if strings.Contains(err.Error(), token) {
				t.Error("error shows the token")
			}
		})
	}
}

// httpsRepo serves the bare repositories beside the test repository over
// git's smart HTTP protocol on TLS, requiring basic authentication with
// password token, and makes git trust its certificate. It returns the
// server's URL.
func (e *env) httpsRepo(token string) string {
	return gittest.Serve(e.t, filepath.Dir(e.repo.bare), gittest.Options{Token: token, TLS: true}).URL
}
