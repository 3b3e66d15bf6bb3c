package vl1

import (
	"net/netip"
	"slices"
	"time"

	transport "github.com/ztgo/ztgo/layer0-transport"
	"github.com/ztgo/ztgo/layer1-vl1/bond"
	"github.com/ztgo/ztgo/layer1-vl1/identity"
	"github.com/ztgo/ztgo/layer1-vl1/wire"
	"github.com/ztgo/ztgo/layer1-vl1/world"
)

// Stats count what the engine did; a dropped packet is always counted
// under the reason it was dropped.
type Stats struct {
	DatagramsReceived, PacketsReceived, PacketsSent uint64
	HellosSent, HellosReceived                      uint64
	Junk, Malformed, BadMAC, BadIdentity            uint64
	Collisions, RateGated, UnexpectedOK, Refused    uint64
	RelayRefused, HopLimit, Relayed                 uint64
	Rendezvous, Punches, PushesSent                 uint64
	WhoisSent, WhoisAnswered, EchoReplies           uint64
	ErrorsReceived, SendErrors                      uint64
	TxQueueDropped, RxQueueDropped                  uint64
	PathsLearned, PeersEvicted                      uint64
	Replayed                                        uint64 // authentic packets seen before (replay window)

	// ByVerbReceived and ByVerbSent split PacketsReceived and PacketsSent
	// by verb (an unencrypted HELLO is counted in HellosReceived only).
	ByVerbReceived, ByVerbSent [VerbSlots]uint64
	// ErrorCodesReceived and ErrorCodesSent count ERROR packets by code.
	ErrorCodesReceived, ErrorCodesSent [ErrorCodeSlots]uint64
}

// VerbSlots and ErrorCodeSlots size the per-verb and per-error-code
// counters: a verb is 5 bits; codes past 15 are not counted by code.
const (
	VerbSlots      = 32
	ErrorCodeSlots = 16
)

// counters are the live Stats, counted without a lock.
type counters struct {
	DatagramsReceived counter
	// Received and Sent count packets by verb; their sums are
	// PacketsReceived and PacketsSent, so a packet costs one increment.
	Received       [VerbSlots]counter
	Sent           [VerbSlots]counter
	ErrorsIn       [ErrorCodeSlots]counter
	ErrorsOut      [ErrorCodeSlots]counter
	HellosSent     counter
	HellosReceived counter
	Junk           counter
	Malformed      counter
	BadMAC         counter
	BadIdentity    counter
	Collisions     counter
	RateGated      counter
	UnexpectedOK   counter
	Refused        counter
	RelayRefused   counter
	HopLimit       counter
	Relayed        counter
	Rendezvous     counter
	Punches        counter
	PushesSent     counter
	WhoisSent      counter
	WhoisAnswered  counter
	EchoReplies    counter
	ErrorsReceived counter
	SendErrors     counter
	TxQueueDropped counter
	RxQueueDropped counter
	PathsLearned   counter
	PeersEvicted   counter
	Replayed       counter
}

