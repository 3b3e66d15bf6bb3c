package vl1

import (
	"net/netip"
	"slices"

	transport "github.com/ztgo/ztgo/layer0-transport"
	"github.com/ztgo/ztgo/layer1-vl1/identity"
	"github.com/ztgo/ztgo/layer1-vl1/wire"
)

// tick runs the due timer tasks with n.mu held and returns the next
// deadline (ms).
func (n *Node) tick(now int64) int64 {
	if now-n.timers.whois >= whoisRetryDelay {
		n.timers.whois = now
		n.flushTx(now)
		n.expireRx(now)
		for a, last := range n.whois {
			if now-last >= queueTimeout {
				delete(n.whois, a)
			}
		}
	}
	if now-n.timers.ping >= pingCheckInterval {
		n.timers.ping = now
		n.pingPass(now)
	}
	if now-n.timers.housekeep >= housekeepingPeriod {
		n.timers.housekeep = now
		n.housekeeping(now)
	}
	punchDue := n.runPunches(now)
	next := min(n.timers.whois+whoisRetryDelay, n.timers.ping+pingCheckInterval, n.timers.housekeep+housekeepingPeriod, punchDue)
	if n.bonding.InUse() {
		n.bondTick(now)
		next = min(next, now+bondTickInterval)
	}
	return next
}

func (n *Node) expireRx(now int64) {
	n.rxq = slices.DeleteFunc(n.rxq, func(r parkedRx) bool {
		if now-r.at >= queueTimeout {
			n.stats.RxQueueDropped.Add(1)
			return true
		}
		return false
	})
}

// pingPass is the keepalive walk (vl1-peers.md §4.4).
func (n *Node) pingPass(now int64) {
	var gated []identity.Address
	for _, a := range n.upstreams {
		p := n.peers[a]
		if p == nil {
			continue
		}
		scale := int64(upstreamTimerScale)
		if len(p.paths) == 0 {
			scale = 0
		}
		if now-p.lastContactTry < pathHeartbeatPeriod*scale && p.lastContactTry != 0 {
			gated = append(gated, a)
			continue
		}
		p.lastContactTry = now
		v4, v6 := n.keepalive(now, p)
		sent := v4 || v6
		var eps4, eps6 []netip.AddrPort
		for _, e := range n.stable[a] {
			if e.Addr().Unmap().Is4() {
				eps4 = append(eps4, e)
			} else {
				eps6 = append(eps6, e)
			}
		}
		if !v4 && len(eps4) > 0 {
			n.sendHello(now, p, transport.Endpoint{Addr: eps4[n.rng.IntN(len(eps4))]})
			sent = true
		}
		if !v6 && len(eps6) > 0 {
			n.sendHello(now, p, transport.Endpoint{Addr: eps6[n.rng.IntN(len(eps6))]})
			sent = true
		}
		if !sent {
			n.sendHelloRelayed(now, p)
		}
	}
	n.upstreamWhois(now, gated)
	for _, seed := range n.moonSeeds {
		p := n.peers[seed]
		if p == nil {
			n.requestWhois(now, seed)
			continue
		}
		if now-p.lastContactTry < pathHeartbeatPeriod*alwaysContactScale && p.lastContactTry != 0 {
			continue
		}
		p.lastContactTry = now
		if v4, v6 := n.keepalive(now, p); !v4 && !v6 {
			n.sendHelloRelayed(now, p)
		}
	}
	for a, p := range n.peers {
		if !n.isUpstream(a) && p.active(now) {
			n.keepalive(now, p)
		}
	}
}

// upstreamWhois sends what 1.14.1 sends every ping pass for each root its
// keepalive gate skips (Node.cpp leaves those roots among the addresses it
// then WHOISes): a WHOIS for the root, to the best root. Nothing needs the
// answer, but the exchange every 5 s keeps the NAT mappings toward the root
// open, so peers can reach a member behind a NAT through its root (the
// gate alone would let a member stay silent toward it for 224 s).
func (n *Node) upstreamWhois(now int64, roots []identity.Address) {
	u := n.bestUpstream(now)
	if u == nil || len(roots) == 0 {
		return
	}
	w := wire.Whois{Addresses: roots}
	if _, ok := n.sendTo(now, u, wire.VerbWHOIS, w.AppendPayload(n.scratch[:0]), false, nil); ok {
		n.stats.WhoisSent.Add(1)
	}
}

