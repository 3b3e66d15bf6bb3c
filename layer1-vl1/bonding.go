package vl1

import (
	"encoding/binary"
	"strconv"
	"sync"

	transport "github.com/ztgo/ztgo/layer0-transport"
	"github.com/ztgo/ztgo/layer1-vl1/bond"
	"github.com/ztgo/ztgo/layer1-vl1/wire"
)

// Multipath bonding (spec/multipath.md): when local.conf configures it,
// every leaf peer gets a bond.Bond that chooses, per packet, which of the
// peer's direct paths carry it. A peer's bond is fixed at the peer's
// creation, so the data path tests one pointer: peers without a bond (every
// peer when bonding is off) never touch a lock or the code below.

// peerBond is a peer's bond and the engine's side of it. mu serializes
// every call on b (the bond has no lock of its own); it is taken after
// n.mu, never before, and never across crypto or a send.
type peerBond struct {
	mu    sync.Mutex
	b     *bond.Bond
	paths [bond.MaxPaths]*Path // the Path behind each of the bond's slots
	picks []bond.PathIndex     // Pick's scratch, under mu
	acts  []bond.Action        // Tick's scratch, under mu
}

func newPeerBond(b *bond.Bond) *peerBond {
	return &peerBond{b: b, picks: make([]bond.PathIndex, 0, bond.MaxPaths), acts: make([]bond.Action, 0, 2*bond.MaxPaths)}
}

// index is the bond's slot for pa, or bond.NoPath (mu held).
func (pb *peerBond) index(pa *Path) bond.PathIndex {
	if pa == nil {
		return bond.NoPath
	}
	for i, x := range pb.paths {
		if x == pa {
			return bond.PathIndex(i)
		}
	}
	return bond.NoPath
}

// makeBond is the bond a new peer gets, or nil (n.mu held). Roots get
// none, as spec/multipath.md §14.5 says.
func (n *Node) makeBond(p *Peer) *peerBond {
	if !n.bonding.InUse() || n.isUpstream(p.id.Address()) {
		return nil
	}
	b := bond.New(n.bonding.TemplateFor(uint64(p.id.Address())), uint64(p.id.Address()), uint64(n.addr), n.idBase)
	if b == nil {
		return nil
	}
	return newPeerBond(b)
}

// linkName names the link a socket is on: the interface the transport
// bound it to (UDP bound per interface, spec/links.md), as 1.14 names a
// bond's links; a socket on no particular interface (a wildcard bind, an
// in-memory one) is a link of its own.
func (n *Node) linkName(socket int) string {
	if si, ok := n.bind.(transport.SocketInfoer); ok {
		if info, ok := si.SocketInfo(socket); ok && info.Interface != "" {
			return info.Interface
		}
	}
	return "socket" + strconv.Itoa(socket)
}

// socketGone reports whether the bind no longer has socket: its
// interface went away and the socket was closed.
func (n *Node) socketGone(socket int) bool {
	si, ok := n.bind.(transport.SocketInfoer)
	if !ok {
		return false
	}
	_, ok = si.SocketInfo(socket)
	return !ok
}

// syncBond makes p's bond hold exactly p's current paths (n.mu held):
// 1.14 nominates every path a peer learns and the bond drops the ones the
// peer forgets, and those whose socket the binder closed (Bond::curateBond
// finds no link for them), though the peer still lists them.
func (n *Node) syncBond(now int64, p *Peer) {
	pb := p.bond
	if pb == nil {
		return
	}
	pb.mu.Lock()
	defer pb.mu.Unlock()
	for i, pa := range pb.paths {
		if pa == nil {
			continue
		}
		keep := false
		if !n.socketGone(pa.ep.Socket) {
			for _, pp := range p.paths {
				if pp.path == pa {
					keep = true
					break
				}
			}
		}
		if !keep {
			pb.b.RemovePath(now, bond.PathIndex(i))
			pb.paths[i] = nil
		}
	}
	for _, pp := range p.paths {
		if pb.index(pp.path) != bond.NoPath || n.socketGone(pp.path.ep.Socket) {
			continue
		}
		ep := pp.path.ep
		if i, ok := pb.b.AddPath(now, bond.PathKey{Link: n.linkName(ep.Socket), Socket: ep.Socket, Remote: ep.Addr}); ok {
			pb.paths[i] = pp.path
			pb.applyLinkMTU(i)
			// The packet that taught the path arrived before the bond
			// knew it; 1.14 records it once the path is nominated.
			if lr := pp.lr.Load(); lr > 0 {
				pb.b.Received(lr, i, 0, wire.VerbNOP, 0, bond.NoFlow)
			}
		}
	}
}

