package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// buildFailCode is the exit code of -build-fail.
const buildFailCode = 3

// buildStep runs the one-shot build mode cfg asks for, and returns the exit
// code: the static source's tests build sites in FROM scratch images,
// where there is no shell, cp or npm to do it.
func buildStep(cfg config, stdout, stderr io.Writer) int {
	if cfg.buildFail != "" {
		fmt.Fprintln(stderr, cfg.buildFail)
		return buildFailCode
	}
	src, dst, ok := strings.Cut(cfg.buildCopy, ":")
	if !ok || src == "" || dst == "" {
		fmt.Fprintf(stderr, "testapp: -build-copy wants SRC:DST, got %q\n", cfg.buildCopy)
		return 2
	}
	n, err := copyTree(src, dst)
	if err != nil {
		fmt.Fprintln(stderr, "testapp:", err)
		return 1
	}
	if err := os.WriteFile(filepath.Join(dst, "built.txt"), []byte("built from "+src+"\n"), 0o644); err != nil {
		fmt.Fprintln(stderr, "testapp:", err)
		return 1
	}
	fmt.Fprintf(stdout, "copied %d files from %s to %s\n", n, src, dst)
	return 0
}

// copyTree copies the directories, regular files and symlinks under src to
// dst, and returns how many files it copied.
func copyTree(src, dst string) (int, error) {
	files := 0
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			return os.MkdirAll(target, info.Mode().Perm()|0o700)
		case d.Type()&fs.ModeSymlink != 0:
			link, err := os.Readlink(path)
			if err != nil {
				return err
			}
			return os.Symlink(link, target)
		case d.Type().IsRegular():
			files++
			return copyFile(path, target, info.Mode().Perm())
		default:
			return fmt.Errorf("%s: not a file, directory or symlink", path)
		}
	})
	if err != nil {
		return files, fmt.Errorf("copying %s to %s: %w", src, dst, err)
	}
	return files, nil
}

func copyFile(from, to string, perm fs.FileMode) (err error) {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, out.Close()) }()
	_, err = io.Copy(out, in)
	return err
}
