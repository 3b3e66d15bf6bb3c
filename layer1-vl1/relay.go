package vl1

import (
	"net/netip"

	transport "github.com/ztgo/ztgo/layer0-transport"
	"github.com/ztgo/ztgo/layer1-vl1/identity"
	"github.com/ztgo/ztgo/layer1-vl1/wire"
)

// relay forwards a packet or fragment addressed to someone else
// (Switch::onRemotePacket, vl1-peers.md §6) without the lock. The MAC
// stays valid: only the hop count changes, and it is not authenticated.
func (n *Node) relay(now int64, ep transport.Endpoint, data []byte, fragment bool) {
	in := n.knownPath(ep)
	if !n.amRoot.Load() && (in == nil || now-in.lastTrust.Load() >= trustExpiration) {
		n.stats.RelayRefused.Add(1)
		return
	}
	var dst, src identity.Address
	var hops int
	if fragment {
		f := wire.Fragment(data)
		dst, hops = f.Destination(), f.Hops()
	} else {
		pkt := wire.Packet(data)
		dst, src, hops = pkt.Destination(), pkt.Source(), pkt.Hops()
		if src == n.addr || src.IsReserved() {
			n.stats.RelayRefused.Add(1)
			return
		}
	}
	if hops >= relayMaxHops {
		n.stats.HopLimit.Add(1)
		return
	}
	if fragment {
		wire.Fragment(data).SetHops(hops + 1)
	} else {
		wire.Packet(data).SetHops(hops + 1)
	}
	out, direct := n.relayRoute(now, dst)
	if out == nil || (!direct && !fragment && out.via == src) || out.path.ep == ep {
		n.stats.RelayRefused.Add(1)
		return
	}
	sb := sendBatchPool.Get().(*sendBatch)
	sb.bufs[0] = data
	if err := n.bind.Send(sb.bufs[:1], out.path.ep); err != nil {
		n.stats.SendErrors.Add(1)
	}
	sb.bufs[0] = nil
	sendBatchPool.Put(sb)
	stamp(&out.path.lastSend, now)
	n.stats.Relayed.Add(1)
	if !fragment && direct {
		n.maybeUnite(now, src, dst)
	}
}

// relayRoute is where a relayed packet for dst goes: dst's direct path,
// else the best upstream (which relays further).
func (n *Node) relayRoute(now int64, dst identity.Address) (*route, bool) {
	if p := n.lookup(dst); p != nil {
		// The published route already falls back to the best upstream;
		// only a path that merely has not expired yet is no route here.
		if r := n.routeFor(now, p); r != nil && (r.direct || r.via != 0) {
			return r, r.direct
		}
	}
	n.mu.Lock()
	defer n.unlock()
	u := n.bestUpstream(now)
	if u == nil {
		return nil, false
	}
	if pp := u.bestPath(now, false); pp != nil {
		return &route{path: pp.path, via: u.id.Address()}, false
	}
	return nil, false
}

// maybeUnite introduces two peers whose traffic we relayed, at most every
// ZT_MIN_UNITE_INTERVAL per pair.
func (n *Node) maybeUnite(now int64, a, b identity.Address) {
	key := [2]identity.Address{min(a, b), max(a, b)}
	if last, ok := n.united.Load(key); ok && now-last.(int64) < minUniteInterval {
		return
	}
	n.mu.Lock()
	defer n.unlock()
	if last, ok := n.united.Load(key); ok && now-last.(int64) < minUniteInterval {
		return
	}
	pa, pb := n.peers[a], n.peers[b]
	if pa == nil || pb == nil {
		return
	}
	if n.introduce(now, pa, pb) {
		n.united.Store(key, now)
	}
}

