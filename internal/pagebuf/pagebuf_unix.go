//go:build unix

package pagebuf

import (
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"
)

// mapped holds the first byte of every live mapping, so that Release never
// advises the kernel about memory that belongs to the Go heap (a fallback
// buffer from make): dropping those pages would zero live objects.
var mapped sync.Map

func mapPages(n int) ([]byte, bool) {
	b, err := unix.Mmap(-1, 0, n, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANON)
	if err != nil {
		return nil, false
	}
	mapped.Store(unsafe.SliceData(b), struct{}{})
	return b, true
}

func unmapPages(b []byte) {
	// A buffer that came from make (mapping failed) is not ours to unmap;
	// Munmap then fails harmlessly, as x/sys only unmaps what it mapped.
	if unix.Munmap(b) == nil {
		mapped.Delete(unsafe.SliceData(b))
	}
}

func releasePages(b []byte) {
	if _, ok := mapped.Load(unsafe.SliceData(b)); ok {
		_ = unix.Madvise(b, unix.MADV_DONTNEED)
	}
}
