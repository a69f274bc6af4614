package registry

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
)

func TestAuthFor(t *testing.T) {
	basic := func(user, pass string) string {
		return base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))
	}
	const secret = "s3cr3t-Passw0rd"
	tests := []struct {
		name   string
		config string
		host   string
		want   authn.AuthConfig
		// wantErr is part of the error; the secret never is.
		wantErr string
	}{
		{
			name:   "plain host key",
			config: `{"auths":{"127.0.0.1:5000":{"auth":"` + basic("ci", secret) + `"}}}`,
			host:   "127.0.0.1:5000",
			want:   authn.AuthConfig{Username: "ci", Password: secret, Auth: basic("ci", secret)},
		},
		{
			name:   "URL key",
			config: `{"auths":{"http://127.0.0.1:5000/v2/":{"username":"ci","password":"` + secret + `"}}}`,
			host:   "127.0.0.1:5000",
			want:   authn.AuthConfig{Username: "ci", Password: secret},
		},
		{
			name:   "docker hub's legacy key",
			config: `{"auths":{"https://index.docker.io/v1/":{"username":"hub","password":"` + secret + `"}}}`,
			host:   "index.docker.io",
			want:   authn.AuthConfig{Username: "hub", Password: secret},
		},
		{
			name: "exact key wins",
			config: `{"auths":{"https://r.example/v2/":{"username":"url","password":"x"},
				"r.example":{"username":"exact","password":"y"}}}`,
			host: "r.example",
			want: authn.AuthConfig{Username: "exact", Password: "y"},
		},
		{
			name:   "identity token",
			config: `{"auths":{"r.example":{"identitytoken":"` + secret + `"}}}`,
			host:   "r.example",
			want:   authn.AuthConfig{IdentityToken: secret},
		},
		{
			name:    "no entry for the host",
			config:  `{"auths":{"other.example":{"username":"ci","password":"` + secret + `"}}}`,
			host:    "r.example",
			wantErr: "no credentials for registry r.example",
		},
		{
			name:    "not JSON",
			config:  `{"auths":` + secret,
			host:    "r.example",
			wantErr: "not a Docker config JSON",
		},
		{
			name:    "auth is not base64",
			config:  `{"auths":{"r.example":{"auth":"` + secret + `!"}}}`,
			host:    "r.example",
			wantErr: "not a Docker config JSON",
		},
		{
			name:    "auth without a colon",
			config:  `{"auths":{"r.example":{"auth":"` + base64.StdEncoding.EncodeToString([]byte(secret)) + `"}}}`,
			host:    "r.example",
			wantErr: "not a Docker config JSON",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := authFor([]byte(tt.config), tt.host)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("authFor() error = %v, want %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), secret) {
					t.Fatalf("authFor() error reveals the secret: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			// The library fills Auth and user:password from each other.
			got.Auth, tt.want.Auth = "", ""
			if got != tt.want {
				t.Errorf("authFor() = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestPollDeliveryID(t *testing.T) {
	base := pollDeliveryID("r.example/web", "latest", testDigest)
	if !strings.HasPrefix(base, "poll-") || len(base) != len("poll-")+16 {
		t.Fatalf("pollDeliveryID = %q, want poll- and 16 hex digits", base)
	}
	tests := []struct {
		name            string
		repo, tag, dgst string
		same            bool
	}{
		{name: "same state", repo: "r.example/web", tag: "latest", dgst: testDigest, same: true},
		{name: "new digest", repo: "r.example/web", tag: "latest", dgst: "sha256:" + strings.Repeat("cd", 32)},
		{name: "new tag", repo: "r.example/web", tag: "1.0", dgst: testDigest},
		{name: "other repository", repo: "r.example/api", tag: "latest", dgst: testDigest},
		{name: "fields do not run together", repo: "r.example/web", tag: "latest" + testDigest[:3], dgst: testDigest[3:]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := pollDeliveryID(tt.repo, tt.tag, tt.dgst); (got == base) != tt.same {
				t.Errorf("pollDeliveryID = %s, base %s, want same=%v", got, base, tt.same)
			}
		})
	}
}
