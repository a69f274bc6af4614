package memory

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestReleaseFileHoles maps a sparse file the way etcd maps its database
// (shared, read-only, MAP_POPULATE), so its holes are resident zero pages,
// and checks that ReleaseFileHoles drops them and keeps the data readable.
func TestReleaseFileHoles(t *testing.T) {
	dir := t.TempDir()
	var fs unix.Statfs_t
	if err := unix.Statfs(dir, &fs); err != nil {
		t.Fatal(err)
	}
	if fs.Type == unix.TMPFS_MAGIC {
		t.Skip("a tmpfs file's pages are memory that only swap can release")
	}
	const (
		mib  = 1 << 20
		size = 16 * mib
	)
	path := filepath.Join(dir, "db")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	// 1 MiB of data at the start and 1 MiB in the middle; the rest is holes.
	data := bytes.Repeat([]byte("tinyforge"), mib/9+1)[:mib]
	for _, off := range []int64{0, 8 * mib} {
		if _, err := f.WriteAt(data, off); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	m, err := unix.Mmap(int(f.Fd()), 0, size, unix.PROT_READ, unix.MAP_SHARED|unix.MAP_POPULATE)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(m)

	before := mappedRSS(t, path)
	if before < size-mib {
		t.Skipf("MAP_POPULATE made only %d of %d bytes resident; nothing to release", before, size)
	}
	released, err := ReleaseFileHoles(path)
	if err != nil {
		t.Fatal(err)
	}
	if released != size-2*mib {
		t.Errorf("released %d bytes, want the %d bytes of holes", released, size-2*mib)
	}
	after := mappedRSS(t, path)
	t.Logf("resident pages of the mapping: %d KiB before, %d KiB after", before>>10, after>>10)
	if after > 2*mib+256<<10 {
		t.Errorf("%d KiB of the mapping still resident, want about the 2048 KiB of data", after>>10)
	}
	// The mapping still reads what the file holds: data, and zeros in holes.
	if !bytes.Equal(m[:mib], data) || !bytes.Equal(m[8*mib:9*mib], data) {
		t.Error("the data ranges no longer read what was written")
	}
	if i := bytes.IndexFunc(m[mib:8*mib], func(r rune) bool { return r != 0 }); i >= 0 {
		t.Errorf("a hole reads a non-zero byte at %d", mib+i)
	}
}

func TestReleaseFileHolesWithoutHoles(t *testing.T) {
	path := filepath.Join(t.TempDir(), "full")
	if err := os.WriteFile(path, bytes.Repeat([]byte{1}, 64<<10), 0o600); err != nil {
		t.Fatal(err)
	}
	if n, err := ReleaseFileHoles(path); err != nil || n != 0 {
		t.Errorf("ReleaseFileHoles of a file without holes: %d, %v; want 0, nil", n, err)
	}
	if _, err := ReleaseFileHoles(filepath.Join(t.TempDir(), "missing")); !os.IsNotExist(err) {
		t.Errorf("ReleaseFileHoles of a missing file: %v, want a not-exist error", err)
	}
}

func TestFileMappings(t *testing.T) {
	maps := strings.Join([]string{
		"00400000-00452000 r-xp 00000000 08:02 173521      /usr/bin/dbus-daemon",
		"7f0000000000-7f0001000000 r--s 00000000 fe:00 1234       /data/etcd/member/snap/db",
		"7f0002000000-7f0003000000 r--s 00002000 fe:00 1234       /data/etcd/member/snap/db",
		"7f0004000000-7f0004001000 r--s 00000000 fe:00 99 /data/with  two spaces",
		"7f0005000000-7f0005001000 rw-p 00000000 00:00 0 ",
		"7f0006000000-7f0006001000 r--s 00000000 fe:00 1234       /data/etcd/member/snap/db (deleted)",
	}, "\n")
	got, err := fileMappings(strings.NewReader(maps), "/data/etcd/member/snap/db")
	if err != nil {
		t.Fatal(err)
	}
	want := []mapping{{0x7f0000000000, 0x7f0001000000, 0}, {0x7f0002000000, 0x7f0003000000, 0x2000}}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("fileMappings = %x, want %x", got, want)
	}
	got, err = fileMappings(strings.NewReader(maps), "/data/with  two spaces")
	if err != nil || len(got) != 1 {
		t.Errorf("the path with two spaces: %x, %v; want one mapping", got, err)
	}
	if _, err := fileMappings(strings.NewReader("zz-10 r--s 0 fe:00 1 /x"), "/x"); err == nil {
		t.Error("an unreadable address range was accepted")
	}
}

// mappedRSS is the resident size of this process's mappings of path, from
// /proc/self/smaps.
func mappedRSS(t *testing.T, path string) int64 {
	t.Helper()
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var rss int64
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if fields := strings.Fields(line); len(fields) >= 5 && strings.Contains(fields[0], "-") && !strings.HasSuffix(fields[0], ":") {
			in = mappedPath(line) == path
			continue
		}
		if in && strings.HasPrefix(line, "Rss:") {
			kb, err := strconv.ParseInt(strings.Fields(line)[1], 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			rss += kb << 10
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return rss
}
