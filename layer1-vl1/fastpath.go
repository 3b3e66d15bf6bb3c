package vl1

import (
	"sync"

	transport "github.com/ztgo/ztgo/layer0-transport"
	"github.com/ztgo/ztgo/layer1-vl1/bond"
	"github.com/ztgo/ztgo/layer1-vl1/identity"
	"github.com/ztgo/ztgo/layer1-vl1/wire"
)

// The data path: packets to and from peers whose session is established
// move without n.mu. The control plane (HELLO, WHOIS, path learning,
// timers) publishes what the data path needs — the peer index, each
// peer's path list and its current route — and the data path only reads
// those and stamps atomic times. Anything unusual (an unknown peer, a new
// path, a stale route, a push that is due) falls back to the locked path,
// which is the reference behaviour.

// routeTTL is how long a published route is used before the control plane
// re-evaluates it: path quality changes on the scale of seconds.
const routeTTL = 250

// route is where packets for a peer go now: a direct path, or an
// upstream's path through which the upstream relays.
type route struct {
	path   *Path
	suite  wire.CipherSuite
	direct bool
	via    identity.Address // the relaying upstream when not direct
	until  int64
}

// lookup finds a known peer without the lock.
func (n *Node) lookup(a identity.Address) *Peer {
	if v, ok := n.peerIndex.Load(a); ok {
		return v.(*Peer)
	}
	return nil
}

// setPeer and dropPeer keep the index in step with n.peers (n.mu held).
func (n *Node) setPeer(a identity.Address, p *Peer) {
	n.peers[a] = p
	n.peerIndex.Store(a, p)
}

func (n *Node) dropPeer(a identity.Address) {
	delete(n.peers, a)
	n.peerIndex.Delete(a)
}

// currentRoute returns p's published route, or nil when it is stale.
func currentRoute(now int64, p *Peer) *route {
	if r := p.route.Load(); r != nil && now < r.until {
		return r
	}
	return nil
}

// publishRoute evaluates p's route (n.mu held) and publishes it; nil
// means there is none. This is Switch::_trySend's choice — p's best direct
// path, else the best upstream's (which relays), else any path of p — with
// one difference: a direct path p has been silent on for pathAliveTimeout
// gives way to an upstream that is heard. 1.14.1 keeps sending on it until
// it expires (ZT_PEER_PATH_EXPIRATION, four minutes); but the node behind
// it may be gone and its address alive elsewhere (a controller replica
// that took over, a peer that moved), and only the upstream knows where.
// Heartbeats still go to the silent path, so it wins again once it
// answers.
func (n *Node) publishRoute(now int64, p *Peer) *route {
	r := &route{suite: suiteFor(p), until: now + routeTTL}
	direct := p.bestPath(now, false)
	if direct != nil && direct.path.alive(now) {
		r.path, r.direct = direct.path, true
	} else if u := n.bestUpstream(now); u != nil && u != p {
		if pp := u.bestPath(now, false); pp != nil && (direct == nil || pp.path.alive(now)) {
			r.path, r.via = pp.path, u.id.Address()
		}
	}
	if r.path == nil && direct != nil {
		r.path, r.direct = direct.path, true
	}
	if r.path == nil {
		if pp := p.bestPath(now, true); pp != nil {
			r.path = pp.path
		}
	}
	if r.path == nil {
		p.route.Store(nil)
		return nil
	}
	p.route.Store(r)
	return r
}

// routeFor returns p's route, re-evaluating it under the lock when stale.
func (n *Node) routeFor(now int64, p *Peer) *route {
	if r := currentRoute(now, p); r != nil {
		return r
	}
	n.mu.Lock()
	r := n.publishRoute(now, p)
	n.unlock()
	return r
}

// packetID returns a fresh packet ID. IDs are a keyed bijection of a
// counter, so they never repeat for a node's lifetime (they are nonces for
// suites 0 and 1) and need no lock.
func (n *Node) packetID() uint64 {
	for {
		x := n.idBase + n.idCounter.Add(1)
		x ^= x >> 30
		x *= 0xbf58476d1ce4e5b9
		x ^= x >> 27
		x *= 0x94d049bb133111eb
		x ^= x >> 31
		if x != 0 {
			return x
		}
	}
}

// sendBatch holds the datagrams of one packet on its way to the transport.
type sendBatch struct {
	bufs  [wire.MaxPacketFragments][]byte
	frags [wire.MaxPacketFragments]*[]byte
}

