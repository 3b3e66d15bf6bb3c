package node

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// releaseImage asks the kernel to drop the pages of the ztgo executable
// this process has mapped. Package initialisers touch code and tables all
// over a 25 MB binary (PostgreSQL, Prometheus, UPnP and D-Bus clients a
// member never calls), and the kernel maps file pages 64 KB at a time, so
// a node that has started holds most of its image although its working
// set is a few megabytes. Dropped pages come back from the page cache or
// the disk on their next use; MADV_RANDOM turns off read-around, but the
// kernel still maps a faulting page's cached neighbours with it (64 KB
// at a time on Linux 6.18 with ext4), so a working set scattered over the
// image costs more than its size. Pages
// another process maps too (a second node on the same binary) stay. It returns the bytes of file-backed RSS
// released, 0 when the kernel refused (before Linux 5.4, or a binary this
// user may not write).
func releaseImage() int64 {
	var st syscall.Stat_t
	if err := syscall.Stat("/proc/self/exe", &st); err != nil {
		return 0
	}
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		return 0
	}
	defer f.Close()
	before := rssFile()
	inode := strconv.FormatUint(st.Ino, 10)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// 00400000-00c9b000 r-xp 00000000 fd:00 1234 /path/to/ztgo
		fs := strings.Fields(sc.Text())
		if len(fs) < 6 || fs[4] != inode || strings.Contains(fs[1], "w") {
			continue // writable pages are the process's own copies
		}
		lo, hi, _ := strings.Cut(fs[0], "-")
		start, err1 := strconv.ParseUint(lo, 16, 64)
		end, err2 := strconv.ParseUint(hi, 16, 64)
		if err1 != nil || err2 != nil || end <= start {
			continue
		}
		_, _, _ = unix.Syscall(unix.SYS_MADVISE, uintptr(start), uintptr(end-start), unix.MADV_PAGEOUT)
		_, _, _ = unix.Syscall(unix.SYS_MADVISE, uintptr(start), uintptr(end-start), unix.MADV_RANDOM)
	}
	return max(before-rssFile(), 0)
}

// rssFile is the process's file-backed resident memory in bytes.
func rssFile() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "RssFile:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}
