package health

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestProber(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ok":
		case "/redirect":
			http.Redirect(w, r, "http://192.0.2.1/elsewhere", http.StatusFound)
		case "/slow":
			time.Sleep(300 * time.Millisecond)
		case "/missing":
			http.NotFound(w, r)
		default:
			http.Error(w, "unhealthy", http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	tests := []struct {
		path    string
		wantErr string
	}{
		{path: "/ok"},
		{path: "/redirect"},
		{path: "/missing", wantErr: "404"},
		{path: "/fail", wantErr: "503"},
		{path: "/slow", wantErr: "Timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			p := NewProber(srv.URL+tt.path, 100*time.Millisecond)
			defer p.Close()
			err := p.Get(context.Background())
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("Get(%s) = %v, want %q", tt.path, err, tt.wantErr)
			}
		})
	}
}
