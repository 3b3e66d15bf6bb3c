package bond

import (
	"testing"

	"github.com/ztgo/ztgo/layer1-vl1/wire"
)

// TestFlowsStayWhileEligible: balance-xor and balance-aware pin each flow
// to one path and never move it while that path is eligible; when a path
// dies only its flows move, within failoverInterval.
func TestFlowsStayWhileEligible(t *testing.T) {
	for _, p := range []Policy{PolicyBalanceXOR, PolicyBalanceAware} {
		s := newSim(t, custom(p, func(t *Template) { t.FailoverInterval = 1000 }), "eth0", "eth1", "eth2")
		s.run(trialPeriod + 1000)
		pinned := map[FlowID]PathIndex{}
		used := map[PathIndex]int{}
		for f := FlowID(0); f < 60; f++ {
			pinned[f] = s.pick(f)
			used[pinned[f]]++
		}
		if len(used) != 3 {
			t.Errorf("%v: 60 flows on %d of 3 paths: %v", p, len(used), used)
		}
		for range 50 {
			s.run(500)
			for f, want := range pinned {
				if got := s.pick(f); got != want {
					t.Fatalf("%v: flow %d moved from %d to %d with both eligible", p, f, want, got)
				}
			}
		}
		dead := s.paths[1]
		s.down[dead] = true
		gap := s.runUntil(3000, func() bool { return s.b.paths[dead].assignedFlows == 0 })
		if gap > 1000+backgroundTaskMinInterval {
			t.Errorf("%v: flows left the dead path after %d ms", p, gap)
		}
		for f, was := range pinned {
			got := s.pick(f)
			if was != dead && got != was {
				t.Errorf("%v: flow %d on a live path moved %d -> %d", p, f, was, got)
			}
			if got == dead || got == NoPath {
				t.Errorf("%v: flow %d still on %d", p, f, got)
			}
		}
	}
}

// TestBalanceXORIsFlowModulo: balance-xor's choice is 1.14's: the flow ID
// modulo the number of bonded paths, whoever asks.
func TestBalanceXORIsFlowModulo(t *testing.T) {
	s := newSim(t, custom(PolicyBalanceXOR, nil), "eth0", "eth1")
	s.run(1000)
	for f := FlowID(0); f < 10; f++ {
		if got, want := s.pick(f), s.b.bondedIdx[int(f)%2]; got != want {
			t.Errorf("flow %d on %d, want %d", f, got, want)
		}
	}
	// A flow first seen arriving stays on the path it arrived on.
	s.b.Received(s.now, s.paths[1], 1, wire.VerbFRAME, 100, 100)
	if got := s.pick(100); got != s.paths[1] {
		t.Errorf("incoming flow 100 answered on %d", got)
	}
}

// TestBalanceAwareCapacity: balance-aware favours the link of greater
// capacity. Not in proportion: 1.14 draws a new start for every candidate
// and falls back to the rejected link of best quality, which with 1000:250
// puts about 31% of flows on the slow link rather than 20%.
func TestBalanceAwareCapacity(t *testing.T) {
	s := newSim(t, custom(PolicyBalanceAware, links(Link{Name: "fast", Mode: LinkPrimary, Capacity: 1000},
		Link{Name: "slow", Mode: LinkPrimary, Capacity: 250})), "fast", "slow")
	s.run(trialPeriod + 1000)
	n := map[PathIndex]int{}
	for f := FlowID(0); f < 2000; f++ {
		n[s.pick(f)]++
	}
	fast, slow := n[s.paths[0]], n[s.paths[1]]
	if fast+slow != 2000 || fast < 2*slow || slow < 400 {
		t.Errorf("fast %d, slow %d flows", fast, slow)
	}
}

func TestBalanceRR(t *testing.T) {
	s := newSim(t, custom(PolicyBalanceRR, func(t *Template) { t.PacketsPerLink = 4 }), "eth0", "eth1")
	s.run(1000)
	var seq []PathIndex
	for range 16 {
		seq = append(seq, s.pick(NoFlow))
	}
	// 1.14 counts packetsPerLink after the first packet on a link, so a
	// run is packetsPerLink+1 long; the first run starts on the second
	// bonded path.
	for i, p := range seq {
		if want := s.b.bondedIdx[(i/5+1)%2]; p != want {
			t.Fatalf("packet %d on %d, want runs of 5 alternating: %v", i, p, seq)
		}
	}
	// packetsPerLink 0: each packet on a pseudo-random bonded path.
	s = newSim(t, custom(PolicyBalanceRR, func(t *Template) { t.PacketsPerLink = 0 }), "eth0", "eth1")
	s.run(1000)
	n := map[PathIndex]int{}
	for range 1000 {
		n[s.pick(NoFlow)]++
	}
	if n[s.paths[0]] < 300 || n[s.paths[1]] < 300 {
		t.Errorf("random spread %v", n)
	}
}

// TestBalanceRRSkipsDeadPath: a path that died leaves the rotation.
func TestBalanceRRSkipsDeadPath(t *testing.T) {
	s := newSim(t, custom(PolicyBalanceRR, func(t *Template) { t.PacketsPerLink, t.FailoverInterval = 1, 1000 }), "eth0", "eth1")
	s.run(trialPeriod + 1000)
	s.down[s.paths[0]] = true
	s.run(1100)
	for range 10 {
		if p := s.pick(NoFlow); p != s.paths[1] {
			t.Fatalf("packet on %d after it died", p)
		}
	}
}

func TestBroadcast(t *testing.T) {
	s := newSim(t, StandardTemplate(PolicyBroadcast), "eth0", "eth1", "eth2")
	s.run(1000)
	if got := s.b.Pick(s.now, wire.VerbFRAME, 5, nil); len(got) != 3 {
		t.Errorf("FRAME on %v, want all 3 paths", got)
	}
	if got := s.b.Pick(s.now, wire.VerbEXT_FRAME, NoFlow, nil); len(got) != 3 {
		t.Errorf("EXT_FRAME on %v", got)
	}
	// Other verbs: 1.14's broadcast bond is never "ready"; the engine picks.
	if got := s.b.Pick(s.now, wire.VerbHELLO, NoFlow, nil); len(got) != 0 {
		t.Errorf("HELLO on %v", got)
	}
	s.down[s.paths[2]] = true
	s.run(pathAliveTimeout)
	if got := s.b.Pick(s.now, wire.VerbFRAME, 5, nil); len(got) != 2 {
		t.Errorf("FRAME on %v after a path died", got)
	}
}

func TestLinksFilter(t *testing.T) {
	b := New(custom(PolicyBalanceRR, links(Link{Name: "eth0", Mode: LinkPrimary})), 1, 2, 3)
	if _, ok := b.AddPath(0, PathKey{Link: "wlan0"}); ok {
		t.Error("a path on an interface the policy does not name was accepted")
	}
	if New(nil, 1, 2, 3) != nil || New(StandardTemplate(PolicyNone), 1, 2, 3) != nil {
		t.Error("a bond without a policy")
	}
}
