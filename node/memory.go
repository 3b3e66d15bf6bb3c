package node

import (
	"context"
	"runtime/debug"
	"time"
)

// After a burst of traffic the Go runtime keeps the heap pages it freed
// for minutes, in case they are needed again; the sockets' own buffers are
// given back after two quiet seconds (layer0-transport). A member that
// moved a gigabyte and went quiet should look, in top, like one that did
// not, so when traffic stops the node hands the heap's free pages back too.
// The check is cheap (one counter read), so it runs often enough that the
// pages go back within seconds of the last packet: a forced collection of
// a heap of a few megabytes costs about a millisecond.
const (
	memoryCheck = 2 * time.Second
	// imageSettle is how long after start the program image is released:
	// start-up (identity, planet, networks, the API) is over by then.
	imageSettle = 15 * time.Second
	// busyDatagrams in one check period (a 1 Mbit/s trickle) count as traffic: keepalives,
	// HELLOs and config refreshes stay far below.
	busyDatagrams = 250
)

// returnMemory releases the program image's pages once the node has
// settled after its start (see releaseImage), then frees the heap's idle
// pages and the image's again once each time traffic stops.
func (n *Node) returnMemory(ctx context.Context) {
	t := time.NewTicker(memoryCheck)
	defer t.Stop()
	w := trafficStop{last: n.VL1.Stats().DatagramsReceived}
	start, settled := time.Now(), false
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if !settled && time.Since(start) >= imageSettle {
			settled = true
			if b := releaseImage(); b > 0 {
				n.log.Debug("released the program image's start-up pages", "bytes", b)
			}
		}
		if w.stopped(n.VL1.Stats().DatagramsReceived) {
			debug.FreeOSMemory()
			// The burst faulted in code and tables the idle node does not
			// run; they stay in the page cache, so giving them back costs
			// the next burst minor faults only.
			if settled {
				releaseImage()
			}
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
