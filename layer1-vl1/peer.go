package vl1

import (
	"net/netip"
	"slices"
	"sync/atomic"

	transport "github.com/ztgo/ztgo/layer0-transport"
	"github.com/ztgo/ztgo/layer1-vl1/identity"
	"github.com/ztgo/ztgo/layer1-vl1/wire"
)

// Timers and limits of 1.14.1, in milliseconds (vl1-peers.md §8).
const (
	whoisRetryDelay       = 500   // ZT_WHOIS_RETRY_DELAY
	pingCheckInterval     = 5000  // ZT_PING_CHECK_INTERVAL
	housekeepingPeriod    = 30000 // ZT_HOUSEKEEPING_PERIOD
	pathHeartbeatPeriod   = 14000 // ZT_PATH_HEARTBEAT_PERIOD
	pathAliveTimeout      = pathHeartbeatPeriod + 5000
	peerPingPeriod        = 60000  // ZT_PEER_PING_PERIOD
	peerPathExpiration    = 243000 // ZT_PEER_PATH_EXPIRATION
	peerActivityTimeout   = 500000 // ZT_PEER_ACTIVITY_TIMEOUT
	trustExpiration       = 600000 // ZT_TRUST_EXPIRATION
	queueTimeout          = 5000   // ZT_TRANSMIT/RECEIVE_QUEUE_TIMEOUT
	queueSize             = 32     // ZT_TX/RX_QUEUE_SIZE
	minUniteInterval      = 30000  // ZT_MIN_UNITE_INTERVAL
	pushInterval          = 15000  // ZT_DIRECT_PATH_PUSH_INTERVAL
	pushIntervalHavePath  = 120000 // ZT_DIRECT_PATH_PUSH_INTERVAL_HAVEPATH
	pushCutoffTime        = 30000  // ZT_PUSH_DIRECT_PATHS_CUTOFF_TIME
	pushCutoffLimit       = 8
	pushMaxPerScopeFamily = 8
	pathConfirmInterval   = 1000
	peerWhoisRateLimit    = 100
	echoRateLimit         = 166
	identityRateLimit     = 2000 // x86-64 value of ZT_IDENTITY_VALIDATION_SOURCE_RATE_LIMIT
	selfAwarenessTimeout  = 600000
	maxPeerPaths          = 64
	upstreamTimerScale    = 16
	alwaysContactScale    = 2
	latencyUnknown        = 0xffff
	relayMaxHops          = wire.RelayMaxHops
	maxPathQualityAge     = 140000
)

// Path is a physical path: a local socket and a remote address. Path
// objects are shared by every peer seen on that address, as in 1.14.1.
// The times the data path stamps are atomic; the rest belongs to n.mu.
type Path struct {
	ep          transport.Endpoint
	lastSend    atomic.Int64
	lastReceive atomic.Int64
	lastTrust   atomic.Int64
	lastConfirm int64 // confirmation HELLO sent (≤ 1/s)
	lastEcho    int64 // ECHO answered (≤ 1 per 166 ms)
	latency     int   // ms, latencyUnknown until measured

	// mtu is the MTU packets sent on this path are fragmented at, 0 for
	// the node's (1.14.1's Path::_mtu): a bond link's mtu setting or
	// /bond/setmtu sets it; the data path reads it without the lock.
	mtu atomic.Uint32
	// phys is the MTU local.conf's physical networks give the remote
	// address (Config.PhysicalMTU), 0 for none; fixed at creation.
	phys int
}

func (pa *Path) alive(now int64) bool { return now-pa.lastReceive.Load() < pathAliveTimeout }

