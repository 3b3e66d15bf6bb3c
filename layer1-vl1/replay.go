package vl1

import "sync"

// replayWindow remembers the wire IDs of the last packets accepted from a
// peer, so that a copy replayed by someone on the path is dropped. The ID
// is covered by the MAC (for AES-GMAC-SIV it is half the tag), so it
// cannot be changed without failing authentication. ZeroTier packet IDs
// are random, not a sequence: the window is a set — 64 sets of 4, each
// replacing its oldest — that holds about the last 256 IDs. A copy replayed
// after that many newer packets gets through: what is protected is a
// replay within the last few hundred packets of a peer, which covers
// duplication on the path and an attacker replaying what it just saw.
type replayWindow struct {
	mu   sync.Mutex
	sets [replaySets][replayWays]uint64
	next [replaySets]uint8
}

const (
	replaySets = 64
	replayWays = 4
)

// seen records id and reports whether it was already there.
func (w *replayWindow) seen(id uint64) bool {
	if id == 0 {
		return false
	}
	h := id * 0x9e3779b97f4a7c15 >> 58 // 6 bits: one of 64 sets
	w.mu.Lock()
	defer w.mu.Unlock()
	set := &w.sets[h]
	for _, v := range set {
		if v == id {
			return true
		}
	}
	set[w.next[h]%replayWays] = id
	w.next[h]++
	return false
}
