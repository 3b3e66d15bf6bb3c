package vl1

import (
	"net/netip"
	"slices"

	"github.com/ztgo/ztgo/layer1-vl1/identity"
	"github.com/ztgo/ztgo/layer1-vl1/world"
)

// memoizeUpstreams recomputes the upstream set from the planet and moons
// (Topology::_memoizeUpstreams) and makes peers for roots, whose
// identities the worlds carry, so they never need WHOIS.
func (n *Node) memoizeUpstreams() {
	n.upstreams = n.upstreams[:0]
	n.stable = map[identity.Address][]netip.AddrPort{}
	n.moonRoots = map[identity.Address]bool{}
	n.amRoot.Store(false)
	worlds := append([]*world.World{n.planet}, n.moonList()...)
	for _, w := range worlds {
		for _, r := range w.Roots {
			a := r.Identity.Address()
			if a == n.addr {
				n.amRoot.Store(true)
				continue
			}
			if _, dup := n.stable[a]; !dup {
				n.upstreams = append(n.upstreams, a)
			}
			n.stable[a] = append(n.stable[a], r.StableEndpoints...)
			if w.Type == world.Moon {
				n.moonRoots[a] = true
			}
			if p := n.peers[a]; p == nil || !p.id.Equal(r.Identity) {
				if np, err := n.newPeer(r.Identity); err == nil {
					n.setPeer(a, np)
				}
			}
		}
	}
	slices.Sort(n.upstreams)
}

func (n *Node) moonList() []*world.World {
	var ms []*world.World
	for _, m := range n.moons {
		ms = append(ms, m)
	}
	slices.SortFunc(ms, func(a, b *world.World) int {
		switch {
		case a.ID < b.ID:
			return -1
		case a.ID > b.ID:
			return 1
		}
		return 0
	})
	return ms
}

func (n *Node) isUpstream(a identity.Address) bool {
	_, ok := n.stable[a]
	return ok
}

// bestUpstream is Topology::getUpstreamPeer (roots.md §5).
func (n *Node) bestUpstream(now int64) *Peer {
	var best *Peer
	var bestQ uint64
	for _, a := range n.upstreams {
		p := n.peers[a]
		if p == nil {
			continue
		}
		q := uint64(0xffffffff)
		if tsr := now - p.lastReceive.Load(); tsr < peerActivityTimeout {
			q = uint64(p.latency(now)) * uint64(1+tsr/61000)
		}
		if best == nil || q <= bestQ {
			best, bestQ = p, q
		}
	}
	return best
}

// online: a root is always online; others once an upstream was heard
// within ZT_PEER_ACTIVITY_TIMEOUT.
func (n *Node) online(now int64) bool {
	if n.amRoot.Load() {
		return true
	}
	for _, a := range n.upstreams {
		if p := n.peers[a]; p != nil && p.alive(now) {
			return true
		}
	}
	return false
}

// addWorld applies a world that arrived in OK(HELLO) from an upstream or a
// moon seed (roots.md §3).
func (n *Node) addWorld(w *world.World, from identity.Address) bool {
	switch w.Type {
	case world.Planet:
		if !n.isUpstream(from) || !n.planet.ShouldBeReplacedBy(w) {
			return false
		}
		n.planet = w
	case world.Moon:
		if cur := n.moons[w.ID]; cur != nil {
			if !n.isUpstream(from) || !cur.ShouldBeReplacedBy(w) {
				return false
			}
		} else {
			seed, wanted := n.moonSeeds[w.ID]
			// A first moon comes from its seed, and must at least carry its
			// own signature: later updates are checked against that key.
			if !wanted || seed != from || !slices.ContainsFunc(w.Roots, func(r world.Root) bool { return r.Identity.Address() == seed }) || !w.VerifySelf() {
				return false
			}
			delete(n.moonSeeds, w.ID)
		}
		n.moons[w.ID] = w
	default:
		return false
	}
	n.memoizeUpstreams()
	n.log.Info("world updated", "type", w.Type, "id", w.ID, "timestamp", w.Timestamp, "from", from)
	if n.onWorld != nil {
		n.onWorld(w)
	}
	return true
}

// Orbit joins a moon: with the moon's world it is added at once; with only
// a seed address the node asks the seed for it in its HELLOs.
func (n *Node) Orbit(moonID uint64, seed identity.Address, w *world.World) {
	n.mu.Lock()
	defer n.unlock()
	if w != nil && w.Type == world.Moon && w.ID == moonID {
		n.moons[moonID] = w
		delete(n.moonSeeds, moonID)
		n.memoizeUpstreams()
		return
	}
	if seed != 0 {
		n.moonSeeds[moonID] = seed
	}
}

// Deorbit leaves a moon.
func (n *Node) Deorbit(moonID uint64) {
	n.mu.Lock()
	defer n.unlock()
	delete(n.moons, moonID)
	delete(n.moonSeeds, moonID)
	n.memoizeUpstreams()
}

// Worlds returns the planet and the orbited moons.
func (n *Node) Worlds() (*world.World, []*world.World) {
	n.mu.Lock()
	defer n.unlock()
	return n.planet, n.moonList()
}

// IsRoot reports whether this node is one of its worlds' roots.
func (n *Node) IsRoot() bool {
	n.mu.Lock()
	defer n.unlock()
	return n.amRoot.Load()
}
