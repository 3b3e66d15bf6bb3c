package node

import (
	"context"
	"runtime/debug"
	"time"
)

// After a burst of traffic the Go runtime keeps the heap pages it freed
// for minutes, in case they are needed again; the sockets' own buffers are
// given back after ten quiet seconds (layer0-transport). A member that
// moved a gigabyte and went quiet should look, in top, like one that did
// not, so when traffic stops the node hands the heap's free pages back too.
const (
	memoryCheck = 15 * time.Second
	// busyDatagrams in one check period (a 1 Mbit/s trickle) count as traffic: keepalives,
	// HELLOs and config refreshes stay far below.
	busyDatagrams = 2000
)

// returnMemory releases the program image's pages once the node has
// settled after its start (see releaseImage), then frees the heap's idle
// pages once each time traffic stops.
func (n *Node) returnMemory(ctx context.Context) {
	t := time.NewTicker(memoryCheck)
	defer t.Stop()
	w := trafficStop{last: n.VL1.Stats().DatagramsReceived}
	settled := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if !settled {
			settled = true
			if b := releaseImage(); b > 0 {
				n.log.Debug("released the program image's start-up pages", "bytes", b)
			}
		}
		if w.stopped(n.VL1.Stats().DatagramsReceived) {
			debug.FreeOSMemory()
		}
	}
}

// trafficStop sees a datagram count once per period and reports the first
// quiet period after a busy one.
type trafficStop struct {
	last uint64
	busy bool
}

func (w *trafficStop) stopped(count uint64) bool {
	delta := count - w.last
	w.last = count
	if delta >= busyDatagrams {
		w.busy = true
		return false
	}
	stopped := w.busy
	w.busy = false
	return stopped
}
