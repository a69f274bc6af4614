package dockertest

import (
	"strings"
	"testing"
	"time"
)

func TestDockerfile(t *testing.T) {
	tests := []struct {
		name    string
		opts    []BuildOption
		want    []string // lines that must be present
		wantErr string
	}{
		{
			name: "plain",
			want: []string{"FROM scratch", "COPY testapp /testapp", `ENTRYPOINT ["/testapp"]`, `LABEL tinyforge.dev/test="true"`, `ENV TINYFORGE_TEST_BUILD="n0"`},
		},
		{
			name: "version, env and health check",
			opts: []BuildOption{WithVersion("v2"), WithEnv("A", `$x "y" \z`), WithHealthcheck(250 * time.Millisecond)},
			want: []string{
				`HEALTHCHECK --interval=250ms --timeout=5s --retries=3 CMD ["/testapp", "-healthcheck"]`,
				`ENV TINYFORGE_TEST_BUILD="n0" VERSION="v2" A="\$x \"y\" \\z"`,
			},
		},
		{name: "key with a space", opts: []BuildOption{WithEnv("A B", "x")}, wantErr: "not usable"},
		{name: "empty key", opts: []BuildOption{WithEnv("", "x")}, wantErr: "not usable"},
		{name: "line break", opts: []BuildOption{WithEnv("A", "x\nRUN boom")}, wantErr: "line break"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &buildConfig{}
			for _, o := range tt.opts {
				o(c)
			}
			got, err := c.dockerfile("n0")
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(got, "\n")
			for _, w := range tt.want {
				found := false
				for _, l := range lines {
					found = found || l == w
				}
				if !found {
					t.Errorf("missing line %q in\n%s", w, got)
				}
			}
			// The uncached ENV step must come last, after every cached one.
			if last := lines[len(lines)-2]; !strings.HasPrefix(last, "ENV ") {
				t.Errorf("last instruction %q, want the ENV step", last)
			}
		})
	}
}
