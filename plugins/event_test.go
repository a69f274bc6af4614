package plugins

import "testing"

func TestGitEventRefs(t *testing.T) {
	tests := []struct {
		name       string
		ref        string
		wantBranch string
		wantTag    string
	}{
		{name: "branch", ref: "refs/heads/main", wantBranch: "main"},
		{name: "branch with a slash", ref: "refs/heads/feature/x", wantBranch: "feature/x"},
		{name: "tag", ref: "refs/tags/v1.2.0", wantTag: "v1.2.0"},
		{name: "other ref", ref: "refs/pull/1/head"},
		{name: "short name is neither", ref: "main"},
		{name: "bare prefix is neither", ref: "refs/heads/"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := &GitEvent{URL: "u", Ref: tt.ref, Commit: testCommit}
			branch, isBranch := g.Branch()
			tag, isTag := g.Tag()
			if branch != tt.wantBranch || isBranch != (tt.wantBranch != "") {
				t.Errorf("Branch() = %q, %v; want %q", branch, isBranch, tt.wantBranch)
			}
			if tag != tt.wantTag || isTag != (tt.wantTag != "") {
				t.Errorf("Tag() = %q, %v; want %q", tag, isTag, tt.wantTag)
			}
			if got := g.GitRef(); got != (GitRef{URL: "u", Ref: tt.ref, Commit: testCommit}) {
				t.Errorf("GitRef() = %+v", got)
			}
		})
	}
}
