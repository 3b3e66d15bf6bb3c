package vl1

import (
	"net/netip"

	transport "github.com/ztgo/ztgo/layer0-transport"
	"github.com/ztgo/ztgo/layer1-vl1/identity"
	"github.com/ztgo/ztgo/layer1-vl1/wire"
	"github.com/ztgo/ztgo/layer1-vl1/world"
)

// rateGateBucket is InetAddress::rateGateHash: a 14-bit bucket of the
// source's /24 (IPv4) or /48 (IPv6).
func rateGateBucket(ip netip.Addr) int {
	ip = ip.Unmap()
	var h uint32
	if ip.Is4() {
		b := ip.As4()
		h = uint32(b[0])<<16 | uint32(b[1])<<8 | uint32(b[2])
	} else {
		b := ip.As16()
		for _, x := range b[:6] {
			h = h<<8 ^ h>>24 ^ uint32(x)
		}
	}
	h ^= h >> 14
	return int(h & 0x3fff)
}

// gateIdentity allows one expensive identity check per source bucket per
// identityRateLimit (Node::rateGateIdentityVerification).
// Unlike 1.14.1, address collisions have a gate of their own, so an
// impostor repeating its HELLO cannot starve genuine new nodes that share
// its /24.
func (n *Node) gateIdentity(now int64, ip netip.Addr, gate []int64) bool {
	return gateBucket(now, ip, gate, identityRateLimit)
}

// gateBucket allows one event per source bucket per limit ms.
func gateBucket(now int64, ip netip.Addr, gate []int64, limit int64) bool {
	b := rateGateBucket(ip)
	if gate[b] != 0 && now-gate[b] < limit {
		return false
	}
	gate[b] = now
	return true
}

// agreementRateLimit paces key agreements with unknown identities per
// source bucket (a forged HELLO costs one, ~100 µs); the stricter identity
// gate is spent only once the HELLO's MAC proved the agreement right, so
// forgeries from a /24 cannot lock genuine new nodes there out.
const agreementRateLimit = 50

const maxImpostors = 1024

// handleHello is _doHELLO (vl1.md §7.2).
func (n *Node) handleHello(now int64, ep transport.Endpoint, pkt wire.Packet) {
	n.stats.HellosReceived.Add(1)
	wireID := pkt.ID()
	h, err := wire.ParseHello(pkt.Payload())
	if err != nil || h.ProtocolVersion < wire.MinProtocolVersion {
		n.stats.Malformed.Add(1)
		return
	}
	src := pkt.Source()
	if h.Identity.Address() != src {
		n.stats.Malformed.Add(1)
		return
	}
	p := n.peers[src]
	switch {
	case p != nil && p.id.Equal(h.Identity):
		if _, err := wire.Dearmor(pkt, p.keys); err != nil {
			n.stats.BadMAC.Add(1)
			return
		}
	case p != nil:
		// Someone else claims a known address: answer with
		// IDENTITY_COLLISION if the HELLO is genuine, and keep the peer we
		// had. Rate-gated: checking costs a key agreement.
		n.stats.Collisions.Add(1)
		key := h.Identity.PublicKey()
		if t, seen := n.impostors[key]; seen && now-t < trustExpiration {
			return // already answered: stay silent, spend nothing
		}
		if !n.gateIdentity(now, ep.Addr.Addr(), n.collisionGate) {
			n.stats.RateGated.Add(1)
			return
		}
		k, err := wire.KeysBetween(n.self, h.Identity)
		if err != nil {
			return
		}
		if _, err := wire.Dearmor(pkt, k); err != nil {
			n.stats.BadMAC.Add(1)
			return
		}
		if len(n.impostors) >= maxImpostors {
			clear(n.impostors)
		}
		n.impostors[key] = now
		n.log.Warn("HELLO claims a known address with another key; refused", "address", src, "from", transport.FormatAddrPort(ep.Addr))
		e := wire.Error{InReVerb: wire.VerbHELLO, InReID: wireID, Code: wire.ErrorIdentityCollision}
		out := wire.NewPacket(n.pktBuf[:0], n.packetID(), src, n.addr, wire.VerbERROR)
		out = append(out, e.AppendPayload(nil)...)
		n.transmit(now, &Peer{id: h.Identity, keys: k}, out, wire.SuitePoly1305Salsa20, ep, nil, false)
		return
	default:
		if !gateBucket(now, ep.Addr.Addr(), n.agreementGate, agreementRateLimit) {
			n.stats.RateGated.Add(1)
			return
		}
		np, err := n.newPeer(h.Identity)
		if err != nil {
			n.stats.BadIdentity.Add(1)
			return
		}
		if _, err := wire.Dearmor(pkt, np.keys); err != nil {
			n.stats.BadMAC.Add(1)
			return
		}
		if !n.gateIdentity(now, ep.Addr.Addr(), n.gate) {
			n.stats.RateGated.Add(1)
			return
		}
		if err := validateIdentity(h.Identity); err != nil {
			n.stats.BadIdentity.Add(1)
			return
		}
		p = np
		n.setPeer(src, p)
		n.log.Debug("new peer", "address", src, "from", transport.FormatAddrPort(ep.Addr))
		defer n.peerKnown(now, src)
	}
	hops := pkt.Hops()
	pa := n.pathFor(ep)
	if pa == nil {
		return
	}
	pa.lastReceive.Store(now)
	if h.HasDestination && hops == 0 {
		n.iam(now, p, ep, h.PhysicalDestination)
	}
	if h.MoonSection > 0 {
		wire.CryptField(pkt, p.keys, wire.IdxPayload+h.MoonSection)
		_ = h.DecodeMoons(pkt.Payload()[h.MoonSection:])
	}
	reply := &wire.OKHello{
		Timestamp:       h.Timestamp,
		ProtocolVersion: wire.ProtocolVersion,
		Major:           n.version.Major,
		Minor:           n.version.Minor,
		Revision:        n.version.Revision,
		HasSource:       true,
		PhysicalSource:  ep.Addr,
		HasWorlds:       true,
		Worlds:          n.worldsFor(h),
	}
	if h.ProtocolVersion < 5 {
		reply.PhysicalSource = netip.AddrPortFrom(ep.Addr.Addr(), 0)
	}
	ok := wire.OK{InReVerb: wire.VerbHELLO, InReID: wireID, Reply: reply}
	out := n.build(p, wire.VerbOK, ok.AppendPayload(n.scratch[:0]), false)
	// The suite follows what we knew before this HELLO (vl1.md §7.3).
	n.transmit(now, p, out, suiteFor(p), ep, pa, false)
	p.proto = h.ProtocolVersion
	p.version = Version{h.Major, h.Minor, h.Revision}
	p.route.Store(nil) // the suite may change
	n.received(now, p, pa, hops, wire.VerbHELLO)
}

