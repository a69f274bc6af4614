package memory

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// ReleaseFileHoles drops from this process's memory the pages of its
// mappings of the file at path that lie in the file's holes: ranges never
// written, which read as zeros and which nothing has stored data in.
//
// etcd maps its whole bbolt database with MAP_POPULATE when it opens it, and
// bbolt grows the file 16 MiB at a time, so a restarted server with a small
// database holds up to 16 MiB of resident zero pages that nothing reads. The
// pages are paged out (MADV_PAGEOUT), which never changes what the mapping
// reads: a page bbolt later writes and reads is faulted in again as usual.
//
// It returns how many bytes of holes it asked the kernel to release. A file
// system without SEEK_HOLE reports no holes; a kernel without MADV_PAGEOUT
// (before Linux 5.4) returns an error wrapping unix.EINVAL.
func ReleaseFileHoles(path string) (int64, error) {
	resolved, err := filepath.EvalSymlinks(path)
	if err != nil {
		return 0, err
	}
	if resolved, err = filepath.Abs(resolved); err != nil {
		return 0, err
	}
	f, err := os.Open(resolved)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	holes, err := fileHoles(int(f.Fd()), st.Size())
	if err != nil || len(holes) == 0 {
		return 0, err
	}
	maps, err := os.Open("/proc/self/maps")
	if err != nil {
		return 0, err
	}
	defer maps.Close()
	mappings, err := fileMappings(maps, resolved)
	if err != nil {
		return 0, err
	}
	page := int64(os.Getpagesize())
	var released int64
	for _, m := range mappings {
		for _, h := range holes {
			// The part of the hole this mapping shows, in whole pages.
			lo, hi := max(h.start, m.offset), min(h.end, m.offset+(m.end-m.start))
			lo, hi = (lo+page-1)/page*page, hi/page*page
			if lo >= hi {
				continue
			}
			addr := uintptr(m.start + lo - m.offset)
			if _, _, errno := unix.Syscall(unix.SYS_MADVISE, addr, uintptr(hi-lo), unix.MADV_PAGEOUT); errno != 0 {
				return released, fmt.Errorf("madvise(MADV_PAGEOUT) on %s at offset %d: %w", resolved, lo, errno)
			}
			released += hi - lo
		}
	}
	return released, nil
}

// span is a byte range [start, end).
type span struct{ start, end int64 }

// fileHoles lists the holes of the open file fd of the given size.
func fileHoles(fd int, size int64) ([]span, error) {
	var holes []span
	for off := int64(0); off < size; {
		data, err := unix.Seek(fd, off, unix.SEEK_DATA)
		if errors.Is(err, unix.ENXIO) { // no data after off
			holes = append(holes, span{off, size})
			break
		}
		if err != nil {
			return nil, fmt.Errorf("seeking data: %w", err)
		}
		if data > off {
			holes = append(holes, span{off, data})
		}
		if off, err = unix.Seek(fd, data, unix.SEEK_HOLE); err != nil {
			return nil, fmt.Errorf("seeking a hole: %w", err)
		}
	}
	return holes, nil
}

// mapping is one line of /proc/PID/maps: addresses [start, end) showing the
// file from offset.
type mapping struct{ start, end, offset int64 }

// fileMappings returns the mappings of path in a /proc/PID/maps listing.
func fileMappings(r io.Reader, path string) ([]mapping, error) {
	var out []mapping
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		// start-end perms offset dev inode path; the path may hold spaces.
		line := sc.Text()
		fields := strings.Fields(line)
		if len(fields) < 6 || mappedPath(line) != path {
			continue
		}
		addrs := strings.SplitN(fields[0], "-", 2)
		if len(addrs) != 2 {
			continue
		}
		start, err1 := strconv.ParseInt(addrs[0], 16, 64)
		end, err2 := strconv.ParseInt(addrs[1], 16, 64)
		offset, err3 := strconv.ParseInt(fields[2], 16, 64)
		if err := errors.Join(err1, err2, err3); err != nil || end <= start || offset < 0 {
			return nil, fmt.Errorf("unreadable mapping %q: %v", line, err)
		}
		out = append(out, mapping{start, end, offset})
	}
	return out, sc.Err()
}

// mappedPath is the path of a /proc/PID/maps line: all after its fifth field.
func mappedPath(line string) string {
	rest := line
	for range 5 {
		rest = strings.TrimLeft(rest, " ")
		i := strings.IndexByte(rest, ' ')
		if i < 0 {
			return ""
		}
		rest = rest[i:]
	}
	return strings.TrimLeft(rest, " ")
}
