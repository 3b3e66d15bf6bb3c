package vl1

import (
	"sync/atomic"

	transport "github.com/ztgo/ztgo/layer0-transport"
	"github.com/ztgo/ztgo/layer1-vl1/identity"
	"github.com/ztgo/ztgo/layer1-vl1/wire"
)

// replyTracker remembers the wire IDs of recently sent requests so that
// only expected OKs are processed (vl1.md §6.2). Like 1.14.1 it is a fixed
// table, so tracking costs no allocation per packet; unlike 1.14.1 it keys
// on the whole 64-bit ID. Senders on any core add without a lock.
type replyTracker struct {
	slots [256][32]atomic.Uint64
	next  [256]atomic.Uint32
}

func (r *replyTracker) add(id uint64) {
	b := uint8(id ^ id>>8 ^ id>>16 ^ id>>24)
	r.slots[b][(r.next[b].Add(1)-1)&31].Store(id)
}

func (r *replyTracker) has(id uint64) bool {
	b := uint8(id ^ id>>8 ^ id>>16 ^ id>>24)
	for i := range r.slots[b] {
		if r.slots[b][i].Load() == id && id != 0 {
			return true
		}
	}
	return false
}

// expectsReply lists the verbs whose OK we process.
func expectsReply(v wire.Verb) bool {
	switch v {
	case wire.VerbHELLO, wire.VerbWHOIS, wire.VerbECHO, wire.VerbEXT_FRAME, wire.VerbNETWORK_CONFIG_REQUEST,
		wire.VerbNETWORK_CONFIG, wire.VerbMULTICAST_GATHER, wire.VerbMULTICAST_FRAME:
		return true
	}
	return false
}

// sendTo builds, armors and transmits a packet to p on its best route, or
// on via when given. It reports false when there is no route.
func (n *Node) sendTo(now int64, p *Peer, verb wire.Verb, payload []byte, compress bool, via *Path) (uint64, bool) {
	if via == nil {
		r := n.publishRoute(now, p)
		if r == nil {
			return 0, false
		}
		via = r.path
	}
	pkt := n.build(p, verb, payload, compress)
	return n.transmit(now, p, pkt, suiteFor(p), via.ep, via, expectsReply(verb)), true
}

func suiteFor(p *Peer) wire.CipherSuite {
	if p.proto >= 12 {
		return wire.SuiteAESGMACSIV
	}
	return wire.SuitePoly1305Salsa20
}

// build writes a plaintext packet into the node's packet buffer.
func (n *Node) build(p *Peer, verb wire.Verb, payload []byte, compress bool) wire.Packet {
	pkt := wire.NewPacket(n.pktBuf[:0], n.packetID(), p.id.Address(), n.addr, verb)
	pkt = append(pkt, payload...)
	if compress {
		pkt = wire.Compress(pkt, n.scratch)
	}
	return pkt
}

// fits reports whether a packet of size bytes can be sent at our MTU: at
// most MaxPacketFragments datagrams (at the default MTU that is 9928
// bytes, less than the 10024 a packet may have). A packet that fits is
// sent on any path, whatever the path's MTU (mtuFor).
func (n *Node) fits(size int) bool {
	return wire.FragmentCount(size, n.mtu) <= wire.MaxPacketFragments
}

// minPathMTU is the smallest MTU a path's setting is taken as: the
// smallest /bond/setmtu accepts (and IPv4's minimum), which leaves room
// for a packet's header in the head. A bond link's mtu is not checked by
// 1.14.1 at all.
const minPathMTU = 68

// mtuFor is the MTU a packet of size bytes is fragmented at on pa: pa's
// own when it has one (Switch::_sendViaSpecificPath), else the one
// local.conf's physical networks give its address, else the node's.
// A path MTU so small that the packet would need more than
// MaxPacketFragments datagrams is raised, for that packet, to the
// smallest MTU that keeps it within them (never above the node's): the
// receiver's reassembly, 1.14.1's and ours, drops a packet announcing more
// pieces, which is what 1.14.1 sends there. The IP layer fragments the
// larger datagrams if the link needs it.
func (n *Node) mtuFor(pa *Path, size int) int {
	if pa == nil {
		return n.mtu
	}
	m := int(pa.mtu.Load())
	if m == 0 {
		if m = pa.phys; m == 0 {
			return n.mtu
		}
	}
	m = max(m, minPathMTU)
	if wire.FragmentCount(size, m) > wire.MaxPacketFragments {
		// size <= m + (Max-1)(m-16), the head and Max-1 fragments
		need := (size + (wire.MaxPacketFragments-1)*wire.FragmentHeaderLength + wire.MaxPacketFragments - 1) / wire.MaxPacketFragments
		m = max(m, min(need, n.mtu))
	}
	return m
}