// applyLinkMTU gives path i the mtu of its link when the link has one
// (pb.mu held). 1.14.1 does it in every quality estimate, so a link's mtu
// overrides /bond/setmtu on its paths; the engine does it when the path
// joins the bond and at every tick.
func (pb *peerBond) applyLinkMTU(i bond.PathIndex) {
	if pa := pb.paths[i]; pa != nil {
		if m := pb.b.LinkMTU(i); m != 0 {
			pa.mtu.Store(uint32(m))
		}
	}
}

// bondPick chooses the paths a packet to p goes out on, writes them to
// dst and returns how many: at least one, r's path when the bond has none
// to offer (it is not ready, or the route is relayed). The caller records
// the packet on them with bondSent once it is armored (suite 3 derives the
// packet ID from the tag); between the two the packet is split at their
// MTU, which must be known before armoring.
func (n *Node) bondPick(now int64, p *Peer, r *route, verb wire.Verb, flow bond.FlowID, dst *[bond.MaxPaths]*Path) int {
	pb := p.bond
	k := 0
	pb.mu.Lock()
	if r.direct {
		pb.picks = pb.b.Pick(now, verb, flow, pb.picks[:0])
		for _, i := range pb.picks {
			if pa := pb.paths[i]; pa != nil {
				dst[k] = pa
				k++
			}
		}
	}
	if k == 0 {
		dst[0], k = r.path, 1
		if r.direct {
			dst[0] = n.fallback(pb, r.path)
		}
	}
	pb.mu.Unlock()
	return k
}

// fallback is the path for a packet when the bond is not ready (pb.mu
// held): the route's path, unless the bond has found that path dead and
// knows one that is not. 1.14.1 chooses as without a bond there, and so
// keeps sending into a dead link until the path's 19 s of silence tell —
// and a two-link bond that lost one link is exactly such a bond. A TCP
// transfer across an active-backup fail-over stalled on it. A path whose
// socket is gone (its interface went away) has left the bond (syncBond)
// but may still be the peer's route for a while: it is as dead.
func (n *Node) fallback(pb *peerBond, pa *Path) *Path {
	i := pb.index(pa)
	if i != bond.NoPath && pb.b.Eligible(i) || i == bond.NoPath && !n.socketGone(pa.ep.Socket) {
		return pa
	}
	for j, x := range pb.paths {
		if x != nil && pb.b.Eligible(bond.PathIndex(j)) {
			return x
		}
	}
	return pa
}

// bondPickOne is bondPick for a batch (txbatch.go), which picks before it
// armors and records the packet as sent afterwards (bondSent): the path,
// r's path when the bond has none to offer, or nil when the bond wants
// several.
func (n *Node) bondPickOne(now int64, p *Peer, r *route, verb wire.Verb, flow bond.FlowID) *Path {
	if !r.direct {
		return r.path
	}
	pb := p.bond
	pa := r.path
	pb.mu.Lock()
	pb.picks = pb.b.Pick(now, verb, flow, pb.picks[:0])
	switch len(pb.picks) {
	case 0:
		pa = n.fallback(pb, r.path)
	case 1:
		if x := pb.paths[pb.picks[0]]; x != nil {
			pa = x
		}
	default:
		pa = nil
	}
	pb.mu.Unlock()
	return pa
}

// bondSent records a packet sent on the paths to (a path the bond does
// not hold is recorded as on none).
func (n *Node) bondSent(now int64, p *Peer, to []*Path, packetID uint64, verb wire.Verb, size int, flow bond.FlowID) {
	pb := p.bond
	pb.mu.Lock()
	for _, pa := range to {
		pb.b.Sent(now, pb.index(pa), packetID, verb, size, flow)
	}
	pb.mu.Unlock()
}

// bondReceived records an authenticated packet that arrived directly.
func (n *Node) bondReceived(now int64, p *Peer, pa *Path, packetID uint64, verb wire.Verb, payload []byte) {
	pb := p.bond
	flow := frameFlow(verb, payload)
	pb.mu.Lock()
	if i := pb.index(pa); i != bond.NoPath {
		pb.b.Received(now, i, packetID, verb, len(payload), flow)
	}
	pb.mu.Unlock()
}

// handleMultipath takes ACK, QOS_MEASUREMENT and PATH_NEGOTIATION_REQUEST
// (n.mu held) as 1.14 does: QoS feeds the bond's latency estimate, a path
// negotiation is rate-gated and otherwise ignored, an ACK only counted.
func (n *Node) handleMultipath(now int64, p *Peer, pa *Path, verb wire.Verb, payload []byte) {
	pb := p.bond
	if pb == nil {
		return
	}
	pb.mu.Lock()
	defer pb.mu.Unlock()
	i := pb.index(pa)
	if i == bond.NoPath {
		return
	}
	switch verb {
	case wire.VerbQOS_MEASUREMENT:
		pb.b.ReceivedQoS(now, i, payload)
	case wire.VerbPATH_NEGOTIATION:
		if pn, err := wire.ParsePathNegotiation(payload); err == nil {
			pb.b.ReceivedPathNegotiation(now, i, pn.Utility)
		}
	}
}