// introduce sends RENDEZVOUS to both peers, naming the other's address in
// the best scope and family both have (Peer::introduce).
func (n *Node) introduce(now int64, a, b *Peer) bool {
	type slot struct {
		pp *peerPath
		q  int64
	}
	best := func(p *Peer, scope IPScope, v6 bool) *peerPath {
		var s slot
		for _, pp := range p.paths {
			ip := pp.path.ep.Addr.Addr().Unmap()
			if pp.expired(now) || ScopeOf(ip) != scope || ip.Is6() != v6 {
				continue
			}
			if q := pp.quality(now); s.pp == nil || q <= s.q {
				s = slot{pp, q}
			}
		}
		return s.pp
	}
	for scope := ScopePrivate; ; scope-- {
		for _, v6 := range []bool{true, false} {
			pa, pb := best(a, scope, v6), best(b, scope, v6)
			if pa == nil || pb == nil {
				continue
			}
			first, second := a, b
			fp, sp := pa, pb
			if n.rng.IntN(2) == 1 {
				first, second, fp, sp = b, a, pb, pa
			}
			n.log.Debug("introducing peers", "a", a.id.Address(), "a_at", pa.path.ep, "b", b.id.Address(), "b_at", pb.path.ep)
			n.sendRendezvous(now, first, fp, second, sp.path.ep.Addr)
			n.sendRendezvous(now, second, sp, first, fp.path.ep.Addr)
			n.stats.Rendezvous.Add(1)
			return true
		}
		if scope == ScopeNone {
			return false
		}
	}
}

func (n *Node) sendRendezvous(now int64, to *Peer, via *peerPath, other *Peer, at netip.AddrPort) {
	r := wire.Rendezvous{With: other.id.Address(), Endpoint: at}
	pkt := n.build(to, wire.VerbRENDEZVOUS, r.AppendPayload(n.scratch[:0]), false)
	n.transmit(now, to, pkt, suiteFor(to), via.path.ep, via.path, false)
}

// handleRendezvous punches towards the named peer (_doRENDEZVOUS).
//
// 1.14.1 sends a TTL-2 junk datagram from one socket and its probe (ECHO or
// HELLO) at once, and drops the introduction if the named peer is still
// unknown. ztgo opens the NAT mapping of every socket with the junk at
// once (probes go out of every socket too), and waits punchDelay before
// probing, and for WHOIS if needed: the peer's own junk has then opened its
// NAT, so our probe is not the first packet there. On Linux a probe that
// arrives first leaves a conntrack entry that makes the far NAT pick another
// port for the peer's answer — the hole never opens (see spec/nat-matrix.md).
func (n *Node) handleRendezvous(now int64, ep transport.Endpoint, from *Peer, payload []byte) {
	if !n.isUpstream(from.id.Address()) {
		n.stats.Refused.Add(1)
		return
	}
	r, err := wire.ParseRendezvous(payload)
	if err != nil {
		n.stats.Malformed.Add(1)
		return
	}
	n.log.Debug("RENDEZVOUS", "with", r.With, "at", r.Endpoint)
	if r.Endpoint.Port() == 0 || !n.usable(r.With, r.Endpoint) || r.With == n.addr {
		n.stats.Refused.Add(1)
		return
	}
	junk := fragPool.Get().(*[]byte)
	v := n.rng.Uint32()
	*junk = append((*junk)[:0], byte(v), byte(v>>8), byte(v>>16), byte(v>>24))
	n.outbox = append(n.outbox, outgoing{ep: transport.Endpoint{Addr: r.Endpoint, Socket: transport.AnySocket}, bufs: []*[]byte{junk}, ttl: 2})
	n.punches[r.With] = punch{to: transport.Endpoint{Addr: r.Endpoint, Socket: ep.Socket}, due: now + punchDelay, since: now}
	if n.peers[r.With] == nil {
		n.requestWhois(now, r.With)
	}
	n.stats.Punches.Add(1)
}

// A punch probes an introduced address: at punchDelay, and again
// punchRetry later if no direct path formed.
type punch struct {
	to       transport.Endpoint
	due      int64
	since    int64
	attempts int
}

const (
	punchDelay    = 200
	punchRetry    = 1000
	punchAttempts = 3
)

