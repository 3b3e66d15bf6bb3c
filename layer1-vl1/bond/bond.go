package bond

import (
	"net/netip"

	"github.com/ztgo/ztgo/layer1-vl1/wire"
)

// Constants of 1.14.1 (node/Constants.hpp) the bond runs on.
const (
	MaxPaths                  = 16     // ZT_MAX_PEER_NETWORK_PATHS
	trialPeriod               = 15000  // ZT_BOND_OPTIMIZE_INTERVAL: a new path is eligible this long regardless
	expiredPathTrialPeriod    = 600000 // ZT_PEER_EXPIRED_PATH_TRIAL_PERIOD: ineligible this long and it leaves the bond
	peerPathExpiration        = 243000 // ZT_PEER_PATH_EXPIRATION: idle flows are forgotten after this
	pathAliveTimeout          = 19000  // Path::alive: ZT_PATH_HEARTBEAT_PERIOD + 5000 (broadcast's path set)
	backgroundTaskMinInterval = 60     // ZT_BOND_BACKGROUND_TASK_MIN_INTERVAL: Tick does nothing more often
	echosPerFailoverInterval  = 3      // ZT_BOND_ECHOS_PER_FAILOVER_INTERVAL
	defaultRefractoryPeriod   = 8000   // ZT_BOND_DEFAULT_REFRACTORY_PERIOD
	maxRefractoryPeriod       = 600000 // ZT_BOND_MAX_REFRACTORY_PERIOD
	handicapPreferred         = 500    // ZT_BOND_FAILOVER_HANDICAP_PREFERRED
	handicapPrimary           = 1000   // ZT_BOND_FAILOVER_HANDICAP_PRIMARY
	optimizeMinThreshold      = 0.10   // ZT_BOND_ACTIVE_BACKUP_OPTIMIZE_MIN_THRESHOLD
	qosMaxPending             = wire.QoSMaxRecords * 3
	latencyWindow             = 64 // ZT_QOS_SHORTTERM_SAMPLE_WIN_SIZE
	latencyMinSamples         = 4  // ZT_QOS_SHORTTERM_SAMPLE_WIN_MIN_REQ_SIZE
	pathNegotiationCutoffTime = 60000
)

// PathKey names a physical path: the local interface (the link), the local
// socket on it, and the remote address.
type PathKey struct {
	Link   string
	Socket int
	Remote netip.AddrPort
}

// PathIndex is a path's slot in its Bond, stable from AddPath until the path
// leaves the bond; the engine keeps it with its own path to call the per
// packet methods without a lookup.
type PathIndex int8

// NoPath is no path.
const NoPath PathIndex = -1

// FlowID identifies an inner flow, as 1.14 computes it from the frame
// (FlowIDFromPorts); NoFlow for traffic without ports.
type FlowID int32

// NoFlow is ZT_QOS_NO_FLOW.
const NoFlow FlowID = -1

// FlowIDFromPorts is the flow ID 1.14 gives an IPv4/IPv6 TCP, UDP, SCTP or
// UDP-Lite packet (Switch::onLocalEthernet): ports and protocol XORed.
func FlowIDFromPorts(srcPort, dstPort uint16, proto uint8) FlowID {
	return FlowID(dstPort ^ srcPort ^ uint16(proto))
}

type qosEntry struct {
	id uint64
	at int64
}

// slot is one nominated path (Bond::NominatedPath).
type slot struct {
	used bool
	key  PathKey
	link *Link
	v4   bool

	whenNominated, lastIn, lastOut      int64
	lastAliveToggle, lastEligibility    int64
	lastQoSReceived, lastQoSMeasured    int64
	lastRefractoryUpdate                int64
	refractoryPeriod                    uint32
	alive, eligible, bonded, avoid      bool
	onlyPathOnLink                      bool
	assignedFlows                       uint16
	latency, latencyStddev              float32
	lossRatio, errorRatio               float32 // never measured by 1.14.1: always 0
	relativeQuality, relativeCapacity   float32
	failoverScore                       int32
	packetsSinceQoS, packetsIn, packets int32 // packets: frames out since the last reset

	qosOut, qosIn    [qosMaxPending]qosEntry // outgoing IDs awaiting a QoS report; incoming IDs to report
	nQoSOut, nQoSIn  int
	latencySamples   [latencyWindow]uint16
	nLatency, latPos int
}

func (s *slot) allowed() bool   { return s.link.allows(s.v4) }
func (s *slot) preferred() bool { return s.onlyPathOnLink || s.link.prefers(s.v4) }
func (s *slot) spare() bool     { return s.link.Mode == LinkSpare }

