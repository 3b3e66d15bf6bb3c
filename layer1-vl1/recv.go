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

// Packet buffers come in two sizes: most packets fit a small one (a frame
// of the default 2800-byte MTU with its headers); decompression and large
// packets take a big one. Pool memory is what a busy node keeps in flight,
// so the common case should not hold 10 KB for 3.
var (
	smallBufPool = sync.Pool{New: func() any { b := make([]byte, 0, smallBuf); return &b }}
	bigBufPool   = sync.Pool{New: func() any { b := make([]byte, wire.MaxPacketLength+64); return &b }}
)

const smallBuf = 4096

// getBuf returns a pooled buffer with room for n bytes.
func getBuf(n int) *[]byte {
	if n <= smallBuf {
		return smallBufPool.Get().(*[]byte)
	}
	return bigBufPool.Get().(*[]byte)
}

// putBuf returns a buffer from getBuf to its pool.
func putBuf(b *[]byte) {
	if cap(*b) >= wire.MaxPacketLength {
		bigBufPool.Put(b)
	} else {
		smallBufPool.Put(b)
	}
}

type parkedRx struct {
	ep   transport.Endpoint
	data []byte
	at   int64
}

// receive handles one datagram through all three receive stages.
func (n *Node) receive(now int64, ep transport.Endpoint, data []byte) {
	it, ok := n.admit(now, ep, data)
	if !ok {
		return
	}
	n.open(&it)
	n.deliverItem(now, &it)
}

// rxItem is a whole packet addressed to us on its way through the receive
// stages: admit (datagram to packet), open (authenticate, decrypt,
// decompress: the stage that runs in parallel) and deliverItem (in order).
type rxItem struct {
	ep      transport.Endpoint
	pkt     wire.Packet
	buf     *[]byte // pooled storage of pkt, or nil when pkt is in the datagram
	peer    *Peer
	wireID  uint64
	opened  bool // authenticated, decrypted and decompressed
	control bool // needs the control plane first: HELLO, or an unknown sender
}

// admit is the datagram stage: counting, relaying what is not ours and
// reassembling fragments. It reports a whole packet for us.
func (n *Node) admit(now int64, ep transport.Endpoint, data []byte) (rxItem, bool) {
	n.stats.DatagramsReceived.Add(1)
	if len(data) < wire.MinFragmentLength {
		n.stats.Junk.Add(1) // hole-punch probes and noise
		return rxItem{}, false
	}
	if wire.IsFragment(data) {
		f, err := wire.ParseFragment(data)
		if err != nil {
			n.stats.Malformed.Add(1)
			return rxItem{}, false
		}
		if f.Destination() != n.addr {
			n.relay(now, ep, data, true)
			return rxItem{}, false
		}
		whole, buf, ok := n.reassemble(f.PacketID(), func(r *wire.Reassembler, dst []byte) (wire.Packet, bool) {
			return r.AddFragment(dst, f)
		})
		return rxItem{ep: ep, pkt: whole, buf: buf}, ok
	}
	if len(data) < wire.MinPacketLength {
		n.stats.Junk.Add(1) // e.g. 13-byte legacy LAN beacons
		return rxItem{}, false
	}
	pkt := wire.Packet(data)
	if pkt.Destination() != n.addr {
		n.relay(now, ep, data, false)
		return rxItem{}, false
	}
	if pkt.Fragmented() {
		whole, buf, ok := n.reassemble(pkt.ID(), func(r *wire.Reassembler, dst []byte) (wire.Packet, bool) {
			return r.AddHead(dst, pkt)
		})
		return rxItem{ep: ep, pkt: whole, buf: buf}, ok
	}
	return rxItem{ep: ep, pkt: pkt}, true
}

// open authenticates, decrypts and decompresses a packet from a known
// peer. It takes no lock, so batches are opened on several cores.
func (n *Node) open(it *rxItem) {
	pkt := it.pkt
	src := pkt.Source()
	if src == n.addr || src.IsReserved() {
		n.stats.Malformed.Add(1)
		return
	}
	if pkt.Cipher() == wire.SuitePoly1305None && pkt.Verb() == wire.VerbHELLO {
		it.control = true
		return
	}
	p := n.lookup(src)
	if p == nil {
		it.control = true
		return
	}
	it.peer = p
	it.wireID = pkt.ID()
	if _, err := wire.Dearmor(pkt, p.keys); err != nil {
		n.stats.BadMAC.Add(1)
		return
	}
	if pkt.Compressed() {
		dbuf := getBuf(wire.MaxPacketLength)
		out, err := wire.Decompress((*dbuf)[:0], pkt)
		if it.buf != nil {
			putBuf(it.buf)
		}
		it.buf = dbuf
		if err != nil {
			n.stats.Malformed.Add(1)
			return
		}
		it.pkt = out
	}
	it.opened = true
}

