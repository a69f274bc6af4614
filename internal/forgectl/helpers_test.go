package forgectl

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/tinyforge/tinyforge/internal/datadir"
)

// isolate points every default forgectl reads at empty temp locations, so
// the developer's own kubeconfig, kuberc and TinyForge data dir stay out.
func isolate(t *testing.T) {
	t.Helper()
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("KUBECONFIG", "")
	t.Setenv("KUBERC", "off")
	t.Setenv(datadir.EnvVar, filepath.Join(home, "no-data-dir"))
}

// runForgectl runs forgectl in-process and returns what it printed.
func runForgectl(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	streams := genericiooptions.IOStreams{In: &bytes.Buffer{}, Out: &out, ErrOut: &errOut}
	err = Run(context.Background(), streams, args)
	return out.String(), errOut.String(), err
}

// exitCode is the status the binary would have exited with for err.
func exitCode(t *testing.T, err error) int {
	t.Helper()
	if err == nil {
		return 0
	}
	var exit *ExitError
	if !errors.As(err, &exit) {
		t.Fatalf("Run returned %T (%v), want *ExitError", err, err)
	}
	return exit.Code
}

// writeKubeconfig writes a kubeconfig whose only cluster is at server.
func writeKubeconfig(t *testing.T, path, server string) {
	t.Helper()
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["c"] = &clientcmdapi.Cluster{Server: server}
	cfg.AuthInfos["u"] = &clientcmdapi.AuthInfo{Token: "t"}
	cfg.Contexts["c"] = &clientcmdapi.Context{Cluster: "c", AuthInfo: "u"}
	cfg.CurrentContext = "c"
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
}

// newNamingServer answers every request with the first segment of its path,
// so a kubeconfig whose server is <URL>/<name> shows, through
// `forgectl get --raw /version`, which file the REST client was built from.
func newNamingServer(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name, _, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
		fmt.Fprint(w, name)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func contains(s, substr string) bool { return strings.Contains(s, substr) }

func discardStreams() genericiooptions.IOStreams {
	streams, _, _, _ := genericiooptions.NewTestIOStreams()
	return streams
}
