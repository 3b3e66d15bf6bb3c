//go:build unix

package pagebuf

import "golang.org/x/sys/unix"

func mapPages(n int) ([]byte, bool) {
	b, err := unix.Mmap(-1, 0, n, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANON)
	return b, err == nil
}

func unmapPages(b []byte) {
	// A buffer that came from make (mapping failed) is not ours to unmap;
	// Munmap then fails harmlessly, as x/sys only unmaps what it mapped.
	_ = unix.Munmap(b)
}
