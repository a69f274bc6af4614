package main

import (
	"io"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/tinyforge/tinyforge/plugins/source/compose"
	"github.com/tinyforge/tinyforge/plugins/source/static"
)

func TestParseFigures(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []int
		wantErr string
	}{
		{name: "empty is all", in: ""},
		{name: "blank is all", in: "  "},
		{name: "two", in: "8,9", want: []int{8, 9}},
		{name: "spaces", in: " 8 , 9 ", want: []int{8, 9}},
		{name: "range", in: "1-3,9", want: []int{1, 2, 3, 9}},
		{name: "repeated", in: "8,8,7-8", want: []int{7, 8}},
		{name: "zero", in: "0", wantErr: "not a figure"},
		{name: "too high", in: "10", wantErr: "not a figure"},
		{name: "word", in: "eight", wantErr: "not a figure"},
		{name: "empty part", in: "8,", wantErr: "not a figure"},
		{name: "backwards", in: "9-8", wantErr: "backwards"},
		{name: "open range", in: "8-", wantErr: "not a figure"},
		{name: "signed", in: "+8", wantErr: "not a figure"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseFigures(tt.in, numFigures)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if keys := slices.Sorted(maps.Keys(got)); !slices.Equal(keys, tt.want) {
				t.Errorf("figures %v, want %v", keys, tt.want)
			}
		})
	}
}

func TestFiguresFlag(t *testing.T) {
	o, err := parseFlags([]string{"-figures", "8,9", "-source-runs", "1"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if !o.figures[8] || !o.figures[9] || o.figures[1] || o.sourceRuns != 1 {
		t.Errorf("figures %v, source runs %d", o.figures, o.sourceRuns)
	}
	if _, err := parseFlags([]string{"-figures", "11"}, io.Discard); err == nil || !strings.Contains(err.Error(), "-figures") {
		t.Errorf("-figures 11: error %v", err)
	}
	if _, err := parseFlags([]string{"-source-runs", "0"}, io.Discard); err == nil {
		t.Error("-source-runs 0 accepted")
	}
}

func FuzzParseFigures(f *testing.F) {
	for _, s := range []string{"", "8,9", "1-9", "9-1", "-", ",", "3-3-3", "99999999999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := parseFigures(s, numFigures)
		if err != nil {
			return
		}
		for n := range got {
			if n < 1 || n > numFigures {
				t.Fatalf("parseFigures(%q) has figure %d", s, n)
			}
		}
	})
}

func TestParseComposeVersion(t *testing.T) {
	tests := []struct {
		name      string
		out       string
		wantMajor int
		wantOK    bool
	}{
		{name: "docker compose plugin", out: "Docker Compose version v2.27.0\n", wantMajor: 2, wantOK: true},
		{name: "debian v2 package", out: "Docker Compose version 2.20.2+ds1-0ubuntu1~22.04.1", wantMajor: 2, wantOK: true},
		{name: "python v1", out: "docker-compose version 1.29.2, build unknown\ndocker-py version: 5.0.3\n", wantMajor: 1, wantOK: true},
		{name: "docker without compose", out: "docker: unknown command: docker compose"},
		{name: "version last", out: "something version"},
		{name: "not a number", out: "Docker Compose version vX.1"},
		{name: "signed", out: "Docker Compose version +2.1"},
		{name: "empty", out: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			major, ok := parseComposeVersion(tt.out)
			if major != tt.wantMajor || ok != tt.wantOK {
				t.Errorf("parseComposeVersion = %d, %t; want %d, %t", major, ok, tt.wantMajor, tt.wantOK)
			}
		})
	}
}

func FuzzParseComposeVersion(f *testing.F) {
	for _, s := range []string{"Docker Compose version v2.27.0", "docker-compose version 1.29.2, build x", "version -1", "version v"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if major, ok := parseComposeVersion(s); ok && major < 0 {
			t.Fatalf("parseComposeVersion(%q) = %d", s, major)
		}
	})
}

// TestSourceWorkloadsValidate: figure 8's and 9's Workloads pass the
// compose and static sources' own validation.
func TestSourceWorkloadsValidate(t *testing.T) {
	tests := []struct {
		name     string
		validate func(*field.Path, []byte) field.ErrorList
		config   []byte
	}{
		{name: "compose stack", validate: (&compose.Source{}).Validate,
			config: composeWorkload("benchflow-1-0a1b2c3d", "stack-0", composeFile("tinyforge-bench/benchflow-1-0a1b2c3d:v1"), 100*time.Millisecond).Spec.Source.Config.Raw},
		{name: "static site", validate: (&static.Source{}).Validate,
			config: staticWorkload("benchflow-1-0a1b2c3d", siteWorkload, "file:///tmp/x/site.git", "tinyforge-bench/benchflow-1-0a1b2c3d:static", 100*time.Millisecond).Spec.Source.Config.Raw},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if errs := tt.validate(field.NewPath("spec", "source", "config"), tt.config); len(errs) > 0 {
				t.Errorf("config %s: %v", tt.config, errs.ToAggregate())
			}
		})
	}
}

func TestDockerfileEnv(t *testing.T) {
	got := dockerfile("static", "benchflow-1-0a1b2c3d", "STATIC_DIR=/www")
	if !strings.Contains(got, `ENV STATIC_DIR="/www"`+"\n") || !strings.Contains(got, `ENV VERSION="static"`) {
		t.Errorf("dockerfile lacks the env:\n%s", got)
	}
}