// adjustRefractory is NominatedPath::adjustRefractoryPeriod: a failure
// doubles the penalty (capped); eligibility drains it.
func (s *slot) adjustRefractory(now int64, failure bool) {
	if failure {
		p := uint32(defaultRefractoryPeriod)
		if s.refractoryPeriod != 0 {
			p += s.refractoryPeriod * 2
		}
		s.refractoryPeriod = min(p, maxRefractoryPeriod)
		s.lastRefractoryUpdate = 0
		return
	}
	since := s.lastAliveToggle
	if s.lastRefractoryUpdate != 0 {
		since = s.lastRefractoryUpdate
	}
	drain := uint32(now - since)
	s.lastRefractoryUpdate = now
	if s.refractoryPeriod > drain {
		s.refractoryPeriod -= drain
	} else {
		s.refractoryPeriod, s.lastRefractoryUpdate = 0, 0
	}
}

// Bond is the multipath state of one peer. See the package comment for
// how the engine drives it and its concurrency contract.
type Bond struct {
	t          *Template
	peer, self uint64

	paths      [MaxPaths]slot
	bondedIdx  [MaxPaths]PathIndex // realIdxMap: bonded position -> slot
	numBonded  int
	numAlive   int
	numTotal   int
	autoLinks  []*Link // links created for interfaces the user did not name
	userLinks  bool    // the user named links
	userPrim   bool    // ... and at least one primary
	userFailTo bool    // ... and at least one failoverTo

	failoverInterval, monitorInterval, qosSendInterval int64
	packetsPerLink                                     int

	// active-backup
	abPath        PathIndex
	abQueue       [MaxPaths]PathIndex
	abQueueLen    int
	lastABChange  int64
	abChanges     uint64 // times the active path changed (Status.ActiveChanges)
	lastBGTask    int64
	lastQuality   int64
	lastFlowCheck int64

	// balance-rr
	rrIdx, rrSentOnLink int

	// balance-xor / balance-aware
	flows map[int16]flow

	randomByte uint8  // Bond::_freeRandomByte, stirred by outgoing packet IDs
	rng        uint64 // balance-aware's entropy (xorshift; 1.14 uses its CSPRNG)

	qosCutoff, pnCutoff   int
	lastQoSRate, lastPNRx int64
}

// New makes the bond for peer (self is this node's address) from template
// t, or returns nil if t is nil or its policy is none. seed feeds the
// choices 1.14 makes at random; tests pass a constant.
func New(t *Template, peer, self uint64, seed uint64) *Bond {
	if t == nil || t.Policy == PolicyNone {
		return nil
	}
	b := &Bond{t: t, peer: peer, self: self, abPath: NoPath, flows: make(map[int16]flow),
		randomByte: uint8(peer ^ seed), rng: seed | 1}
	b.failoverInterval = int64(max(t.FailoverInterval, FailoverMinInterval))
	b.monitorInterval = b.failoverInterval / echosPerFailoverInterval
	b.qosSendInterval = b.failoverInterval * 2
	b.packetsPerLink = t.PacketsPerLink
	for i := range t.Links {
		l := &t.Links[i]
		b.userLinks = true
		b.userPrim = b.userPrim || l.Mode == LinkPrimary
		b.userFailTo = b.userFailTo || l.FailoverTo != ""
	}
	for i := range b.bondedIdx {
		b.bondedIdx[i] = NoPath
	}
	return b
}

// Policy is the bond's policy.
func (b *Bond) Policy() Policy { return b.t.Policy }

// linkFor is Bond::getLinkBySocket with creation: a user-specified link, or
// nil if the user named links and not this one (Bond::linkAllowed), or an
// automatic primary link.
func (b *Bond) linkFor(name string) *Link {
	if l := b.t.link(name); l != nil {
		return l
	}
	if b.userLinks {
		return nil
	}
	for _, l := range b.autoLinks {
		if l.Name == name {
			return l
		}
	}
	l := &Link{Name: name, Enabled: true, Mode: LinkPrimary}
	b.autoLinks = append(b.autoLinks, l)
	return l
}

// AddPath nominates a path (Bond::nominatePathToBond): the engine calls it
// for every path it learns to the peer. It returns the path's index, or
// false if the policy's links exclude its interface or all MaxPaths slots
// are taken.
func (b *Bond) AddPath(now int64, k PathKey) (PathIndex, bool) {
	if i := b.Lookup(k); i != NoPath {
		return i, true
	}
	l := b.linkFor(k.Link)
	if l == nil {
		return NoPath, false
	}
	for i := range b.paths {
		s := &b.paths[i]
		if s.used {
			continue
		}
		*s = slot{used: true, key: k, link: l, v4: k.Remote.Addr().Unmap().Is4(), whenNominated: now, onlyPathOnLink: true}
		for j := range b.paths {
			if o := &b.paths[j]; j != i && o.used && o.link == l {
				o.onlyPathOnLink, s.onlyPathOnLink = false, false
			}
		}
		b.curate(now, true)
		b.estimateQuality(now)
		return PathIndex(i), true
	}
	return NoPath, false
}

