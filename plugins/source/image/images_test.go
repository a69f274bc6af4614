package image

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/distribution/reference"
	"github.com/docker/docker/api/types/image"
)

func TestAuthFor(t *testing.T) {
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	config := `{"auths":{
		"https://index.docker.io/v1/":{"auth":"` + b64("hubuser:hubpass") + `"},
		"registry.example:5000":{"username":"u","password":"p"},
		"http://127.0.0.1:5000/v2/":{"identitytoken":"tok"},
		"bad.example":{"auth":"%%%"},
		"nocolon.example":{"auth":"` + b64("justuser") + `"}}}`
	tests := []struct {
		name, domain     string
		wantUser, wantPW string
		wantToken        string
		wantErr          string
	}{
		{name: "docker hub by its legacy key", domain: "docker.io", wantUser: "hubuser", wantPW: "hubpass"},
		{name: "host and port", domain: "registry.example:5000", wantUser: "u", wantPW: "p"},
		{name: "URL key with a path", domain: "127.0.0.1:5000", wantToken: "tok"},
		{name: "no entry", domain: "ghcr.io", wantErr: "no credentials for registry ghcr.io"},
		{name: "auth not base64", domain: "bad.example", wantErr: "not base64"},
		{name: "auth without a colon", domain: "nocolon.example", wantErr: "not user:password"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := authFor([]byte(config), tt.domain)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("authFor() error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Username != tt.wantUser || got.Password != tt.wantPW || got.IdentityToken != tt.wantToken {
				t.Errorf("authFor() = %+v", got)
			}
		})
	}
	if _, err := authFor([]byte(`not json`), "docker.io"); err == nil {
		t.Error("authFor(garbage) succeeded")
	}
}

func TestFromInspect(t *testing.T) {
	const id = "sha256:1111111111111111111111111111111111111111111111111111111111111111"
	const dA = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	const dB = "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
	insp := image.InspectResponse{ID: id, RepoDigests: []string{"other/repo@" + dB, "registry.example:5000/web@" + dA, "web@" + dB}}
	tests := []struct {
		name, ref         string
		wantRev, wantUsed string
	}{
		{name: "tag of a pulled repository", ref: "registry.example:5000/web:1", wantRev: dA, wantUsed: "registry.example:5000/web@" + dA},
		{name: "familiar name", ref: "web:latest", wantRev: dB, wantUsed: "docker.io/library/web@" + dB},
		{name: "pinned digest", ref: "registry.example:5000/web@" + dA, wantRev: dA, wantUsed: "registry.example:5000/web@" + dA},
		{name: "never pulled from that repository", ref: "local/app:dev", wantRev: id, wantUsed: id},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			named, err := reference.ParseNormalizedNamed(tt.ref)
			if err != nil {
				t.Fatal(err)
			}
			got := fromInspect(insp, named)
			if got.revision != tt.wantRev || got.ref != tt.wantUsed {
				t.Errorf("fromInspect() = revision %s ref %s, want %s %s", got.revision, got.ref, tt.wantRev, tt.wantUsed)
			}
		})
	}
}

func TestLooksLikeDigest(t *testing.T) {
	for s, want := range map[string]bool{
		"sha256:" + strings.Repeat("a", 64): true,
		"sha256:abc":                        false,
		"0123456789abcdef":                  false,
		"":                                  false,
		"g7":                                false,
	} {
		if got := looksLikeDigest(s); got != want {
			t.Errorf("looksLikeDigest(%q) = %v, want %v", s, got, want)
		}
	}
}