// Stats returns a copy of the counters.
func (n *Node) Stats() Stats {
	c := &n.stats
	st := Stats{
		DatagramsReceived: c.DatagramsReceived.Load(),
		HellosSent:        c.HellosSent.Load(),
		HellosReceived:    c.HellosReceived.Load(),
		Junk:              c.Junk.Load(),
		Malformed:         c.Malformed.Load(),
		BadMAC:            c.BadMAC.Load(),
		BadIdentity:       c.BadIdentity.Load(),
		Collisions:        c.Collisions.Load(),
		RateGated:         c.RateGated.Load(),
		UnexpectedOK:      c.UnexpectedOK.Load(),
		Refused:           c.Refused.Load(),
		RelayRefused:      c.RelayRefused.Load(),
		HopLimit:          c.HopLimit.Load(),
		Relayed:           c.Relayed.Load(),
		Rendezvous:        c.Rendezvous.Load(),
		Punches:           c.Punches.Load(),
		PushesSent:        c.PushesSent.Load(),
		WhoisSent:         c.WhoisSent.Load(),
		WhoisAnswered:     c.WhoisAnswered.Load(),
		EchoReplies:       c.EchoReplies.Load(),
		ErrorsReceived:    c.ErrorsReceived.Load(),
		SendErrors:        c.SendErrors.Load(),
		TxQueueDropped:    c.TxQueueDropped.Load(),
		RxQueueDropped:    c.RxQueueDropped.Load(),
		PathsLearned:      c.PathsLearned.Load(),
		PeersEvicted:      c.PeersEvicted.Load(),
		Replayed:          c.Replayed.Load(),
	}
	for v := range VerbSlots {
		st.ByVerbReceived[v] = c.Received[v].Load()
		st.ByVerbSent[v] = c.Sent[v].Load()
		st.PacketsReceived += st.ByVerbReceived[v]
		st.PacketsSent += st.ByVerbSent[v]
	}
	for e := range ErrorCodeSlots {
		st.ErrorCodesReceived[e] = c.ErrorsIn[e].Load()
		st.ErrorCodesSent[e] = c.ErrorsOut[e].Load()
	}
	return st
}

// sentKind reads the verb of a packet about to be armored and, for an
// ERROR, its code (ErrorCodeSlots when unreadable), while both are still
// in the clear; countSent counts the packet once it went out.
func sentKind(pkt wire.Packet) (wire.Verb, uint8) {
	v, code := pkt.Verb(), uint8(ErrorCodeSlots)
	if v == wire.VerbERROR && !pkt.Compressed() && len(pkt) > wire.IdxPayload+9 {
		code = pkt[wire.IdxPayload+9]
	}
	return v, code
}

func (c *counters) countSent(v wire.Verb, code uint8) {
	c.Sent[v].Add(1)
	if code < ErrorCodeSlots {
		c.ErrorsOut[code].Add(1)
	}
}

// Role is a peer's role as zerotier-cli prints it.
type Role string

// Roles.
const (
	RoleLeaf   Role = "LEAF"
	RolePlanet Role = "PLANET"
	RoleMoon   Role = "MOON"
)

// PathInfo describes one of a peer's paths.
type PathInfo struct {
	Endpoint     transport.Endpoint
	LastSend     time.Time
	LastReceive  time.Time
	Latency      int // ms, -1 unknown
	Expired      bool
	Preferred    bool
	TrustedRecvd bool
	// Bond is the bond's view of the path when the peer is bonded and the
	// path is in its bond.
	Bond *bond.PathStatus
}

// PeerInfo describes a peer.
type PeerInfo struct {
	Address     identity.Address
	Identity    *identity.Identity
	Role        Role
	Version     Version
	Proto       int // -1 unknown
	Latency     int // ms, -1 unknown
	LastReceive time.Time
	Paths       []PathInfo
	IsBonded    bool
	// Bond is the peer's bond (multipath), nil when it has none.
	Bond *bond.Status
}

// Status is a snapshot of the node.
type Status struct {
	Address    identity.Address
	Online     bool
	Root       bool
	Planet     *world.World
	PeerCount  int
	PathCount  int              // path objects held (a peer's paths, and recent others)
	LocalAddrs []netip.AddrPort // what others report seeing us as
}

// Status returns a snapshot of the node.
func (n *Node) Status() Status {
	now := n.now()
	n.mu.Lock()
	defer n.unlock()
	return Status{Address: n.addr, Online: n.online(now), Root: n.amRoot.Load(), Planet: n.planet, PeerCount: len(n.peers), PathCount: len(n.paths), LocalAddrs: n.whoami(now)}
}

