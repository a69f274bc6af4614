package webhook

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/tinyforge/tinyforge/api/v1alpha1"
)

func TestDetect(t *testing.T) {
	hub := fixture(t, "dockerhub/push.json")
	distribution := fixture(t, "distribution/manifest-push.json")
	githubPush := fixture(t, "github/push.json")
	tests := []struct {
		name   string
		header http.Header
		body   []byte
		want   v1alpha1.Provider
	}{
		{name: "github", header: headers("X-GitHub-Event", "push"), body: githubPush, want: v1alpha1.ProviderGitHub},
		{name: "gitea sends the GitHub header too", header: headers("X-GitHub-Event", "push", "X-Gitea-Event", "push", "X-Gogs-Event", "push"), want: v1alpha1.ProviderGitea},
		{name: "forgejo", header: headers("X-Forgejo-Event", "push", "X-GitHub-Event", "push"), want: v1alpha1.ProviderGitea},
		{name: "gitlab", header: headers("X-Gitlab-Event", "Push Hook"), want: v1alpha1.ProviderGitLab},
		{name: "distribution", header: headers("Content-Type", "application/vnd.docker.distribution.events.v1+json"), body: distribution, want: v1alpha1.ProviderDistribution},
		{name: "distribution with a charset", header: headers("Content-Type", "application/vnd.docker.distribution.events.v1+json; charset=utf-8"), want: v1alpha1.ProviderDistribution},
		{name: "distribution signed form", header: headers("Content-Type", "application/vnd.docker.distribution.events.v1+prettyjws"), want: v1alpha1.ProviderDistribution},
		{name: "distribution media type in capitals", header: headers("Content-Type", "Application/VND.Docker.Distribution.Events.v1+JSON"), want: v1alpha1.ProviderDistribution},
		{name: "generic by header", header: headers("X-TinyForge-Event", "image-push", "Content-Type", "application/json"), want: v1alpha1.ProviderGeneric},
		{name: "generic by content type", header: headers("Content-Type", "application/vnd.tinyforge.event.v1+json; charset=utf-8"), want: v1alpha1.ProviderGeneric},
		{name: "harbor by body", header: headers("Content-Type", "application/json"), body: []byte(harborPush), want: v1alpha1.ProviderHarbor},
		{name: "harbor CloudEvents by body", body: []byte(harborCloudEventPush), want: v1alpha1.ProviderHarbor},
		{name: "docker hub by body", header: headers("Content-Type", "application/json"), body: hub, want: v1alpha1.ProviderDockerHub},
		{name: "a header wins over the body", header: headers("X-Gitlab-Event", "Push Hook"), body: hub, want: v1alpha1.ProviderGitLab},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Detect(tt.header, tt.body)
			if err != nil || got != tt.want {
				t.Errorf("Detect() = %q, %v; want %q", got, err, tt.want)
			}
		})
	}

	for _, tt := range []struct {
		name   string
		header http.Header
		body   []byte
	}{
		{name: "nothing", header: http.Header{}},
		{name: "plain JSON of another service", header: headers("Content-Type", "application/json"), body: []byte(`{"type":"x"}`)},
		{name: "CloudEvents of another service", body: []byte(`{"specversion":"1.0","type":"com.example.thing","data":{}}`)},
		{name: "not JSON", header: headers("Content-Type", "text/plain"), body: []byte("push_data callback_url")},
		{name: "distribution look-alike media type", header: headers("Content-Type", "application/vnd.docker.distribution.events.v10+json")},
	} {
		t.Run("unknown: "+tt.name, func(t *testing.T) {
			got, err := Detect(tt.header, tt.body)
			if !errors.Is(err, ErrUnsupported) {
				t.Fatalf("Detect() = %q, %v; want ErrUnsupported", got, err)
			}
			for _, h := range []string{"X-Gitea-Event", "X-GitHub-Event", "X-Gitlab-Event", "X-TinyForge-Event", "Content-Type"} {
				if !strings.Contains(err.Error(), h) {
					t.Errorf("error %q does not say it looked at %s", err, h)
				}
			}
		})
	}
}