// bondTick runs every bond's timers (n.mu held) and sends what they ask
// for: ECHO heartbeats and QOS_MEASUREMENT reports, each on its own path.
func (n *Node) bondTick(now int64) {
	for _, p := range n.peers {
		pb := p.bond
		if pb == nil {
			continue
		}
		pb.mu.Lock()
		pb.acts = pb.b.Tick(now, pb.acts[:0])
		for i := range pb.paths {
			pb.applyLinkMTU(bond.PathIndex(i))
		}
		for _, a := range pb.acts {
			pa := pb.paths[a.Path]
			if pa == nil {
				continue
			}
			switch a.Kind {
			case bond.SendEcho:
				// Bond::processBackgroundBondTasks skips peers older than
				// protocol 5 and 1.1.0.
				if p.proto < 5 || (p.version == Version{1, 1, 0}) {
					continue
				}
				pkt := wire.NewPacket(n.pktBuf[:0], n.packetID(), p.id.Address(), n.addr, wire.VerbECHO)
				if id := n.transmit(now, p, pkt, suiteFor(p), pa.ep, pa, true); id != 0 {
					pb.b.Sent(now, a.Path, id, wire.VerbECHO, 0, bond.NoFlow)
				}
			case bond.SendQoS:
				pkt := wire.NewPacket(n.pktBuf[:0], n.packetID(), p.id.Address(), n.addr, wire.VerbQOS_MEASUREMENT)
				pkt = pb.b.AppendQoS(now, a.Path, pkt)
				size := len(pkt) - wire.IdxPayload
				if id := n.transmit(now, p, pkt, wire.MultipathSuite, pa.ep, pa, false); id != 0 {
					pb.b.Sent(now, a.Path, id, wire.VerbQOS_MEASUREMENT, size, bond.NoFlow)
				}
			}
		}
		pb.mu.Unlock()
	}
}

// bondTickInterval is how often the node's timers run while bonding is
// on: 1.14 runs a bond's background task at most every 60 ms
// (ZT_BOND_BACKGROUND_TASK_MIN_INTERVAL), and the heartbeats of the
// shortest failoverInterval (500 ms) are due every 166 ms.
const bondTickInterval = 60

// frameFlow is the flow ID 1.14 gives a frame's inner packet
// (Switch::onLocalEthernet): ports XOR protocol of TCP, UDP, SCTP and
// UDP-Lite over IPv4 or IPv6; bond.NoFlow for anything else. payload is a
// FRAME's or EXT_FRAME's, as on the wire before compression.
func frameFlow(verb wire.Verb, payload []byte) bond.FlowID {
	var etherType uint16
	var ip []byte
	switch verb {
	case wire.VerbFRAME: // [8] network, [2] ethertype, frame
		if len(payload) < 10 {
			return bond.NoFlow
		}
		etherType, ip = binary.BigEndian.Uint16(payload[8:]), payload[10:]
	case wire.VerbEXT_FRAME: // [8] network, [1] flags, [COM], [6] to, [6] from, [2] ethertype, frame
		if len(payload) < 23 || payload[8]&0x01 != 0 {
			// A certificate of membership rides along now and then; its
			// length is not worth parsing here for one packet's flow.
			return bond.NoFlow
		}
		etherType, ip = binary.BigEndian.Uint16(payload[21:]), payload[23:]
	default:
		return bond.NoFlow
	}
	return ipFlow(etherType, ip)
}

func ipFlow(etherType uint16, ip []byte) bond.FlowID {
	var pos int
	var proto uint8
	switch etherType {
	case 0x0800:
		if len(ip) < 20 {
			return bond.NoFlow
		}
		proto, pos = ip[9], 4*int(ip[0]&0xf)
	case 0x86dd:
		if len(ip) < 40 {
			return bond.NoFlow
		}
		// Walk the extension headers as _ipv6GetPayload does.
		proto, pos = ip[6], 40
	walk:
		for pos+8 <= len(ip) {
			switch proto {
			case 0, 43, 60: // hop-by-hop, routing, destination options
				proto, pos = ip[pos], pos+8*(int(ip[pos+1])+1)
			case 44: // fragment
				proto, pos = ip[pos], pos+8
			default:
				break walk
			}
		}
	default:
		return bond.NoFlow
	}
	switch proto {
	case 0x06, 0x11, 0x84, 0x88:
		if len(ip) > pos+4 {
			return bond.FlowIDFromPorts(binary.BigEndian.Uint16(ip[pos:]), binary.BigEndian.Uint16(ip[pos+2:]), proto)
		}
	}
	return bond.NoFlow
}