// worldsFor returns the world updates a HELLO's sender lacks.
func (n *Node) worldsFor(h *wire.Hello) []byte {
	var b []byte
	if h.HasWorld && h.PlanetID == n.planet.ID && h.PlanetTimestamp < n.planet.Timestamp {
		b = n.planet.Append(b)
	}
	for _, m := range h.Moons {
		if cur := n.moons[m.ID]; cur != nil && m.Type == uint8(world.Moon) && m.Timestamp < cur.Timestamp {
			b = cur.Append(b)
		}
	}
	return b
}

// handleOK is _doOK: only replies to requests we sent are processed.
func (n *Node) handleOK(now int64, ep transport.Endpoint, pa *Path, p *Peer, pkt wire.Packet, wireID uint64, buf *[]byte) bool {
	hops := pkt.Hops()
	payload := pkt.Payload()
	if len(payload) < 9 {
		n.stats.Malformed.Add(1)
		return false
	}
	inRe := wire.Verb(payload[0] & 0x1f)
	ok, err := wire.ParseOK(payload)
	if err != nil {
		n.stats.Malformed.Add(1)
		return false
	}
	if !n.expect.has(ok.InReID) {
		n.stats.UnexpectedOK.Add(1)
		return false
	}
	handed := false
	switch inRe {
	case wire.VerbHELLO:
		r, isHello := ok.Reply.(*wire.OKHello)
		if !isHello || r.ProtocolVersion < wire.MinProtocolVersion {
			n.stats.Malformed.Add(1)
			return false
		}
		if hops == 0 {
			rtt := int(max(now-int64(r.Timestamp), 0))
			if pa.latency == latencyUnknown {
				pa.latency = rtt
			} else {
				pa.latency = (pa.latency + rtt) / 2
			}
			if r.HasSource {
				n.iam(now, p, ep, r.PhysicalSource)
			}
		}
		if r.HasWorlds && len(r.Worlds) > 0 && (n.isUpstream(p.id.Address()) || n.isMoonSeed(p.id.Address())) {
			for rest := r.Worlds; len(rest) > 0; {
				w, used, err := world.Decode(rest)
				if err != nil {
					break
				}
				n.addWorld(w, p.id.Address())
				rest = rest[used:]
			}
		}
		p.proto = r.ProtocolVersion
		p.version = Version{r.Major, r.Minor, r.Revision}
		p.route.Store(nil) // the suite may change
	case wire.VerbWHOIS:
		n.handleWhoisReply(now, p, ok)
	case wire.VerbECHO:
		n.stats.EchoReplies.Add(1)
		n.echoAnswered(now, ok.InReID, hops)
	default:
		if inRe.IsVL2() {
			handed = n.handToUpper(p, pa, wire.VerbOK, wireID, hops, payload, buf)
		}
	}
	n.received(now, p, pa, hops, wire.VerbOK)
	return handed
}

func (n *Node) isMoonSeed(a identity.Address) bool {
	for _, s := range n.moonSeeds {
		if s == a {
			return true
		}
	}
	return false
}

// peerKnown runs when a peer first appears: queued traffic for it goes out
// and parked packets from it are processed.
func (n *Node) peerKnown(now int64, a identity.Address) {
	delete(n.whois, a)
	n.flushTx(now)
	n.unpark(now, a)
}
