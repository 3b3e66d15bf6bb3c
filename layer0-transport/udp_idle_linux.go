//go:build linux

package transport

import (
	"slices"
	"sync"
	"time"

	"github.com/ztgo/ztgo/internal/pagebuf"
)

// idleRelease is how long a socket must stay quiet before its reader gives
// back the pages a burst left resident: the GRO buffers here and, through
// an empty read, the caller's own batch buffers. A node that moved a
// gigabyte a few seconds ago should cost what an idle node costs; a burst
// that starts again faults the pages back in a fraction of a millisecond.
const idleRelease = 2 * time.Second

// quietReads is how many reads a period may see and still count as quiet:
// keepalives, HELLOs and config refreshes never stop, and giving back
// pages they touch again costs a few page faults.
const quietReads = 16

// udpIdle watches the receivers for quiet; a timer, not a goroutine, so an
// open bind that is never closed leaks nothing that runs.
type udpIdle struct {
	period    time.Duration // idleRelease; shorter in tests
	mu        sync.Mutex
	timer     *time.Timer
	receivers []*mmsgReceiver
	stopped   bool
}

func (w *udpIdle) watch(r *mmsgReceiver) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.receivers = append(w.receivers, r)
	w.stopped = false
	if w.period == 0 {
		w.period = idleRelease
	}
	if w.timer == nil {
		w.timer = time.AfterFunc(w.period, w.tick)
	}
}

// forget stops watching c's receiver: its socket was unbound.
func (w *udpIdle) forget(c *udpConn) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.receivers = slices.DeleteFunc(w.receivers, func(r *mmsgReceiver) bool { return r.c == c })
}

func (w *udpIdle) stop() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.stopped = true
	if w.timer != nil {
		w.timer.Stop()
		w.timer = nil
	}
	w.receivers = nil
}

// tick asks every receiver that read more than the quiet allows before the
// last tick, or anything since its last release, and no more than the
// quiet allows since the last tick, to release its pages. The reader does it itself, woken by
// a read deadline in the past, so no buffer is given back while the kernel
// may be writing into it.
func (w *udpIdle) tick() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stopped {
		return
	}
	for _, r := range w.receivers {
		n := r.reads.Load()
		if n-r.seen < quietReads && n != r.clean {
			r.clean = n
			r.release.Store(true)
			_ = r.c.conn.SetReadDeadline(time.Now())
		}
		r.seen = n
	}
	w.timer.Reset(w.period)
}

// releaseIdle runs on the reader after the deadline woke it: true means the
// pages are released and the caller should be told with an empty read.
func (r *mmsgReceiver) releaseIdle() bool {
	_ = r.c.conn.SetReadDeadline(time.Time{})
	if !r.release.Swap(false) {
		return false
	}
	if r.arena != nil {
		pagebuf.Release(r.arena)
	}
	return true
}