// Peers returns every known peer, sorted by address.
func (n *Node) Peers() []PeerInfo {
	now := n.now()
	n.mu.Lock()
	defer n.unlock()
	out := make([]PeerInfo, 0, len(n.peers))
	for a, p := range n.peers {
		out = append(out, n.peerInfo(now, a, p))
	}
	slices.SortFunc(out, func(a, b PeerInfo) int { return int(int64(a.Address) - int64(b.Address)) })
	return out
}

// Peer returns one peer.
func (n *Node) Peer(a identity.Address) (PeerInfo, bool) {
	now := n.now()
	n.mu.Lock()
	defer n.unlock()
	p := n.peers[a]
	if p == nil {
		return PeerInfo{}, false
	}
	return n.peerInfo(now, a, p), true
}

func (n *Node) peerInfo(now int64, a identity.Address, p *Peer) PeerInfo {
	pi := PeerInfo{Address: a, Identity: p.id, Role: RoleLeaf, Version: p.version, Proto: int(p.proto), Latency: -1}
	if p.proto == 0 {
		pi.Proto = -1
	}
	switch {
	case n.moonRoots[a]:
		pi.Role = RoleMoon
	case n.isUpstream(a):
		pi.Role = RolePlanet
	}
	if l := p.latency(now); l != latencyUnknown {
		pi.Latency = l
	}
	if lr := p.lastReceive.Load(); lr > 0 {
		pi.LastReceive = time.UnixMilli(lr)
	}
	best := p.bestPath(now, false)
	for _, pp := range p.paths {
		info := PathInfo{
			Endpoint:    pp.path.ep,
			LastSend:    time.UnixMilli(pp.path.lastSend.Load()),
			LastReceive: time.UnixMilli(pp.lr.Load()),
			Latency:     -1,
			Expired:     pp.expired(now),
			Preferred:   pp == best,
		}
		if pp.path.latency != latencyUnknown {
			info.Latency = pp.path.latency
		}
		pi.Paths = append(pi.Paths, info)
	}
	if pb := p.bond; pb != nil {
		pb.mu.Lock()
		st := pb.b.Status(now)
		pb.mu.Unlock()
		pi.IsBonded, pi.Bond = true, &st
		for i := range pi.Paths {
			for j := range st.Paths {
				if k := st.Paths[j].Key; k.Socket == pi.Paths[i].Endpoint.Socket && k.Remote == pi.Paths[i].Endpoint.Addr {
					pi.Paths[i].Bond = &st.Paths[j]
				}
			}
		}
	}
	return pi
}

// RotateBond moves a's active-backup bond to its next path
// (/bond/rotate): false when a has no bond or the bond cannot rotate.
func (n *Node) RotateBond(a identity.Address) bool {
	now := n.now()
	p := n.lookup(a)
	if p == nil || p.bond == nil {
		return false
	}
	p.bond.mu.Lock()
	defer p.bond.mu.Unlock()
	return p.bond.b.Rotate(now)
}

// Bonding reports whether local.conf turned multipath bonding on.
func (n *Node) Bonding() bool { return n.bonding.InUse() }

// DirectPath reports whether a has a live direct path.
func (n *Node) DirectPath(a identity.Address) bool {
	now := n.now()
	n.mu.Lock()
	defer n.unlock()
	p := n.peers[a]
	return p != nil && p.bestPath(now, false) != nil
}

// AddPeer adds a peer whose identity is already known (peers.d cache) and
// says HELLO to its last addresses, as 1.14.1 does on load.
func (n *Node) AddPeer(id *identity.Identity, addrs []netip.AddrPort) error {
	now := n.now()
	n.mu.Lock()
	defer n.unlock()
	a := id.Address()
	if a == n.addr {
		return ErrReserved
	}
	p := n.peers[a]
	if p == nil {
		np, err := n.newPeer(id)
		if err != nil {
			return err
		}
		p = np
		n.setPeer(a, p)
	}
	for _, ap := range addrs {
		if n.usable(a, ap) {
			n.sendHello(now, p, transport.Endpoint{Addr: ap})
		}
	}
	return nil
}

