package vl1

import (
	"sync"

	transport "github.com/ztgo/ztgo/layer0-transport"
	"github.com/ztgo/ztgo/layer1-vl1/identity"
	"github.com/ztgo/ztgo/layer1-vl1/wire"
)

// delivery is a packet for the upper layer, handed over after the node's
// lock is released so that the upper layer may send.
type delivery struct {
	in   Inbound
	peer *Peer
	path *Path
	buf  *[]byte // pooled storage of in.Payload, or nil
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, wire.MaxPacketLength+64); return &b }}

type parkedRx struct {
	ep   transport.Endpoint
	data []byte
	at   int64
}

// receive handles one datagram; it takes n.mu only for control-plane
// work.
func (n *Node) receive(now int64, ep transport.Endpoint, data []byte) {
	n.stats.DatagramsReceived.Add(1)
	if len(data) < wire.MinFragmentLength {
		n.stats.Junk.Add(1) // hole-punch probes and noise
		return
	}
	if wire.IsFragment(data) {
		f, err := wire.ParseFragment(data)
		if err != nil {
			n.stats.Malformed.Add(1)
			return
		}
		if f.Destination() != n.addr {
			n.relay(now, ep, data, true)
			return
		}
		whole, buf, ok := n.reassemble(f.PacketID(), func(r *wire.Reassembler, dst []byte) (wire.Packet, bool) {
			return r.AddFragment(dst, f)
		})
		if ok {
			n.handlePacket(now, ep, whole, buf)
		}
		return
	}
	if len(data) < wire.MinPacketLength {
		n.stats.Junk.Add(1) // e.g. 13-byte legacy LAN beacons
		return
	}
	pkt := wire.Packet(data)
	if pkt.Destination() != n.addr {
		n.relay(now, ep, data, false)
		return
	}
	if pkt.Fragmented() {
		whole, buf, ok := n.reassemble(pkt.ID(), func(r *wire.Reassembler, dst []byte) (wire.Packet, bool) {
			return r.AddHead(dst, pkt)
		})
		if ok {
			n.handlePacket(now, ep, whole, buf)
		}
		return
	}
	n.handlePacket(now, ep, pkt, nil)
}

// handlePacket authenticates and dispatches a whole packet addressed to us.
// buf, when not nil, holds pkt and goes back to the pool when done.
func (n *Node) handlePacket(now int64, ep transport.Endpoint, pkt wire.Packet, buf *[]byte) {
	handedOver := false
	defer func() {
		if buf != nil && !handedOver {
			bufPool.Put(buf)
		}
	}()
	src := pkt.Source()
	if src == n.addr || src.IsReserved() {
		n.stats.Malformed.Add(1)
		return
	}
	if pkt.Cipher() == wire.SuitePoly1305None && pkt.Verb() == wire.VerbHELLO {
		n.mu.Lock()
		n.handleHello(now, ep, pkt)
		ds, upper := n.takeDeliveries(), n.getUpper()
		n.unlock()
		n.handOver(now, upper, ds)
		return
	}
	p := n.lookup(src)
	if p == nil {
		n.mu.Lock()
		if p = n.peers[src]; p == nil {
			n.park(now, ep, pkt)
			n.requestWhois(now, src)
			n.unlock()
			return
		}
		n.unlock()
	}
	wireID := pkt.ID()
	if _, err := wire.Dearmor(pkt, p.keys); err != nil {
		n.stats.BadMAC.Add(1)
		return
	}
	if pkt.Compressed() {
		dbuf := bufPool.Get().(*[]byte)
		out, err := wire.Decompress((*dbuf)[:0], pkt)
		if buf != nil {
			bufPool.Put(buf)
		}
		buf = dbuf
		if err != nil {
			n.stats.Malformed.Add(1)
			return
		}
		pkt = out
	}
	verb := pkt.Verb()
	if verb.IsVL2() && verb != wire.VerbOK && verb != wire.VerbERROR {
		if pa := n.knownPath(ep); pa != nil && n.receivedFast(now, p, pa, pkt.Hops(), verb) {
			n.stats.PacketsReceived.Add(1)
			if upper := n.getUpper(); upper != nil {
				in := Inbound{From: src, Verb: verb, PacketID: wireID, Hops: pkt.Hops(), Payload: pkt.Payload()}
				if upper.HandleVL2(in) {
					p.lastTrust.Store(now)
					pa.lastTrust.Store(now)
				}
			}
			return
		}
	}
	n.mu.Lock()
	pa := n.pathFor(ep)
	pa.lastReceive.Store(now)
	handedOver = n.dispatch(now, ep, pa, p, pkt, wireID, buf)
	ds, upper := n.takeDeliveries(), n.getUpper()
	n.unlock()
	n.handOver(now, upper, ds)
}

// park keeps a packet from an unknown sender until WHOIS answers.
func (n *Node) park(now int64, ep transport.Endpoint, pkt wire.Packet) {
	if len(n.rxq) >= queueSize {
		n.rxq = n.rxq[1:]
		n.stats.RxQueueDropped.Add(1)
	}
	n.rxq = append(n.rxq, parkedRx{ep: ep, data: append([]byte(nil), pkt...), at: now})
}

// unpark retries packets parked for a newly known peer.
func (n *Node) unpark(now int64, a identity.Address) {
	var ready []parkedRx
	keep := n.rxq[:0]
	for _, r := range n.rxq {
		switch {
		case now-r.at >= queueTimeout:
			n.stats.RxQueueDropped.Add(1)
		case wire.Packet(r.data).Source() == a:
			ready = append(ready, r)
		default:
			keep = append(keep, r)
		}
	}
	clear(n.rxq[len(keep):])
	n.rxq = keep
	for _, r := range ready {
		n.handleParked(now, r)
	}
}