// seal marks pkt fragmented if mtu needs it, armors it in place and,
// when a reply is expected, remembers its wire ID, which it returns (for
// suite 3 the ID is part of the tag). It takes no lock. The packet must
// then be split at the same mtu: the fragmented flag is authenticated.
func (n *Node) seal(pkt wire.Packet, k *wire.Keys, suite wire.CipherSuite, expect bool, mtu int) (uint64, bool) {
	if wire.FragmentCount(len(pkt), mtu) > wire.MaxPacketFragments {
		n.stats.SendErrors.Add(1)
		return 0, false
	}
	pkt.SetFragmented(wire.NeedsFragmenting(len(pkt), mtu))
	if err := wire.Armor(pkt, k, suite); err != nil {
		n.stats.SendErrors.Add(1)
		return 0, false
	}
	id := pkt.ID()
	if expect {
		n.expect.add(id)
	}
	return id, true
}

// transmit armors pkt for p (n.mu held), fragments it at pa's MTU and
// queues it for ep; unlock sends it once the lock is released. pa is ep's
// path, or nil; a packet out of every socket (ep.Socket is AnySocket)
// goes at the node's MTU.
func (n *Node) transmit(now int64, p *Peer, pkt wire.Packet, suite wire.CipherSuite, ep transport.Endpoint, pa *Path, expect bool) uint64 {
	verb, code := sentKind(pkt)
	mtu := n.mtu
	if ep.Socket != transport.AnySocket {
		mtu = n.mtuFor(pa, len(pkt))
	}
	id, ok := n.seal(pkt, p.keys, suite, expect, mtu)
	if !ok {
		return 0
	}
	n.queueDatagrams(ep, pkt, mtu)
	n.stats.countSent(verb, code)
	if pa != nil {
		pa.lastSend.Store(now)
	}
	return id
}

// sendHello sends a full HELLO to ep out of every socket (vl1-peers.md §3).
func (n *Node) sendHello(now int64, p *Peer, ep transport.Endpoint) {
	h := wire.Hello{
		ProtocolVersion:     wire.ProtocolVersion,
		Major:               n.version.Major,
		Minor:               n.version.Minor,
		Revision:            n.version.Revision,
		Timestamp:           uint64(now),
		Identity:            n.selfPub,
		HasDestination:      true,
		PhysicalDestination: ep.Addr,
		HasWorld:            true,
		PlanetID:            n.planet.ID,
		PlanetTimestamp:     n.planet.Timestamp,
	}
	for _, m := range n.moonList() {
		h.Moons = append(h.Moons, wire.MoonRef{Type: uint8(m.Type), ID: m.ID, Timestamp: m.Timestamp})
	}
	for id := range n.moonSeeds {
		h.Moons = append(h.Moons, wire.MoonRef{Type: 127, ID: id})
	}
	pkt := wire.NewPacket(n.pktBuf[:0], n.packetID(), p.id.Address(), n.addr, wire.VerbHELLO)
	pkt = h.AppendPayload(pkt)
	if off := h.CryptOffset(); off > 0 {
		wire.CryptField(pkt, p.keys, wire.IdxPayload+off)
	}
	all := transport.Endpoint{Addr: ep.Addr, Socket: transport.AnySocket}
	n.transmit(now, p, pkt, wire.SuitePoly1305None, all, n.pathFor(ep), true)
	n.stats.HellosSent.Add(1)
}

// sendHelloRelayed sends a HELLO addressed to p through the best upstream.
func (n *Node) sendHelloRelayed(now int64, p *Peer) {
	u := n.bestUpstream(now)
	if u == nil || u == p {
		return
	}
	if pp := u.bestPath(now, true); pp != nil {
		n.sendHello(now, p, pp.path.ep)
	}
}

// contact is Peer::attemptToContactAt: ECHO when the peer is known to
// speak protocol 5 or later, HELLO otherwise.
func (n *Node) contact(now int64, p *Peer, ep transport.Endpoint, fullHello bool) {
	if !fullHello && p.proto >= 5 && !(p.version.Major == 1 && p.version.Minor == 1 && p.version.Revision == 0) {
		pa := n.pathFor(ep)
		pkt := n.build(p, wire.VerbECHO, nil, false)
		n.transmit(now, p, pkt, suiteFor(p), ep, pa, true)
		return
	}
	n.sendHello(now, p, ep)
}

type queuedTx struct {
	dst      identity.Address
	verb     wire.Verb
	payload  []byte
	compress bool
	at       int64
}

func (n *Node) queueTx(now int64, dst identity.Address, verb wire.Verb, payload []byte, compress bool) {
	if len(n.txq) >= queueSize {
		n.txq = n.txq[1:]
		n.stats.TxQueueDropped.Add(1)
	}
	n.txq = append(n.txq, queuedTx{dst, verb, append([]byte(nil), payload...), compress, now})
}

// flushTx retries queued packets; expired ones are dropped.
func (n *Node) flushTx(now int64) {
	keep := n.txq[:0]
	for _, q := range n.txq {
		if now-q.at >= queueTimeout {
			n.stats.TxQueueDropped.Add(1)
			continue
		}
		if p := n.peers[q.dst]; p != nil {
			if _, ok := n.sendTo(now, p, q.verb, q.payload, q.compress, nil); ok {
				continue
			}
		} else {
			n.requestWhois(now, q.dst)
		}
		keep = append(keep, q)
	}
	clear(n.txq[len(keep):])
	n.txq = keep
}
