package static

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/build"
	"github.com/docker/docker/api/types/image"

	"github.com/tinyforge/tinyforge/internal/git"
	"github.com/tinyforge/tinyforge/plugins"
)

// ErrBuildFailed is wrapped when the image build fails: the build step
// exited non-zero, an image could not be pulled, a COPY found nothing.
var ErrBuildFailed = errors.New("building the site image failed")

const (
	// outputTailLines is how much of the build output a failure quotes.
	outputTailLines = 20
	// maxOutputTail bounds the quoted output in bytes, for the Rollout
	// message.
	maxOutputTail = 4096
	// cleanupTimeout bounds the removal of build leftovers after the
	// caller's context may have ended.
	cleanupTimeout = 30 * time.Second
	// contextDockerfile is the Dockerfile's name in the build context; the
	// site is under site/ beside it.
	contextDockerfile = "Dockerfile"
)

// siteBuild is one image to build from a checked-out folder.
type siteBuild struct {
	// checkout and dir are the real paths of the checkout and of the
	// site's folder in it (git.SafeJoin of git.path).
	checkout, dir string
	// mtime of every file: the commit's time, so identical trees give
	// identical contexts, and a new commit new validators for caches.
	mtime  time.Time
	set    *settings
	tag    string
	labels map[string]string
}

// buildImage builds b's image with the classic builder (Docker 20.10's
// BuildKit needs a session the plain API call does not open), tags it and
// returns its ID. The site's folder is checked first: a symlink leading
// out of the checkout fails the build before Docker sees anything.
func buildImage(ctx context.Context, deps plugins.Deps, b siteBuild) (string, error) {
	entries, err := scanSite(deps, b.checkout, b.dir)
	if err != nil {
		return "", err
	}
	pr, pw := io.Pipe()
	written := make(chan error, 1)
	go func() {
		err := writeContext(pw, dockerfile(b.set, b.labels), entries, b.mtime)
		_ = pw.CloseWithError(err)
		written <- err
	}()
	resp, err := deps.Docker.ImageBuild(ctx, pr, build.ImageBuildOptions{
		Tags:        []string{b.tag},
		Dockerfile:  contextDockerfile,
		Remove:      true,
		ForceRemove: true,
		Version:     build.BuilderV1,
	})
	if err != nil {
		_ = pr.CloseWithError(err)
		<-written
		return "", fmt.Errorf("%w: %w", ErrBuildFailed, err)
	}
	out := readBuildOutput(resp.Body, b.set.Build != nil)
	_ = resp.Body.Close()
	_ = pr.Close()
	werr := <-written
	removeStage(ctx, deps, out.stage)
	switch {
	case werr != nil && !errors.Is(werr, io.ErrClosedPipe):
		return "", fmt.Errorf("writing the build context: %w", werr)
	case out.err != nil:
		return "", out.err
	}
	if out.id != "" {
		return out.id, nil
	}
	insp, err := deps.Docker.ImageInspect(ctx, b.tag)
	if err != nil {
		return "", fmt.Errorf("inspecting the built image %s: %w", b.tag, err)
	}
	return insp.ID, nil
}

// dockerfile renders the build's Dockerfile. Values go in JSON arrays
// (exec form), which the Dockerfile parser reads as JSON: nothing in them
// can start another instruction. Validate keeps $ and globs out of paths,
// which COPY would expand. The labels are one LABEL instruction, last:
// every instruction of the classic builder is a step that commits an
// image, and the COPY before it stays cached across rollouts.
func dockerfile(set *settings, labels map[string]string) string {
	var b strings.Builder
	root := path.Clean(set.Root) + "/"
	if set.Build != nil {
		fmt.Fprintf(&b, "FROM %s AS build\n", set.Build.Image)
		fmt.Fprintf(&b, "COPY %s\n", jsonArray("site/", "/src/"))
		b.WriteString("WORKDIR /src\n")
		fmt.Fprintf(&b, "RUN %s\n", jsonArray(set.Build.Command...))
		fmt.Fprintf(&b, "FROM %s\n", set.BaseImage)
		fmt.Fprintf(&b, "COPY --from=build %s\n", jsonArray(path.Join("/src", set.Build.OutputDir)+"/", root))
	} else {
		fmt.Fprintf(&b, "FROM %s\n", set.BaseImage)
		fmt.Fprintf(&b, "COPY %s\n", jsonArray("site/", root))
	}
	if len(labels) > 0 {
		b.WriteString("LABEL")
		for _, k := range slices.Sorted(maps.Keys(labels)) {
			fmt.Fprintf(&b, " %s=%s", quoteLabel(k), quoteLabel(labels[k]))
		}
		b.WriteString("\n")
	}
	return b.String()
}