// handleParked authenticates and dispatches a parked packet (n.mu held).
func (n *Node) handleParked(now int64, r parkedRx) {
	pkt := wire.Packet(r.data)
	p := n.peers[pkt.Source()]
	if p == nil {
		return
	}
	wireID := pkt.ID()
	if _, err := wire.Dearmor(pkt, p.keys); err != nil {
		n.stats.BadMAC.Add(1)
		return
	}
	var buf *[]byte
	if pkt.Compressed() {
		buf = bufPool.Get().(*[]byte)
		out, err := wire.Decompress((*buf)[:0], pkt)
		if err != nil {
			bufPool.Put(buf)
			n.stats.Malformed.Add(1)
			return
		}
		pkt = out
	}
	pa := n.pathFor(r.ep)
	pa.lastReceive.Store(now)
	if !n.dispatch(now, r.ep, pa, p, pkt, wireID, buf) && buf != nil {
		bufPool.Put(buf)
	}
}

// dispatch runs the verb handlers. It reports whether buf was handed to a
// delivery (which then owns it).
func (n *Node) dispatch(now int64, ep transport.Endpoint, pa *Path, p *Peer, pkt wire.Packet, wireID uint64, buf *[]byte) bool {
	hops := pkt.Hops()
	verb := pkt.Verb()
	payload := pkt.Payload()
	n.stats.PacketsReceived.Add(1)
	switch verb {
	case wire.VerbNOP:
	case wire.VerbOK:
		return n.handleOK(now, ep, pa, p, pkt, wireID, buf)
	case wire.VerbERROR:
		e, err := wire.ParseError(payload)
		if err != nil {
			n.stats.Malformed.Add(1)
			return false
		}
		if e.InReVerb.IsVL2() {
			n.received(now, p, pa, hops, verb)
			return n.handToUpper(p, pa, verb, wireID, hops, payload, buf)
		}
		if e.Code == wire.ErrorIdentityCollision && n.isUpstream(p.id.Address()) {
			n.log.Error("a root reports that another node uses our address with a different key: generate a new identity", "root", p.id.Address())
		}
		n.stats.ErrorsReceived.Add(1)
	case wire.VerbWHOIS:
		n.handleWhois(now, pa, p, wireID, payload)
	case wire.VerbRENDEZVOUS:
		n.handleRendezvous(now, ep, p, payload)
	case wire.VerbECHO:
		if now-pa.lastEcho >= echoRateLimit {
			pa.lastEcho = now
			ok := wire.OK{InReVerb: wire.VerbECHO, InReID: wireID, Reply: &wire.Echo{Data: payload}}
			out := n.build(p, wire.VerbOK, ok.AppendPayload(n.scratch[:0]), false)
			n.transmit(now, p, out, suiteFor(p), ep, pa, false)
		}
	case wire.VerbPUSH_DIRECT_PATHS:
		n.handlePush(now, p, payload)
	case wire.VerbUSER_MESSAGE, wire.VerbACK, wire.VerbQOS_MEASUREMENT, wire.VerbPATH_NEGOTIATION, wire.VerbREMOTE_TRACE:
		// Accepted and ignored, as a node without multipath does.
	case wire.VerbHELLO:
		// An encrypted HELLO from a known peer: 1.14.1 accepts it.
		n.stats.HellosReceived.Add(1)
	default:
		if verb.IsVL2() {
			n.received(now, p, pa, hops, verb)
			return n.handToUpper(p, pa, verb, wireID, hops, payload, buf)
		}
	}
	n.received(now, p, pa, hops, verb)
	return false
}

func (n *Node) handToUpper(p *Peer, pa *Path, verb wire.Verb, wireID uint64, hops int, payload []byte, buf *[]byte) bool {
	if n.getUpper() == nil {
		return false
	}
	// Without a pooled buffer the payload lives in the caller's datagram
	// (or a parked copy): valid until Receive returns, and Receive hands
	// over the deliveries its own call queued before returning.
	n.deliver = append(n.deliver, delivery{in: Inbound{From: p.id.Address(), Verb: verb, PacketID: wireID, Hops: hops, Payload: payload}, peer: p, path: pa, buf: buf})
	return buf != nil
}

// takeDeliveries removes the queued deliveries; with n.mu held. Only the
// call that queued them takes them, so payloads in its datagram are valid.
func (n *Node) takeDeliveries() []delivery {
	if len(n.deliver) == 0 {
		return nil
	}
	ds := n.deliver
	n.deliver, n.deliverSpare = n.deliverSpare[:0], nil
	return ds
}

// handOver gives deliveries to the upper layer, without the lock, and
// records trust for the ones it accepted.
func (n *Node) handOver(now int64, upper Upper, ds []delivery) {
	if len(ds) == 0 {
		return
	}
	for i := range ds {
		d := &ds[i]
		trusted := upper != nil && upper.HandleVL2(d.in)
		if d.buf != nil {
			bufPool.Put(d.buf)
		}
		if trusted {
			d.peer.lastTrust.Store(now)
			d.path.lastTrust.Store(now)
		}
	}
	clear(ds)
	n.mu.Lock()
	if n.deliverSpare == nil {
		n.deliverSpare = ds[:0]
	}
	n.mu.Unlock()
}