// Peer is another node and the paths it was heard on. Its identity and
// keys never change; the control plane (n.mu) owns the rest, except what
// the data path reads or stamps without the lock: the atomic times, the
// published path list and the cached route.
type Peer struct {
	id   *identity.Identity
	keys *wire.Keys

	proto   uint8 // 0 until a HELLO or OK(HELLO) told us
	version Version

	// paths is replaced, never modified in place, so that the data path
	// can walk the published list without the lock.
	paths     []*peerPath
	published atomic.Pointer[[]*peerPath]
	route     atomic.Pointer[route]

	lastReceive     atomic.Int64
	lastNonTrivial  atomic.Int64
	lastTrust       atomic.Int64
	lastPushSent    atomic.Int64
	lastFullHello   int64
	lastContactTry  int64 // always-contact round (roots, seeds)
	lastPushRecv    int64
	pushRecvCount   int
	lastWhoisAnswer int64
	lastConfirm     int64 // a confirmation HELLO to a new path of this peer

	replays replayWindow

	// bond is the peer's multipath bond (bonding.go), fixed at creation;
	// nil without bonding, which is all the data path tests.
	bond *peerBond
}

type peerPath struct {
	path     *Path
	lr       atomic.Int64 // last valid packet from this peer on the path
	priority int
}

func (n *Node) newPeer(id *identity.Identity) (*Peer, error) {
	k, err := wire.KeysBetween(n.self, id)
	if err != nil {
		return nil, err
	}
	p := &Peer{id: id, keys: k}
	p.bond = n.makeBond(p)
	return p, nil
}

// setPaths replaces p's path list (n.mu held) and drops the cached route.
func (p *Peer) setPaths(paths []*peerPath) {
	p.paths = paths
	p.published.Store(&paths)
	p.route.Store(nil)
}

// publishedPath finds pa among p's paths without the lock.
func (p *Peer) publishedPath(pa *Path) *peerPath {
	if l := p.published.Load(); l != nil {
		for _, pp := range *l {
			if pp.path == pa {
				return pp
			}
		}
	}
	return nil
}

// pathFor returns the path object for ep, making it if needed (n.mu held).
// It returns nil when the table is full: authenticated packets replayed
// from forged source addresses would otherwise make a path each (issue 11).
// The table holds a few paths per peer; housekeeping reclaims the ones no
// peer uses within a minute.
func (n *Node) pathFor(ep transport.Endpoint) *Path {
	pa := n.paths[ep]
	if pa == nil {
		if len(n.paths) >= maxPathsBase+maxPathsPerPeer*len(n.peers) {
			n.stats.RateGated.Add(1)
			return nil
		}
		pa = &Path{ep: ep, latency: latencyUnknown, phys: n.physicalMTU(ep.Addr.Addr())}
		n.paths[ep] = pa
		n.pathIndex.Store(ep, pa)
	}
	return pa
}

// physicalMTU is the MTU of the first configured physical network that
// holds a (Topology::getOutboundPathInfo), 0 when none does.
func (n *Node) physicalMTU(a netip.Addr) int {
	a = a.Unmap()
	for _, p := range n.physMTU {
		if p.Network.Contains(a) {
			return p.MTU
		}
	}
	return 0
}

const (
	maxPathsBase    = 1024
	maxPathsPerPeer = 4
	unusedPathLife  = 60000 // ms an unused path object is kept
	confirmPerPeer  = 250   // ms between a peer's confirmation HELLOs
)

// usable is shouldUsePathForZeroTierTraffic (vl1-peers.md §4.5).
func (n *Node) usable(addr identity.Address, ap netip.AddrPort) bool {
	ip := ap.Addr().Unmap()
	if n.loopback && ip.IsLoopback() {
		return true
	}
	if !usableAddress(ip) {
		return false
	}
	if eps, ok := n.stable[addr]; ok && len(eps) > 0 {
		for _, e := range eps {
			if e.Addr().Unmap() == ip {
				return true
			}
		}
		return false
	}
	return true
}

func (pp *peerPath) expired(now int64) bool { return now-pp.lr.Load() >= peerPathExpiration }

// quality is Path::quality divided by priority: lower is better
// (vl1-peers.md §4.3).
func (pp *peerPath) quality(now int64) int64 {
	age := min(now-pp.path.lastReceive.Load(), maxPathQualityAge)
	base := int64(pp.path.latency)
	if age >= pathAliveTimeout {
		base += latencyUnknown + age
	}
	q := base * int64(8-ScopeOf(pp.path.ep.Addr.Addr()))
	return q / int64(max(pp.priority, 1))
}