// deliverItem is the in-order stage: the lock-free hand-over to the upper
// layer for an established session, the control plane for the rest. It
// releases the item's buffer.
func (n *Node) deliverItem(now int64, it *rxItem) {
	handedOver := false
	defer func() {
		if it.buf != nil && !handedOver {
			putBuf(it.buf)
		}
		it.buf = nil
	}()
	if it.control {
		pkt := it.pkt
		n.mu.Lock()
		if pkt.Cipher() == wire.SuitePoly1305None && pkt.Verb() == wire.VerbHELLO {
			n.handleHello(now, it.ep, pkt)
			ds, upper := n.takeDeliveries(), n.getUpper()
			n.unlock()
			n.handOver(now, upper, ds)
			return
		}
		if n.peers[pkt.Source()] == nil {
			n.park(now, it.ep, pkt)
			n.requestWhois(now, pkt.Source())
			n.unlock()
			return
		}
		n.unlock() // learned since open: open it now
		it.control = false
		n.open(it)
		if it.control {
			return
		}
	}
	if !it.opened {
		return
	}
	if it.peer.replays.seen(it.wireID) {
		n.stats.Replayed.Add(1)
		return
	}
	p, pkt := it.peer, it.pkt
	verb := pkt.Verb()
	vl2 := verb.IsVL2() && verb != wire.VerbOK && verb != wire.VerbERROR
	var pa *Path // the known path it came on, looked up once for the bond and the fast path
	if vl2 || p.bond != nil {
		pa = n.knownPath(it.ep)
	}
	if p.bond != nil && pkt.Hops() == 0 {
		n.bondReceived(now, p, pa, it.wireID, verb, pkt.Payload())
	}
	if vl2 {
		if pa != nil && n.receivedFast(now, p, pa, pkt.Hops(), verb) {
			n.stats.Received[verb].Add(1)
			if upper := n.getUpper(); upper != nil {
				in := Inbound{From: p.id.Address(), Verb: verb, PacketID: it.wireID, Hops: pkt.Hops(), Payload: pkt.Payload()}
				if upper.HandleVL2(in) {
					stamp(&p.lastTrust, now)
					stamp(&pa.lastTrust, now)
				}
			}
			return
		}
	}
	n.mu.Lock()
	pa = n.pathFor(it.ep)
	if pa == nil {
		n.unlock()
		return
	}
	stamp(&pa.lastReceive, now)
	handedOver = n.dispatch(now, it.ep, pa, p, pkt, it.wireID, it.buf)
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
		buf = getBuf(wire.MaxPacketLength)
		out, err := wire.Decompress((*buf)[:0], pkt)
		if err != nil {
			putBuf(buf)
			n.stats.Malformed.Add(1)
			return
		}
		pkt = out
	}
	pa := n.pathFor(r.ep)
	if pa == nil {
		if buf != nil {
			putBuf(buf)
		}
		return
	}
	stamp(&pa.lastReceive, now)
	if !n.dispatch(now, r.ep, pa, p, pkt, wireID, buf) && buf != nil {
		putBuf(buf)
	}
}

// dispatch runs the verb handlers. It reports whether buf was handed to a
// delivery (which then owns it).
func (n *Node) dispatch(now int64, ep transport.Endpoint, pa *Path, p *Peer, pkt wire.Packet, wireID uint64, buf *[]byte) bool {
	hops := pkt.Hops()
	verb := pkt.Verb()
	payload := pkt.Payload()
	n.stats.Received[verb].Add(1)
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
		if e.Code < ErrorCodeSlots {
			n.stats.ErrorsIn[e.Code].Add(1)
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
	case wire.VerbACK, wire.VerbQOS_MEASUREMENT, wire.VerbPATH_NEGOTIATION:
		// Accepted; without a bond ignored, as a node without multipath does.
		n.handleMultipath(now, p, pa, verb, payload)
	case wire.VerbUSER_MESSAGE, wire.VerbREMOTE_TRACE:
		// Accepted and ignored.
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
			putBuf(d.buf)
		}
		if trusted {
			stamp(&d.peer.lastTrust, now)
			stamp(&d.path.lastTrust, now)
		}
	}
	clear(ds)
	n.mu.Lock()
	if n.deliverSpare == nil {
		n.deliverSpare = ds[:0]
	}
	n.mu.Unlock()
}
