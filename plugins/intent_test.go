package plugins

import (
	"strings"
	"testing"
)

const (
	testDigest = "sha256:3f2a7c6f8b1e4d5a9c0b7e6d5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b0c9d8e7f6a"
	testCommit = "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c"
)

func TestDeploymentIntentValidate(t *testing.T) {
	tests := []struct {
		name    string
		intent  DeploymentIntent
		wantErr []string
	}{
		{
			name:   "image intent",
			intent: DeploymentIntent{Revision: testDigest, Reason: "pushed", Image: &ImageRef{Repository: "registry.local/web", Tag: "1.0", Digest: testDigest}},
		},
		{
			name:   "git intent",
			intent: DeploymentIntent{Revision: testCommit, Git: &GitRef{URL: "git://localhost/app.git", Ref: "refs/heads/main", Commit: testCommit}},
		},
		{
			name:   "config hash, nothing else",
			intent: DeploymentIntent{Revision: "config-5d41402abc4b"},
		},
		{
			name:   "empty revision redeploys the current spec",
			intent: DeploymentIntent{Reason: "cron schedule */5 * * * * fired"},
		},
		{
			name:    "empty revision without a reason",
			intent:  DeploymentIntent{},
			wantErr: []string{"revision is empty and no reason is given"},
		},
		{
			name:    "revision too long",
			intent:  DeploymentIntent{Revision: strings.Repeat("a", MaxRevisionLength+1)},
			wantErr: []string{"revision is 129 bytes long, more than 128"},
		},
		{
			name:    "revision with a space",
			intent:  DeploymentIntent{Revision: "a b"},
			wantErr: []string{`revision "a b" contains spaces or control characters`},
		},
		{
			name:    "revision with a newline",
			intent:  DeploymentIntent{Revision: "a\n"},
			wantErr: []string{"contains spaces or control characters"},
		},
		{
			name:    "image without repository, bad digest",
			intent:  DeploymentIntent{Revision: "r", Image: &ImageRef{Digest: "sha256:xyz"}},
			wantErr: []string{"image repository is empty", `image digest "sha256:xyz" is not algorithm:hex`},
		},
		{
			name:    "git without URL or commit",
			intent:  DeploymentIntent{Revision: "r", Git: &GitRef{Ref: "refs/heads/main"}},
			wantErr: []string{"git URL is empty", `git commit "" is not a hexadecimal commit ID`},
		},
		{
			name:    "git commit in upper case",
			intent:  DeploymentIntent{Revision: "r", Git: &GitRef{URL: "u", Commit: strings.ToUpper(testCommit)}},
			wantErr: []string{"is not a hexadecimal commit ID"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.intent.Validate()
			if len(tt.wantErr) == 0 {
				if err != nil {
					t.Errorf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate() = nil, want %q", tt.wantErr)
			}
			for _, want := range tt.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("Validate() = %q, want it to contain %q", err, want)
				}
			}
		})
	}
}

func TestImageRefString(t *testing.T) {
	tests := []struct {
		name string
		ref  ImageRef
		want string
	}{
		{name: "repository only", ref: ImageRef{Repository: "web"}, want: "web"},
		{name: "tag", ref: ImageRef{Repository: "localhost:5000/web", Tag: "1.2"}, want: "localhost:5000/web:1.2"},
		{name: "digest", ref: ImageRef{Repository: "web", Digest: testDigest}, want: "web@" + testDigest},
		{name: "tag and digest", ref: ImageRef{Repository: "web", Tag: "1", Digest: testDigest}, want: "web:1@" + testDigest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.ref.String(); got != tt.want {
				t.Errorf("String() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestMatchResultValidate(t *testing.T) {
	tests := []struct {
		name    string
		result  MatchResult
		wantErr string
	}{
		{name: "matched", result: Matched(DeploymentIntent{Revision: testDigest})},
		{name: "skipped", result: Skipped("tag %q is outside the tag policy", "1.0-rc1")},
		{name: "zero value", result: MatchResult{}, wantErr: "neither an intent nor a skip reason"},
		{name: "both", result: MatchResult{Intent: &DeploymentIntent{Revision: "r"}, SkipReason: "x"}, wantErr: "both an intent and a skip reason"},
		{name: "invalid intent", result: Matched(DeploymentIntent{}), wantErr: "match result intent: revision is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.result.Validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Errorf("Validate() = %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Validate() = %v, want %q", err, tt.wantErr)
			}
		})
	}
	if got := Skipped("tag %q is outside the tag policy", "1.0-rc1").SkipReason; got != `tag "1.0-rc1" is outside the tag policy` {
		t.Errorf("Skipped() reason = %q", got)
	}
}

func TestMatchedCopiesTheIntent(t *testing.T) {
	intent := DeploymentIntent{Revision: "a"}
	r := Matched(intent)
	intent.Revision = "b"
	if r.Intent.Revision != "a" {
		t.Errorf("Matched() kept a reference to the caller's intent")
	}
}