// bestPath picks the path to send on, or nil (getAppropriatePath).
func (p *Peer) bestPath(now int64, includeExpired bool) *peerPath {
	var best *peerPath
	var bestQ int64
	for _, pp := range p.paths {
		if !includeExpired && pp.expired(now) {
			continue
		}
		if q := pp.quality(now); best == nil || q <= bestQ {
			best, bestQ = pp, q
		}
	}
	return best
}

// received is Peer::received: the path bookkeeping after every
// authenticated packet (vl1-peers.md §4.1).
// Trust is stamped separately, once the upper layer has accepted a packet
// (handOver).
func (n *Node) received(now int64, p *Peer, pa *Path, hops int, verb wire.Verb) {
	p.lastReceive.Store(now)
	if nonTrivial(verb) {
		p.lastNonTrivial.Store(now)
	}
	if hops == 0 {
		n.learnPath(now, p, pa, verb)
	}
	n.maybePushDirectPaths(now, p, pa, hops)
}

// nonTrivial verbs keep a peer active (Peer::received).
func nonTrivial(verb wire.Verb) bool {
	switch verb {
	case wire.VerbFRAME, wire.VerbEXT_FRAME, wire.VerbNETWORK_CONFIG_REQUEST, wire.VerbNETWORK_CONFIG, wire.VerbMULTICAST_FRAME:
		return true
	}
	return false
}

func (n *Node) learnPath(now int64, p *Peer, pa *Path, verb wire.Verb) {
	if pp := p.publishedPath(pa); pp != nil {
		pp.lr.Store(now)
		return
	}
	ip := pa.ep.Addr.Addr()
	for _, pp := range p.paths {
		if pp.path.ep.Socket == pa.ep.Socket && pp.path.ep.Addr.Addr() == ip && pp.path.alive(now) {
			return // same IP, other port, still alive: avoid learning loops
		}
	}
	if !n.usable(p.id.Address(), pa.ep.Addr) {
		return
	}
	if verb != wire.VerbOK {
		if now-pa.lastConfirm >= pathConfirmInterval && now-p.lastConfirm >= confirmPerPeer {
			pa.lastConfirm, p.lastConfirm = now, now
			n.log.Debug("confirming new path", "peer", p.id.Address(), "path", pa.ep, "verb", verb)
			n.sendHello(now, p, pa.ep)
		}
		return
	}
	entry := &peerPath{path: pa, priority: 1}
	entry.lr.Store(now)
	paths := slices.Clone(p.paths)
	switch {
	case len(paths) < maxPeerPaths:
		paths = append(paths, entry)
	default:
		victim := 0
		for i, pp := range paths {
			if pp.path.lastReceive.Load() < paths[victim].path.lastReceive.Load() {
				victim = i
			}
		}
		paths[victim] = entry
	}
	p.setPaths(paths)
	n.syncBond(now, p)
	n.stats.PathsLearned.Add(1)
	n.log.Debug("path learned", "peer", p.id.Address(), "path", pa.ep, "socket", pa.ep.Socket)
}

// prunePaths drops expired paths and those below the best priority.
func (p *Peer) prunePaths(now int64) {
	maxPrio := 0
	for _, pp := range p.paths {
		maxPrio = max(maxPrio, pp.priority)
	}
	drop := func(pp *peerPath) bool { return pp.expired(now) || pp.priority < maxPrio }
	if slices.ContainsFunc(p.paths, drop) {
		p.setPaths(slices.DeleteFunc(slices.Clone(p.paths), drop))
	}
}

func (p *Peer) alive(now int64) bool  { return now-p.lastReceive.Load() < peerActivityTimeout }
func (p *Peer) active(now int64) bool { return now-p.lastNonTrivial.Load() < peerActivityTimeout }

// latency is the best direct path's latency, or latencyUnknown. Under a
// millisecond it is 0 (a LAN peer), as 1.14.1 shows it.
func (p *Peer) latency(now int64) int {
	if pp := p.bestPath(now, false); pp != nil {
		return pp.path.latency
	}
	return latencyUnknown
}