var sendBatchPool = sync.Pool{New: func() any { return new(sendBatch) }}

// sendDirect builds, armors and sends one packet on r without the lock.
func (n *Node) sendDirect(now int64, p *Peer, r *route, verb wire.Verb, payload []byte, compress bool) uint64 {
	flow := bond.NoFlow
	if p.bond != nil {
		flow = frameFlow(verb, payload)
	}
	bp := getBuf(wire.IdxPayload + len(payload))
	defer putBuf(bp)
	pkt := wire.NewPacket((*bp)[:0], n.packetID(), p.id.Address(), n.addr, verb)
	pkt = append(pkt, payload...)
	if compress {
		sp := scratchPool.Get().(*[]byte)
		pkt = wire.Compress(pkt, *sp)
		scratchPool.Put(sp)
	}
	return n.armorAndSend(now, p, pkt, r, expectsReply(verb), flow)
}

// armorAndSend armors pkt in place, splits it at the MTU of the path it
// goes on and hands the datagrams to the transport, all without the lock.
// A bonded peer's packet goes where its bond says (flow is the inner
// frame's, for the flow-hashing policies).
func (n *Node) armorAndSend(now int64, p *Peer, pkt wire.Packet, r *route, expect bool, flow bond.FlowID) uint64 {
	if p.bond != nil {
		return n.sendBonded(now, p, pkt, r, expect, flow)
	}
	verb, code := sentKind(pkt)
	mtu := n.mtuFor(r.path, len(pkt))
	id, ok := n.seal(pkt, p.keys, r.suite, expect, mtu)
	if !ok {
		return 0
	}
	sb := sendBatchPool.Get().(*sendBatch)
	if err := n.bind.Send(sb.split(pkt, mtu), r.path.ep); err != nil {
		n.stats.SendErrors.Add(1)
	}
	stamp(&r.path.lastSend, now)
	sb.release()
	n.stats.countSent(verb, code)
	return id
}

// sendBonded is armorAndSend for a bonded peer: the bond picks the paths
// first (r's path when it has none to offer), the packet is split at the
// smallest of their MTUs — the fragmented flag is authenticated, so every
// copy is split alike — and is recorded as sent on each with its armored
// ID before it goes.
func (n *Node) sendBonded(now int64, p *Peer, pkt wire.Packet, r *route, expect bool, flow bond.FlowID) uint64 {
	verb, code := sentKind(pkt)
	size := len(pkt) - wire.IdxPayload
	var to [bond.MaxPaths]*Path
	k := n.bondPick(now, p, r, verb, flow, &to)
	mtu := n.mtuFor(to[0], len(pkt))
	for _, pa := range to[1:k] {
		mtu = min(mtu, n.mtuFor(pa, len(pkt)))
	}
	id, ok := n.seal(pkt, p.keys, r.suite, expect, mtu)
	if !ok {
		return 0
	}
	n.bondSent(now, p, to[:k], id, verb, size, flow)
	sb := sendBatchPool.Get().(*sendBatch)
	bufs := sb.split(pkt, mtu)
	for _, pa := range to[:k] {
		if err := n.bind.Send(bufs, pa.ep); err != nil {
			n.stats.SendErrors.Add(1)
		}
		stamp(&pa.lastSend, now)
	}
	sb.release()
	n.stats.countSent(verb, code)
	return id
}

// split returns the datagrams of the armored pkt at mtu: the head, which
// shares pkt's storage, and fragments in pooled buffers.
func (sb *sendBatch) split(pkt wire.Packet, mtu int) [][]byte {
	bufs := append(sb.bufs[:0], pkt[:min(len(pkt), mtu)])
	for i := 1; i < wire.FragmentCount(len(pkt), mtu); i++ {
		fb := fragPool.Get().(*[]byte)
		sb.frags[i] = fb
		*fb = wire.AppendFragment((*fb)[:0], pkt, mtu, i)
		bufs = append(bufs, *fb)
	}
	return bufs
}

// release returns sb and its fragment buffers to their pools.
func (sb *sendBatch) release() {
	for i, fb := range sb.frags {
		if fb != nil {
			fragPool.Put(fb)
			sb.frags[i] = nil
		}
	}
	clear(sb.bufs[:])
	sendBatchPool.Put(sb)
}

