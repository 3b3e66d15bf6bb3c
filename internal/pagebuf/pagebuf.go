// Package pagebuf hands out large byte buffers that live outside the Go
// heap. Receive buffers are big and mostly idle (a quiet socket's batch
// is never touched), but inside the heap they would count as live data and
// raise the garbage collector's goal by as much, letting real garbage grow
// to match: memory mapped directly costs only the pages that are used and
// leaves the heap goal alone.
package pagebuf

// Alloc returns n zeroed bytes. Release them with Free when done.
func Alloc(n int) []byte {
	if n <= 0 {
		return nil
	}
	if b, ok := mapPages(n); ok {
		return b
	}
	return make([]byte, n)
}

// Free releases a buffer from Alloc; it must not be used afterwards.
func Free(b []byte) {
	if cap(b) > 0 {
		unmapPages(b[:cap(b)])
	}
}

// Release gives a buffer's pages back to the system while keeping it: a
// burst's buffers need not stay resident through the quiet that follows.
// Its contents are not kept (mapped buffers read as zeros) and it costs
// pages again as it is written. b must be a whole buffer from Alloc that nobody is using; a
// heap fallback is left as it is.
func Release(b []byte) {
	if cap(b) > 0 {
		releasePages(b[:cap(b)])
	}
}