// quoteLabel quotes s for a LABEL instruction: inside double quotes the
// parser unescapes \ and expands $, and a line break would end the
// instruction, so those are escaped or replaced.
func quoteLabel(s string) string {
	s = strings.NewReplacer(`\`, `\\`, `"`, `\"`, `$`, `\$`, "\n", " ", "\r", " ").Replace(s)
	return `"` + s + `"`
}

func jsonArray(items ...string) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(items); err != nil {
		// A []string always encodes.
		return "[]"
	}
	return strings.TrimSuffix(buf.String(), "\n")
}

// entry is one file of the build context.
type entry struct {
	name string // in the tar, under site/
	typ  byte
	mode int64
	src  string // the file to read, for tar.TypeReg
	size int64
	link string // for tar.TypeSymlink
}

// scanSite lists the site's folder for the build context. Symlinks are
// where a repository could reach outside its checkout, so each is resolved
// with git.SafeJoin: one leading out of the checkout is refused; one to a
// file inside is packaged as that file (its target may lie outside the
// site's folder); one to a folder inside the site's folder stays a symlink;
// one to a folder elsewhere is refused; a dangling one is left out. The
// checkout's .git is left out.
func scanSite(deps plugins.Deps, checkout, dir string) ([]entry, error) {
	entries := []entry{{name: "site/", typ: tar.TypeDir, mode: 0o755}}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == dir {
			return nil
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if dir == checkout && rel == ".git" {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		name := "site/" + rel
		switch {
		case d.IsDir():
			entries = append(entries, entry{name: name + "/", typ: tar.TypeDir, mode: 0o755})
		case d.Type().IsRegular():
			info, err := d.Info()
			if err != nil {
				return err
			}
			entries = append(entries, entry{name: name, typ: tar.TypeReg, mode: fileMode(info.Mode()), src: p, size: info.Size()})
		case d.Type()&fs.ModeSymlink != 0:
			e, ok, err := symlinkEntry(checkout, dir, p, name)
			if err != nil {
				return fmt.Errorf("site file %s: %w", rel, err)
			}
			if ok {
				entries = append(entries, e)
			} else {
				deps.Log.V(1).Info("Leaving out a dangling symlink of the site", "file", rel)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading the site's folder: %w", err)
	}
	return entries, nil
}

// symlinkEntry packages the symlink at p (named name in the context).
func symlinkEntry(checkout, dir, p, name string) (entry, bool, error) {
	relCheckout, err := filepath.Rel(checkout, p)
	if err != nil {
		return entry{}, false, err
	}
	target, err := git.SafeJoin(checkout, filepath.ToSlash(relCheckout))
	if err != nil {
		return entry{}, false, err
	}
	fi, err := os.Stat(target)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return entry{}, false, nil
	case err != nil:
		return entry{}, false, err
	case fi.Mode().IsRegular():
		return entry{name: name, typ: tar.TypeReg, mode: fileMode(fi.Mode()), src: target, size: fi.Size()}, true, nil
	case fi.IsDir():
		inside, err := filepath.Rel(dir, target)
		if err != nil || inside == ".." || strings.HasPrefix(inside, "../") {
			return entry{}, false, fmt.Errorf("%w: a symlink to a folder outside the site's folder", git.ErrUnsafePath)
		}
		link, err := filepath.Rel(filepath.Dir(p), target)
		if err != nil {
			return entry{}, false, err
		}
		return entry{name: name, typ: tar.TypeSymlink, mode: 0o777, link: filepath.ToSlash(link)}, true, nil
	}
	return entry{}, false, nil
}

// fileMode keeps only whether a file is executable, as git does.
func fileMode(m fs.FileMode) int64 {
	if m.Perm()&0o111 != 0 {
		return 0o755
	}
	return 0o644
}

// writeContext writes the build context: the Dockerfile, then entries.
func writeContext(w io.Writer, dockerfile string, entries []entry, mtime time.Time) error {
	tw := tar.NewWriter(w)
	hdr := func(name string, typ byte, mode, size int64, link string) *tar.Header {
		return &tar.Header{Name: name, Typeflag: typ, Mode: mode, Size: size, Linkname: link, ModTime: mtime, Format: tar.FormatPAX}
	}
	if err := tw.WriteHeader(hdr(contextDockerfile, tar.TypeReg, 0o644, int64(len(dockerfile)), "")); err != nil {
		return err
	}
	if _, err := io.WriteString(tw, dockerfile); err != nil {
		return err
	}
	for _, e := range entries {
		if err := tw.WriteHeader(hdr(e.name, e.typ, e.mode, e.size, e.link)); err != nil {
			return fmt.Errorf("%s: %w", e.name, err)
		}
		if e.typ == tar.TypeReg {
			if err := copyFile(tw, e.src, e.size); err != nil {
				return fmt.Errorf("%s: %w", e.name, err)
			}
		}
	}
	return tw.Close()
}

func copyFile(w io.Writer, name string, size int64) error {
	f, err := os.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := io.CopyN(w, f, size); err != nil {
		return fmt.Errorf("file changed while packaging it: %w", err)
	}
	return nil
}

// buildResult is what the build's output stream said.
type buildResult struct {
	// id of the image built, when the daemon reports it.
	id string
	// stage is the last image the build stage committed: an untagged
	// image (with untagged parents) nothing else needs once the build is
	// over.
	stage string
	// err is the build's failure, quoting the end of its output.
	err error
}

var (
	stepFrom = regexp.MustCompile(`^Step [0-9]+/[0-9]+ : FROM `)
	stepID   = regexp.MustCompile(`^ ---> ([0-9a-f]{12,64})$`)
)

// readBuildOutput reads the daemon's JSON message stream to its end. With
// a build stage, it notes the last image of that stage: the classic
// builder keeps every step's image as cache, and those of a stage the
// final image does not descend from would pile up.
func readBuildOutput(r io.Reader, staged bool) buildResult {
	var (
		res       buildResult
		tail      []string
		partial   string
		froms     int
		afterFrom bool
	)
	line := func(l string) {
		if strings.TrimSpace(l) != "" {
			if tail = append(tail, l); len(tail) > outputTailLines {
				tail = tail[1:]
			}
		}
		switch {
		case !staged:
		case stepFrom.MatchString(l):
			froms++
			afterFrom = true
		case stepID.MatchString(l):
			if afterFrom {
				// The FROM image itself: never a leftover.
				afterFrom = false
			} else if froms == 1 {
				res.stage = stepID.FindStringSubmatch(l)[1]
			}
		}
	}
	dec := json.NewDecoder(r)
	for {
		var msg struct {
			Stream      string `json:"stream"`
			Error       string `json:"error"`
			ErrorDetail *struct {
				Message string `json:"message"`
			} `json:"errorDetail"`
			Aux json.RawMessage `json:"aux"`
		}
		if err := dec.Decode(&msg); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			res.err = fmt.Errorf("%w: reading the build output: %w", ErrBuildFailed, err)
			return res
		}
		partial += msg.Stream
		for {
			i := strings.IndexByte(partial, '\n')
			if i < 0 {
				break
			}
			line(strings.TrimRight(partial[:i], "\r"))
			partial = partial[i+1:]
		}
		if msg.ErrorDetail != nil && msg.ErrorDetail.Message != "" {
			msg.Error = msg.ErrorDetail.Message
		}
		if msg.Error != "" {
			if partial != "" {
				line(partial)
			}
			res.err = fmt.Errorf("%w: %s%s", ErrBuildFailed, strings.TrimSpace(msg.Error), quoteTail(tail))
			return res
		}
		var aux struct{ ID string }
		if len(msg.Aux) > 0 && json.Unmarshal(msg.Aux, &aux) == nil && aux.ID != "" {
			res.id = aux.ID
		}
	}
	return res
}

// quoteTail formats the last lines of the build output for an error.
func quoteTail(lines []string) string {
	if len(lines) == 0 {
		return ""
	}
	s := strings.Join(lines, "\n")
	if len(s) > maxOutputTail {
		s = "…" + s[len(s)-maxOutputTail:]
	}
	return "\nlast lines of the build output:\n" + s
}

// removeStage removes the build stage's last image and its untagged
// parents, unless it is tagged or still needed (a concurrent build using
// it as cache keeps it, and that is fine).
func removeStage(ctx context.Context, deps plugins.Deps, id string) {
	if id == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	insp, err := deps.Docker.ImageInspect(ctx, id)
	if err != nil || len(insp.RepoTags) > 0 || len(insp.RepoDigests) > 0 {
		return
	}
	_, err = deps.Docker.ImageRemove(ctx, insp.ID, image.RemoveOptions{PruneChildren: true})
	if err != nil && !cerrdefs.IsNotFound(err) {
		deps.Log.V(1).Info("Could not remove the build stage's cache image", "image", id, "reason", err.Error())
	}
}
