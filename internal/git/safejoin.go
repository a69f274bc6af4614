package git

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// ErrUnsafePath is wrapped by SafeJoin's refusals.
var ErrUnsafePath = errors.New("path escapes the checkout")

// maxSymlinks bounds the symlinks SafeJoin follows, as the kernel's ELOOP
// limit does.
const maxSymlinks = 40

// SafeJoin returns the path rel names inside root, with every symlink along
// it resolved, and refuses (ErrUnsafePath) a rel that is absolute, that
// climbs out of root with "..", or that resolves through symlinks to a
// place outside root at any step. Absolute symlink targets count as inside
// only when they point under root. The part of rel that does not exist yet
// is joined as it is. rel uses slashes; "" and "." name root itself.
//
// The answer holds for the tree as it was looked at: SafeJoin is meant for
// trees no one else writes to meanwhile, such as a fresh checkout.
func SafeJoin(root, rel string) (string, error) {
	switch {
	case strings.IndexByte(rel, 0) >= 0:
		return "", fmt.Errorf("%w: %q contains a NUL byte", ErrUnsafePath, rel)
	case filepath.IsAbs(rel) || strings.HasPrefix(rel, "/") || strings.HasPrefix(rel, `\`):
		return "", fmt.Errorf("%w: %q is absolute", ErrUnsafePath, rel)
	}
	clean := filepath.Clean(filepath.FromSlash(rel))
	if clean == ".." || strings.HasPrefix(clean, ".."+string(filepath.Separator)) {
		return "", fmt.Errorf("%w: %q climbs out with '..'", ErrUnsafePath, rel)
	}
	base, err := filepath.Abs(root)
	if err != nil {
		return "", fmt.Errorf("resolving root %s: %w", root, err)
	}
	if base, err = filepath.EvalSymlinks(base); err != nil {
		return "", fmt.Errorf("resolving root %s: %w", root, err)
	}

	cur := base
	parts := splitPath(clean)
	links := 0
	for len(parts) > 0 {
		p := parts[0]
		parts = parts[1:]
		switch p {
		case "", ".":
			continue
		case "..":
			cur = filepath.Dir(cur)
			if !within(base, cur) {
				return "", fmt.Errorf("%w: %q leads out of the checkout", ErrUnsafePath, rel)
			}
			continue
		}
		next := filepath.Join(cur, p)
		fi, err := os.Lstat(next)
		switch {
		case errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR):
			// What does not exist cannot lead anywhere: the rest is joined
			// as it is.
			cur = next
			continue
		case err != nil:
			return "", fmt.Errorf("resolving %q: %w", rel, err)
		case fi.Mode()&fs.ModeSymlink == 0:
			cur = next
			continue
		}
		if links++; links > maxSymlinks {
			return "", fmt.Errorf("%w: %q: too many levels of symbolic links", ErrUnsafePath, rel)
		}
		target, err := os.Readlink(next)
		if err != nil {
			return "", fmt.Errorf("resolving %q: %w", rel, err)
		}
		if filepath.IsAbs(target) {
			inside, err := filepath.Rel(base, filepath.Clean(target))
			if err != nil || inside == ".." || strings.HasPrefix(inside, ".."+string(filepath.Separator)) {
				return "", fmt.Errorf("%w: %q is a symlink to %s, outside the checkout",
					ErrUnsafePath, relTo(base, next), target)
			}
			cur, target = base, inside
		}
		parts = append(splitPath(target), parts...)
	}
	if !within(base, cur) {
		return "", fmt.Errorf("%w: %q leads out of the checkout", ErrUnsafePath, rel)
	}
	return cur, nil
}

// within reports whether path is base or under it; both are clean and
// absolute.
func within(base, path string) bool {
	if path == base {
		return true
	}
	prefix := base
	if !strings.HasSuffix(prefix, string(filepath.Separator)) {
		prefix += string(filepath.Separator)
	}
	return strings.HasPrefix(path, prefix)
}

func splitPath(p string) []string {
	return strings.Split(filepath.ToSlash(p), "/")
}

// relTo names path relative to base, for messages.
func relTo(base, path string) string {
	if r, err := filepath.Rel(base, path); err == nil {
		return filepath.ToSlash(r)
	}
	return path
}