// Eligible reports whether path i may carry traffic: heard from recently
// enough for the policy. An eligible path may still be outside the bonded
// set, as the survivor is in a two-link bond after a failure (1.14.1 calls
// such a bond not ready and chooses paths as without one).
func (b *Bond) Eligible(i PathIndex) bool {
	return i >= 0 && int(i) < len(b.paths) && b.paths[i].used && b.paths[i].eligible
}

// LinkMTU is the mtu configured for path i's link, 0 when none is or the
// link does not allow the path's address family (Bond::estimatePathQuality
// copies it to the path, as the engine does).
func (b *Bond) LinkMTU(i PathIndex) uint16 {
	if !b.valid(i) || !b.paths[i].allowed() {
		return 0
	}
	return b.paths[i].link.MTU
}

// Lookup finds a path's index, or NoPath.
func (b *Bond) Lookup(k PathKey) PathIndex {
	for i := range b.paths {
		if b.paths[i].used && b.paths[i].key == k {
			return PathIndex(i)
		}
	}
	return NoPath
}

// RemovePath drops a path the engine forgot; its flows move at the next
// Pick or Tick.
func (b *Bond) RemovePath(now int64, i PathIndex) {
	if !b.valid(i) {
		return
	}
	b.paths[i] = slot{}
	b.curate(now, true)
}

func (b *Bond) valid(i PathIndex) bool { return i >= 0 && int(i) < MaxPaths && b.paths[i].used }

// isFrame and sampled are Bond::recordIncomingPacket's tests: frames (and
// ECHO) count towards path negotiation; packets with an odd ID other than
// ACK and QOS_MEASUREMENT are sampled for QoS (ZT_QOS_ACK_DIVISOR = 2).
func isFrame(v wire.Verb) bool {
	return v == wire.VerbECHO || v == wire.VerbFRAME || v == wire.VerbEXT_FRAME
}
func sampled(id uint64, v wire.Verb) bool {
	return id&1 != 0 && v != wire.VerbACK && v != wire.VerbQOS_MEASUREMENT
}

// Received records an authenticated packet from the peer on path i (Path's
// last receive time and Bond::recordIncomingPacket). flow is the inner
// frame's FlowID for FRAME/EXT_FRAME, NoFlow otherwise. No allocation.
func (b *Bond) Received(now int64, i PathIndex, packetID uint64, verb wire.Verb, payloadLen int, f FlowID) {
	if !b.valid(i) {
		return
	}
	s := &b.paths[i]
	s.lastIn = now
	if !s.alive {
		s.lastAliveToggle = now
	}
	if s.allowed() {
		if isFrame(verb) {
			s.packetsIn++
		}
		if sampled(packetID, verb) && s.nQoSIn < qosMaxPending {
			s.qosIn[s.nQoSIn] = qosEntry{packetID, now}
			s.nQoSIn++
			s.packetsSinceQoS++
		}
	}
	if f != NoFlow && (b.t.Policy == PolicyBalanceRR || b.t.Policy.flowHashing()) {
		fl, ok := b.flows[int16(f)]
		if !ok {
			if fl, ok = b.createFlow(now, f, i); !ok {
				return
			}
		}
		fl.bytesIn += uint64(payloadLen)
		b.flows[int16(f)] = fl
	}
}

// Sent records a packet sent to the peer on path i
// (Bond::recordOutgoingPacket). No allocation.
func (b *Bond) Sent(now int64, i PathIndex, packetID uint64, verb wire.Verb, payloadLen int, f FlowID) {
	b.randomByte += uint8(packetID >> 8)
	if !b.valid(i) {
		return
	}
	s := &b.paths[i]
	s.lastOut = now
	if isFrame(verb) {
		s.packets++
	}
	if sampled(packetID, verb) && s.nQoSOut < qosMaxPending {
		s.qosOut[s.nQoSOut] = qosEntry{packetID, now}
		s.nQoSOut++
	}
	if f != NoFlow {
		if fl, ok := b.flows[int16(f)]; ok {
			fl.bytesOut += uint64(payloadLen)
			b.flows[int16(f)] = fl
		}
	}
}
