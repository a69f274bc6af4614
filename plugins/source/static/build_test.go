package static

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"

	"github.com/tinyforge/tinyforge/internal/git"
	"github.com/tinyforge/tinyforge/plugins"
)

func TestDockerfile(t *testing.T) {
	tests := []struct {
		name   string
		config string
		labels map[string]string
		want   string
	}{
		{
			name:   "defaults",
			config: `{"git":{"url":"https://h/r"}}`,
			want:   "FROM nginx:1-alpine\nCOPY [\"site/\",\"/usr/share/nginx/html/\"]\n",
		},
		{
			name:   "labels",
			config: `{"git":{"url":"https://h/r"}}`,
			labels: map[string]string{"b": "x$y", "a": "q\"uo\\te\nRUN evil"},
			want:   "FROM nginx:1-alpine\nCOPY [\"site/\",\"/usr/share/nginx/html/\"]\nLABEL \"a\"=\"q\\\"uo\\\\te RUN evil\" \"b\"=\"x\\$y\"\n",
		},
		{
			name:   "build step",
			config: `{"git":{"url":"https://h/r"},"build":{"image":"node:22","command":["sh","-c","npm ci && echo \"<ok>\"\nx"],"outputDir":"out/./public/"},"baseImage":"caddy:2","root":"/srv/www/"}`,
			want: "FROM node:22 AS build\n" +
				"COPY [\"site/\",\"/src/\"]\n" +
				"WORKDIR /src\n" +
				"RUN [\"sh\",\"-c\",\"npm ci && echo \\\"<ok>\\\"\\nx\"]\n" +
				"FROM caddy:2\n" +
				"COPY --from=build [\"/src/out/public/\",\"/srv/www/\"]\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set, errs := parseConfig(testPath, []byte(tt.config))
			if len(errs) > 0 {
				t.Fatal(errs)
			}
			if got := dockerfile(set, tt.labels); got != tt.want {
				t.Errorf("dockerfile =\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

// The build stream is read to its end; the build stage's last image is
// noted (not the FROM image), lines split across messages are joined, and
// a failure quotes the output's last lines.
func TestReadBuildOutput(t *testing.T) {
	staged := `{"stream":"Step 1/6 : FROM tf-build AS build\n"}
{"stream":" ---\u003e 1111111111aa\n"}
{"stream":"Step 2/6 : COPY [\"site/\",\"/src/\"]\n"}
{"stream":" ---\u003e 2222222222bb\n"}
{"stream":"Step 3/6 : WORKDIR /src\n"}
{"stream":" ---\u003e Using cache\n"}
{"stream":" ---\u003e 3333333333"}
{"stream":"cc\n"}
`
	tests := []struct {
		name      string
		stream    string
		staged    bool
		wantID    string
		wantStage string
		wantErr   []string
	}{
		{
			name:      "success",
			stream:    staged + `{"stream":"Step 4/6 : RUN [\"b\"]\n"}` + "\n" + `{"stream":" ---\u003e Running in 9999\n"}` + "\n" + `{"stream":"built\n"}` + "\n" + `{"stream":" ---\u003e 4444444444dd\n"}` + "\n" + `{"stream":"Step 5/6 : FROM base\n"}` + "\n" + `{"stream":" ---\u003e 5555555555ee\n"}` + "\n" + `{"stream":"Step 6/6 : COPY --from=build x y\n"}` + "\n" + `{"stream":" ---\u003e 6666666666ff\n"}` + "\n" + `{"aux":{"ID":"sha256:66"}}` + "\n",
			staged:    true,
			wantID:    "sha256:66",
			wantStage: "4444444444dd",
		},
		{
			name:      "failed step",
			stream:    staged + `{"stream":"Step 4/6 : RUN [\"b\"]\n"}` + "\n" + `{"stream":"npm ERR! missing script: build\n"}` + "\n" + `{"errorDetail":{"code":3,"message":"The command '/b' returned a non-zero code: 3"},"error":"The command '/b' returned a non-zero code: 3"}` + "\n",
			staged:    true,
			wantStage: "3333333333cc",
			wantErr:   []string{"returned a non-zero code: 3", "npm ERR! missing script: build", "Step 3/6 : WORKDIR /src"},
		},
		{
			name:   "no stage",
			stream: `{"stream":"Step 1/2 : FROM base\n"}` + "\n" + `{"stream":" ---\u003e 5555555555ee\n"}` + "\n" + `{"stream":"Step 2/2 : COPY x y\n"}` + "\n" + `{"stream":" ---\u003e 6666666666ff\n"}` + "\n",
		},
		{
			name:    "garbage",
			stream:  `{"stream":"x"} nope`,
			wantErr: []string{"reading the build output"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := readBuildOutput(strings.NewReader(tt.stream), tt.staged)
			if res.id != tt.wantID || res.stage != tt.wantStage {
				t.Errorf("id %q stage %q, want %q and %q", res.id, res.stage, tt.wantID, tt.wantStage)
			}
			if len(tt.wantErr) == 0 {
				if res.err != nil {
					t.Errorf("err = %v", res.err)
				}
				return
			}
			if !errors.Is(res.err, ErrBuildFailed) {
				t.Fatalf("err = %v, want ErrBuildFailed", res.err)
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(res.err.Error(), w) {
					t.Errorf("error %q does not contain %q", res.err, w)
				}
			}
		})
	}
	// Only the last lines are quoted.
	var long strings.Builder
	for i := range 100 {
		long.WriteString(`{"stream":"line ` + strings.Repeat("x", i) + `\n"}` + "\n")
	}
	long.WriteString(`{"error":"boom"}` + "\n")
	res := readBuildOutput(strings.NewReader(long.String()), false)
	if n := strings.Count(res.err.Error(), "\n"); n > outputTailLines+1 {
		t.Errorf("error quotes %d lines", n)
	}
}

// siteTree makes a checkout-like tree:
//
//	checkout/.git/config
//	checkout/site/index.html, run.sh (executable)
//	checkout/site/logo.png -> ../assets/logo.png   (a file elsewhere in the checkout)
//	checkout/site/docs -> pages                    (a folder of the site)
//	checkout/site/pages/a.html
//	checkout/site/gone -> nothing                  (dangling)
//	checkout/assets/logo.png
func siteTree(t *testing.T) (checkout string) {
	t.Helper()
	tmp, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	checkout = filepath.Join(tmp, "checkout")
	files := map[string]string{
		".git/config":       "[core]",
		"site/index.html":   "<h1>hi</h1>",
		"site/run.sh":       "#!/bin/sh",
		"site/pages/a.html": "a",
		"assets/logo.png":   "png",
	}
	for name, body := range files {
		p := filepath.Join(checkout, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(filepath.Join(checkout, "site", "run.sh"), 0o755); err != nil {
		t.Fatal(err)
	}
	for link, target := range map[string]string{"site/logo.png": "../assets/logo.png", "site/docs": "pages", "site/gone": "nothing"} {
		if err := os.Symlink(target, filepath.Join(checkout, filepath.FromSlash(link))); err != nil {
			t.Fatal(err)
		}
	}
	return checkout
}

// The build context holds the Dockerfile and the site's files: files
// reached through symlinks inside the checkout are copied, symlinked
// folders of the site stay links, dangling links and .git are left out.
func TestBuildContext(t *testing.T) {
	checkout := siteTree(t)
	deps := plugins.Deps{Log: logr.Discard()}
	tests := []struct {
		name string
		dir  string
		want map[string]string // name -> content, "->target" for links, "/" for folders
	}{
		{
			name: "subfolder",
			dir:  "site",
			want: map[string]string{
				"Dockerfile": "FROM x\n", "site/": "/", "site/index.html": "<h1>hi</h1>", "site/run.sh": "#!/bin/sh",
				"site/logo.png": "png", "site/docs": "->pages", "site/pages/": "/", "site/pages/a.html": "a",
			},
		},
		{
			name: "whole checkout without .git",
			dir:  ".",
			want: map[string]string{
				"Dockerfile": "FROM x\n", "site/": "/", "site/site/": "/", "site/site/index.html": "<h1>hi</h1>", "site/site/run.sh": "#!/bin/sh",
				"site/site/logo.png": "png", "site/site/docs": "->pages", "site/site/pages/": "/", "site/site/pages/a.html": "a",
				"site/assets/": "/", "site/assets/logo.png": "png",
			},
		},
	}
	mtime := time.Unix(1700000000, 0)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, err := git.SafeJoin(checkout, tt.dir)
			if err != nil {
				t.Fatal(err)
			}
			entries, err := scanSite(deps, checkout, dir)
			if err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			if err := writeContext(&buf, "FROM x\n", entries, mtime); err != nil {
				t.Fatal(err)
			}
			got := map[string]string{}
			tr := tar.NewReader(&buf)
			for {
				hdr, err := tr.Next()
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				if !hdr.ModTime.Equal(mtime) {
					t.Errorf("%s has mtime %v", hdr.Name, hdr.ModTime)
				}
				switch hdr.Typeflag {
				case tar.TypeDir:
					got[hdr.Name] = "/"
				case tar.TypeSymlink:
					got[hdr.Name] = "->" + hdr.Linkname
				default:
					b, _ := io.ReadAll(tr)
					got[hdr.Name] = string(b)
					if strings.HasSuffix(hdr.Name, "run.sh") != (hdr.Mode == 0o755) {
						t.Errorf("%s has mode %o", hdr.Name, hdr.Mode)
					}
				}
			}
			for k, v := range tt.want {
				if got[k] != v {
					t.Errorf("%s = %q, want %q", k, got[k], v)
				}
			}
			for k := range got {
				if _, ok := tt.want[k]; !ok {
					t.Errorf("unexpected %s in the context", k)
				}
			}
		})
	}
}

// A symlink of the site that leads out of the checkout, or to a folder
// outside the site, fails the build before anything is packaged.
func TestBuildContextRefusesEscapes(t *testing.T) {
	tests := []struct {
		name   string
		link   string
		target string
	}{
		{name: "absolute", link: "site/passwd", target: "/etc/passwd"},
		{name: "relative", link: "site/up", target: "../../.."},
		{name: "deep", link: "site/pages/x", target: "../../../outside"},
		{name: "folder outside the site", link: "site/assets", target: "../assets"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkout := siteTree(t)
			if err := os.MkdirAll(filepath.Join(filepath.Dir(checkout), "outside"), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(tt.target, filepath.Join(checkout, filepath.FromSlash(tt.link))); err != nil {
				t.Fatal(err)
			}
			_, err := scanSite(plugins.Deps{Log: logr.Discard()}, checkout, filepath.Join(checkout, "site"))
			if !errors.Is(err, git.ErrUnsafePath) {
				t.Fatalf("scanSite = %v, want ErrUnsafePath", err)
			}
			if !strings.Contains(err.Error(), strings.TrimPrefix(tt.link, "site/")) {
				t.Errorf("error %q does not name %s", err, tt.link)
			}
		})
	}
}

func TestImageNames(t *testing.T) {
	tests := []struct {
		name      string
		namespace string
		workload  string
		want      string
	}{
		{name: "plain", namespace: "shop", workload: "web", want: "tinyforge-static/shop-web"},
		{name: "dots", namespace: "shop", workload: "www.example.com", want: "tinyforge-static/shop-www.example.com"},
		{name: "long", namespace: strings.Repeat("n", 63), workload: strings.Repeat("w", 200)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := plugins.Workload{Namespace: tt.namespace, Name: tt.workload}
			got := imageRepository(w)
			if tt.want != "" && got != tt.want {
				t.Errorf("imageRepository = %q, want %q", got, tt.want)
			}
			if len(got) > maxRepositoryLength {
				t.Errorf("imageRepository = %q, %d characters", got, len(got))
			}
			tag := imageTag(w, "012345678901-abcdefab")
			if !strings.HasPrefix(tag, got+":") {
				t.Errorf("imageTag = %q", tag)
			}
			other := imageRepository(plugins.Workload{Namespace: tt.namespace, Name: tt.workload + "x"})
			if other == got {
				t.Errorf("two workloads share repository %q", got)
			}
		})
	}
}