var (
	scratchPool = sync.Pool{New: func() any { b := make([]byte, 2*wire.MaxPacketLength); return &b }}
	fragPool    = sync.Pool{New: func() any { b := make([]byte, 0, wire.DefaultPhysMTU); return &b }}
)

// receivedFast is the lock-free part of Peer::received for a packet that
// arrived on a path the peer already uses. It reports false when the
// control plane must look at the packet (a new path, or a direct-path push
// that is due), and then changes nothing.
func (n *Node) receivedFast(now int64, p *Peer, pa *Path, hops int, verb wire.Verb) bool {
	var pp *peerPath
	if hops == 0 {
		if pp = p.publishedPath(pa); pp == nil {
			return false
		}
	}
	if now-p.lastTrust.Load() < trustExpiration {
		interval := int64(pushIntervalHavePath)
		if hops > 0 {
			interval = pushInterval
		}
		if now-p.lastPushSent.Load() >= interval {
			return false
		}
	}
	if pp != nil {
		stamp(&pp.lr, now)
	}
	stamp(&pa.lastReceive, now)
	stamp(&p.lastReceive, now)
	if nonTrivial(verb) {
		stamp(&p.lastNonTrivial, now)
	}
	return true
}

// knownPath finds the path object for ep without the lock.
func (n *Node) knownPath(ep transport.Endpoint) *Path {
	if v, ok := n.pathIndex.Load(ep); ok {
		return v.(*Path)
	}
	return nil
}

// reassembly is sharded by packet ID so that receivers on several cores
// rarely meet on one lock; the lock covers only the copy into the slot.
const reasmShards = 16

type reasmShard struct {
	mu sync.Mutex
	r  *wire.Reassembler
	_  [48]byte // keep shards on separate cache lines
}

func (n *Node) reassemble(id uint64, add func(r *wire.Reassembler, dst []byte) (wire.Packet, bool)) (wire.Packet, *[]byte, bool) {
	s := &n.reasm[id%reasmShards]
	// Pieces of the default MTU make a small packet; a larger one grows
	// the buffer (one allocation) as the reassembler appends.
	buf := getBuf(smallBuf)
	s.mu.Lock()
	whole, ok := add(s.r, (*buf)[:0])
	s.mu.Unlock()
	if !ok {
		putBuf(buf)
		return nil, nil, false
	}
	return whole, buf, true
}

// outgoing is a control-plane packet queued under n.mu and sent after
// the lock is released, so that no syscall runs under it.
type outgoing struct {
	ep   transport.Endpoint
	bufs []*[]byte
	ttl  int // >0: a single junk datagram sent with this IPv4 TTL
}

// unlock releases n.mu and then sends what the locked section queued.
func (n *Node) unlock() {
	if len(n.outbox) == 0 {
		n.mu.Unlock()
		return
	}
	out := n.outbox
	n.outbox = nil
	n.mu.Unlock()
	n.sendOutbox(out)
}

func (n *Node) sendOutbox(out []outgoing) {
	var bufs [wire.MaxPacketFragments][]byte
	for _, o := range out {
		if o.ttl > 0 {
			if ts, ok := n.bind.(transport.TTLSender); ok {
				_ = ts.SendTTL(*o.bufs[0], o.ep, o.ttl)
			}
		} else {
			b := bufs[:0]
			for _, fb := range o.bufs {
				b = append(b, *fb)
			}
			if err := n.bind.Send(b, o.ep); err != nil {
				n.stats.SendErrors.Add(1)
			}
		}
		for _, fb := range o.bufs {
			fragPool.Put(fb)
		}
	}
}

// queueDatagrams copies a packet's datagrams, split at mtu, into the
// outbox (n.mu held).
func (n *Node) queueDatagrams(ep transport.Endpoint, pkt wire.Packet, mtu int) {
	o := outgoing{ep: ep}
	first := fragPool.Get().(*[]byte)
	*first = append((*first)[:0], pkt[:min(len(pkt), mtu)]...)
	o.bufs = append(o.bufs, first)
	for i := 1; i < wire.FragmentCount(len(pkt), mtu); i++ {
		fb := fragPool.Get().(*[]byte)
		*fb = wire.AppendFragment((*fb)[:0], pkt, mtu, i)
		o.bufs = append(o.bufs, fb)
	}
	n.outbox = append(n.outbox, o)
}
