package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/client"

	"github.com/tinyforge/tinyforge/internal/docker"
)

const (
	// runPrefix starts every run's namespace, temporary directory and
	// image label value: benchflow-<pid>-<random>.
	runPrefix = "benchflow-"
	// ownName is the process name a live run has in /proc/<pid>/comm.
	ownName = "benchflow"
	// cleanupTimeout bounds the removal of a run's containers and images.
	cleanupTimeout = 2 * time.Minute
	// removeWorkers is how many containers are removed at once.
	removeWorkers = 16
)

// newRunID names this run: benchflow-<pid>-<8 hex digits>, a valid
// namespace name whose pid tells a later run whether this one is alive.
func newRunID() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%s%d-%s", runPrefix, os.Getpid(), hex.EncodeToString(b))
}

// parseRunID returns the pid of a run ID newRunID made; ok is false for
// anything else.
func parseRunID(s string) (pid int, ok bool) {
	rest, found := strings.CutPrefix(s, runPrefix)
	if !found {
		return 0, false
	}
	num, suffix, found := strings.Cut(rest, "-")
	if !found || len(suffix) != 8 || len(num) == 0 || len(num) > 10 || num[0] == '0' {
		return 0, false
	}
	if _, err := hex.DecodeString(suffix); err != nil || strings.ToLower(suffix) != suffix {
		return 0, false
	}
	for _, c := range num {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	pid, err := strconv.Atoi(num)
	if err != nil || pid <= 0 {
		return 0, false
	}
	return pid, true
}

// runAlive reports whether the run id's process still runs benchflow;
// this process's own ID counts as alive.
func runAlive(id string) bool {
	pid, ok := parseRunID(id)
	if !ok {
		return true // not ours to judge
	}
	if pid == os.Getpid() {
		return true
	}
	comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	return err == nil && strings.TrimSpace(string(comm)) == ownName
}

// removeLeftovers removes the containers, images and temporary
// directories of earlier runs whose process is gone (killed before its
// cleanup); those of live runs, and everything else, stay.
func removeLeftovers(ctx context.Context, cli *client.Client) (containers, images, dirs int, err error) {
	ctx, cancel := context.WithTimeout(ctx, cleanupTimeout)
	defer cancel()
	list, err := cli.ContainerList(ctx, container.ListOptions{All: true, Filters: filters.NewArgs(filters.Arg("label", docker.LabelNamespace))})
	if err != nil {
		return 0, 0, 0, fmt.Errorf("listing containers: %w", err)
	}
	var ids []string
	for _, c := range list {
		if ns := c.Labels[docker.LabelNamespace]; strings.HasPrefix(ns, runPrefix) && !runAlive(ns) {
			ids = append(ids, c.ID)
		}
	}
	if err := removeContainers(ctx, cli, ids); err != nil {
		return 0, 0, 0, err
	}
	imgs, err := cli.ImageList(ctx, image.ListOptions{Filters: filters.NewArgs(filters.Arg("label", labelRun))})
	if err != nil {
		return len(ids), 0, 0, fmt.Errorf("listing images: %w", err)
	}
	for _, img := range imgs {
		if run := img.Labels[labelRun]; strings.HasPrefix(run, runPrefix) && !runAlive(run) {
			if err := removeImage(ctx, cli, img.ID); err != nil {
				return len(ids), images, 0, err
			}
			images++
		}
	}
	// Temporary directories are named after the run, in the same TMPDIR.
	matches, _ := filepath.Glob(filepath.Join(os.TempDir(), runPrefix+"*"))
	for _, m := range matches {
		run := filepath.Base(m)
		if i := strings.LastIndexByte(run, '.'); i > 0 {
			run = run[:i] // os.MkdirTemp's random suffix
		}
		if strings.HasPrefix(run, runPrefix) && !runAlive(run) {
			if err := os.RemoveAll(m); err == nil {
				dirs++
			}
		}
	}
	return len(ids), images, dirs, nil
}

// removeRun removes the containers of this run (TinyForge's, labelled with
// the run's namespace, and the baselines), then its images.
func removeRun(ctx context.Context, cli *client.Client, run string, imageIDs []string) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, cleanupTimeout)
	defer cancel()
	list, err := cli.ContainerList(ctx, container.ListOptions{All: true, Filters: filters.NewArgs(filters.Arg("label", docker.LabelNamespace+"="+run))})
	if err != nil {
		return 0, fmt.Errorf("listing this run's containers: %w", err)
	}
	ids := make([]string, 0, len(list))
	for _, c := range list {
		ids = append(ids, c.ID)
	}
	if err := removeContainers(ctx, cli, ids); err != nil {
		return 0, err
	}
	for _, id := range imageIDs {
		if err := removeImage(ctx, cli, id); err != nil {
			return len(ids), err
		}
	}
	return len(ids), nil
}

// removeContainers force-removes the containers ids, removeWorkers at a
// time; ones already gone are no error.
func removeContainers(ctx context.Context, cli *client.Client, ids []string) error {
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
		next  = make(chan string)
	)
	for range min(removeWorkers, len(ids)) {
		wg.Go(func() {
			for id := range next {
				err := cli.ContainerRemove(ctx, id, container.RemoveOptions{Force: true, RemoveVolumes: true})
				if err != nil && !cerrdefs.IsNotFound(err) && !cerrdefs.IsConflict(err) {
					mu.Lock()
					if first == nil {
						first = fmt.Errorf("removing container %.12s: %w", id, err)
					}
					mu.Unlock()
				}
			}
		})
	}
	for _, id := range ids {
		next <- id
	}
	close(next)
	wg.Wait()
	return first
}

// removeImage force-removes image id with all its tags (the registry's
// included); one already gone is no error.
func removeImage(ctx context.Context, cli *client.Client, id string) error {
	_, err := cli.ImageRemove(ctx, id, image.RemoveOptions{Force: true, PruneChildren: true})
	if err != nil && !cerrdefs.IsNotFound(err) {
		return fmt.Errorf("removing image %.19s: %w", id, err)
	}
	return nil
}