// runPunches sends the probes that are due and returns the next due time.
func (n *Node) runPunches(now int64) int64 {
	next := int64(1 << 62)
	for a, pu := range n.punches {
		if now-pu.since >= queueTimeout {
			delete(n.punches, a)
			continue
		}
		p := n.peers[a]
		if pu.due > now || p == nil {
			next = min(next, max(pu.due, now+whoisRetryDelay))
			continue
		}
		if pu.attempts > 0 && p.bestPath(now, false) != nil {
			delete(n.punches, a)
			continue
		}
		n.contact(now, p, pu.to, false)
		pu.attempts++
		if pu.attempts >= punchAttempts {
			delete(n.punches, a)
			continue
		}
		pu.due = now + punchRetry
		n.punches[a] = pu
		next = min(next, pu.due)
	}
	return next
}

// maybePushDirectPaths tells a trusted peer our candidate addresses
// (Peer::received, vl1-peers.md §7.2).
func (n *Node) maybePushDirectPaths(now int64, p *Peer, pa *Path, hops int) {
	if now-p.lastTrust.Load() >= trustExpiration {
		return
	}
	interval := int64(pushIntervalHavePath)
	if hops > 0 {
		interval = pushInterval
	}
	if now-p.lastPushSent.Load() < interval {
		return
	}
	p.lastPushSent.Store(now)
	var cands []netip.AddrPort
	if n.local != nil {
		cands = append(cands, n.local()...)
	}
	cands = append(cands, n.whoami(now)...)
	var msg wire.PushDirectPaths
	for _, c := range cands {
		if !n.usable(p.id.Address(), c) && !(n.loopback && c.Addr().IsLoopback()) {
			continue
		}
		t := uint8(4)
		if c.Addr().Unmap().Is6() {
			t = 6
		}
		msg.Paths = append(msg.Paths, wire.PathRecord{AddrType: t, Endpoint: netip.AddrPortFrom(c.Addr().Unmap(), c.Port())})
		if len(msg.Paths) == 60 { // ~1200 bytes of records per packet
			n.sendPush(now, p, pa, &msg)
			msg.Paths = msg.Paths[:0]
		}
	}
	if len(msg.Paths) > 0 {
		n.sendPush(now, p, pa, &msg)
	}
}

func (n *Node) sendPush(now int64, p *Peer, pa *Path, msg *wire.PushDirectPaths) {
	pkt := n.build(p, wire.VerbPUSH_DIRECT_PATHS, msg.AppendPayload(nil), true)
	n.transmit(now, p, pkt, suiteFor(p), pa.ep, pa, false)
	n.stats.PushesSent.Add(1)
}

// handlePush tries the addresses a peer pushed (_doPUSH_DIRECT_PATHS).
func (n *Node) handlePush(now int64, p *Peer, payload []byte) {
	if now-p.lastPushRecv < pushCutoffTime {
		p.pushRecvCount++
	} else {
		p.pushRecvCount = 0
	}
	p.lastPushRecv = now
	if p.pushRecvCount >= pushCutoffLimit {
		n.stats.RateGated.Add(1)
		return
	}
	m, err := wire.ParsePushDirectPaths(payload)
	if err != nil {
		n.stats.Malformed.Add(1)
		return
	}
	perScope := map[[2]int]int{}
	for _, r := range m.Paths {
		if r.AddrType != 4 && r.AddrType != 6 || r.Flags&wire.PathFlagForget != 0 {
			continue
		}
		if !n.usable(p.id.Address(), r.Endpoint) {
			continue
		}
		known := false
		for _, pp := range p.paths {
			if pp.path.ep.Addr == r.Endpoint && !pp.expired(now) {
				known = true
			}
		}
		if known {
			continue
		}
		k := [2]int{int(ScopeOf(r.Endpoint.Addr())), int(r.AddrType)}
		if perScope[k] >= pushMaxPerScopeFamily {
			continue
		}
		perScope[k]++
		n.contact(now, p, transport.Endpoint{Addr: r.Endpoint, Socket: transport.AnySocket}, false)
	}
}
