package vl1

import (
	"math/rand/v2"
	"sync/atomic"
)

// counter is a statistics counter that cores increment without sharing a
// cache line: each increment lands in one of several padded stripes, picked
// by the runtime's per-thread random source, and Load adds them up. A
// single atomic counter bumped for every packet on every core would make
// the counters the data path's bottleneck.
type counter struct {
	stripes [counterStripes]struct {
		v atomic.Uint64
		_ [56]byte
	}
}

const counterStripes = 8

// Add adds d.
func (c *counter) Add(d uint64) {
	c.stripes[rand.Uint32()%counterStripes].v.Add(d)
}

// Load returns the sum.
func (c *counter) Load() uint64 {
	var sum uint64
	for i := range c.stripes {
		sum += c.stripes[i].v.Load()
	}
	return sum
}

// stamp sets an atomic time unless it already holds now: most packets
// arrive within the millisecond of the previous one, and a load keeps the
// cache line shared where a store would take it from the other cores.
func stamp(t *atomic.Int64, now int64) {
	if t.Load() != now {
		t.Store(now)
	}
}