// ForgetPeer drops a peer that is not a root (e.g. a cached one whose
// identity failed validation).
func (n *Node) ForgetPeer(a identity.Address) {
	n.mu.Lock()
	defer n.unlock()
	if !n.isUpstream(a) {
		n.dropPeer(a)
	}
}

// ValidateIdentity checks an identity's proof of work (memory-hard, about
// 12 ms), remembering identities that passed for the whole process.
func ValidateIdentity(id *identity.Identity) error { return validateIdentity(id) }

// Ping sends an ECHO to a and reports the packet's wire ID, or queues it
// behind a WHOIS (ID 0). Replies are counted in Stats.EchoReplies.
func (n *Node) Ping(a identity.Address) (uint64, error) {
	return n.Send(a, wire.VerbECHO, nil, false)
}

// Now is the node's clock (virtual in the harness).
func (n *Node) Now() time.Time { return n.clock() }

// PeerIdentity returns a known peer's identity, or nil (then RequestWhois).
func (n *Node) PeerIdentity(a identity.Address) *identity.Identity {
	if a == n.addr {
		return n.selfPub
	}
	n.mu.Lock()
	defer n.unlock()
	if p := n.peers[a]; p != nil {
		return p.id
	}
	return nil
}

// RequestWhois asks the best root for a's identity.
func (n *Node) RequestWhois(a identity.Address) {
	now := n.now()
	n.mu.Lock()
	defer n.unlock()
	if n.peers[a] == nil && a != n.addr {
		n.requestWhois(now, a)
	}
}

// SetUpper installs the layer above: it receives VL2 verbs, its timers run
// with the node's Tick, and it is flushed after each received batch. The
// upper layer is usually made after the node (it sends through it), hence
// a setter; whoever makes both wires them (package node, the harnesses).
func (n *Node) SetUpper(u Upper) {
	n.upper.Store(&upperBox{u})
}

// upperBox holds the upper layer for atomic publication.
type upperBox struct{ Upper }

func (n *Node) getUpper() Upper {
	if b := n.upper.Load(); b != nil {
		return b.Upper
	}
	return nil
}

func (n *Node) flushUpper() {
	if u := n.getUpper(); u != nil {
		u.FlushVL2()
	}
}

// Upstreams are the roots of the planet and orbited moons (not ourselves).
func (n *Node) Upstreams() []identity.Address {
	n.mu.Lock()
	defer n.unlock()
	return append([]identity.Address(nil), n.upstreams...)
}

// BestUpstream is the root WHOIS and relaying currently use (0 if none).
func (n *Node) BestUpstream() identity.Address {
	now := n.now()
	n.mu.Lock()
	defer n.unlock()
	if u := n.bestUpstream(now); u != nil {
		return u.id.Address()
	}
	return 0
}

// SetBondMTU is /bond/setmtu (Bond::setAllMtuByTuple): every bonded path
// on link ifname to remote IP ip is sent on at mtu from now on (a link's
// own mtu setting, when it has one, takes over again at the next tick, as
// in 1.14.1). It reports whether there was any such path.
func (n *Node) SetBondMTU(mtu int, ifname, ip string) bool {
	now := n.now()
	n.mu.Lock()
	defer n.unlock()
	found := false
	for _, p := range n.peers {
		pb := p.bond
		if pb == nil {
			continue
		}
		pb.mu.Lock()
		for _, ps := range pb.b.Status(now).Paths {
			if ps.Key.Link == ifname && ps.Key.Remote.Addr().Unmap().String() == ip {
				found = true
				if i := pb.b.Lookup(ps.Key); i != bond.NoPath && pb.paths[i] != nil {
					pb.paths[i].mtu.Store(uint32(mtu))
				}
			}
		}
		pb.mu.Unlock()
	}
	return found
}