// keepalive is Peer::doPingAndKeepalive: a full HELLO every 60 s on each
// live path, an ECHO on paths quiet for 14 s. It reports which address
// families it pinged.
func (n *Node) keepalive(now int64, p *Peer) (v4, v6 bool) {
	full := now-p.lastFullHello >= peerPingPeriod
	if full {
		p.lastFullHello = now
	}
	p.prunePaths(now)
	n.syncBond(now, p)
	for _, pp := range p.paths {
		switch {
		case full:
			n.sendHello(now, p, pp.path.ep)
		case now-pp.path.lastSend.Load() >= pathHeartbeatPeriod:
			n.contact(now, p, pp.path.ep, false)
		default:
			continue
		}
		if pp.path.ep.Addr.Addr().Unmap().Is4() {
			v4 = true
		} else {
			v6 = true
		}
	}
	return v4, v6
}

// housekeeping evicts dead peers and forgets stale state.
func (n *Node) housekeeping(now int64) {
	for a, p := range n.peers {
		if n.isUpstream(a) || p.alive(now) {
			continue
		}
		if slices.Contains(n.pendingMoonSeeds(), a) {
			continue
		}
		n.dropPeer(a)
		n.stats.PeersEvicted.Add(1)
	}
	used := map[*Path]bool{}
	for _, p := range n.peers {
		p.prunePaths(now)
		n.syncBond(now, p)
		for _, pp := range p.paths {
			used[pp.path] = true
		}
	}
	for ep, pa := range n.paths {
		if !used[pa] && now-pa.lastReceive.Load() >= unusedPathLife && now-pa.lastSend.Load() >= unusedPathLife {
			delete(n.paths, ep)
			n.pathIndex.Delete(ep)
		}
	}
	n.united.Range(func(k, t any) bool {
		if now-t.(int64) >= minUniteInterval {
			n.united.Delete(k)
		}
		return true
	})
	for k, e := range n.aware {
		if now-e.at >= selfAwarenessTimeout {
			delete(n.aware, k)
		}
	}
}

func (n *Node) pendingMoonSeeds() []identity.Address {
	var s []identity.Address
	for _, a := range n.moonSeeds {
		s = append(s, a)
	}
	return s
}

// Self-awareness: what others see as our address (vl1-peers.md §5).
type awareKey struct {
	reporter identity.Address
	socket   int
	scope    IPScope
	v6       bool
}

type awareEntry struct {
	reported netip.AddrPort
	at       int64
}

// iam records that reporter, reached at ep, sees us at reported.
func (n *Node) iam(now int64, reporter *Peer, ep transport.Endpoint, reported netip.AddrPort) {
	rip := reported.Addr().Unmap()
	scope := ScopeOf(rip)
	if scope != ScopeOf(ep.Addr.Addr()) || scope == ScopeNone || scope == ScopeLoopback || scope == ScopeMulticast {
		return
	}
	k := awareKey{reporter.id.Address(), ep.Socket, scope, rip.Is6()}
	old, had := n.aware[k]
	n.aware[k] = awareEntry{netip.AddrPortFrom(rip, reported.Port()), now}
	if !had || old.reported.Addr() == rip || !n.isUpstream(reporter.id.Address()) || now-old.at >= selfAwarenessTimeout {
		return
	}
	// A root sees us at a new IP: our network changed. Forget the other
	// reports for this scope and re-probe every path in it.
	n.log.Info("external address changed", "old", old.reported, "new", reported, "reporter", reporter.id.Address())
	for k2 := range n.aware {
		if k2 != k && k2.scope == scope && k2.v6 == k.v6 {
			delete(n.aware, k2)
		}
	}
	for _, p := range n.peers {
		for _, pp := range p.paths {
			ip := pp.path.ep.Addr.Addr().Unmap()
			if ScopeOf(ip) == scope && ip.Is6() == k.v6 {
				n.contact(now, p, pp.path.ep, false)
				pp.lr.Store(0)
				p.route.Store(nil)
			}
		}
	}
}

// whoami returns the distinct external addresses reported recently.
func (n *Node) whoami(now int64) []netip.AddrPort {
	var out []netip.AddrPort
	for _, e := range n.aware {
		if now-e.at < selfAwarenessTimeout && !slices.Contains(out, e.reported) {
			out = append(out, e.reported)
		}
	}
	slices.SortFunc(out, func(a, b netip.AddrPort) int { return a.Compare(b) })
	return out
}
