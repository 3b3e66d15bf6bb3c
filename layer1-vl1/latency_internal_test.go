package vl1

import "testing"

// A path measured under a millisecond shows latency 0, as 1.14.1 shows a
// LAN peer; only an unmeasured path (or none) is unknown (-1 in the API).
func TestPeerLatencyUnderAMillisecond(t *testing.T) {
	now := int64(1_000_000)
	mk := func(latency int) *Peer {
		pp := &peerPath{path: &Path{latency: latency}, priority: 1}
		pp.lr.Store(now)
		pp.path.lastReceive.Store(now)
		return &Peer{paths: []*peerPath{pp}}
	}
	for _, c := range []struct{ measured, want int }{{0, 0}, {3, 3}, {latencyUnknown, latencyUnknown}} {
		if got := mk(c.measured).latency(now); got != c.want {
			t.Errorf("path latency %d: peer latency %d, want %d", c.measured, got, c.want)
		}
	}
	if got := (&Peer{}).latency(now); got != latencyUnknown {
		t.Errorf("no path: %d", got)
	}
}
