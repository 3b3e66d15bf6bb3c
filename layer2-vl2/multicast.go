package vl2

import (
	"math/rand/v2"
	"slices"
	"sync"

	vl1 "github.com/ztgo/ztgo/layer1-vl1"
	"github.com/ztgo/ztgo/layer1-vl1/identity"
	"github.com/ztgo/ztgo/layer1-vl1/wire"
	"github.com/ztgo/ztgo/layer2-vl2/vl2wire"
)

// multicastDB is the multicast membership DB (vl2.md §6.2): per group, who
// subscribed and when we last heard, the last explicit GATHER and
// multicasts waiting for more members.
// multicastDB is who subscribes to which group. It is bounded: a peer
// holds at most maxLikesPerPeer subscriptions (more are refused, so it
// cannot push others out), a network maxLikesPerNetwork and the table
// maxLikes; past the last two the oldest subscription goes.
type multicastDB struct {
	mu      sync.Mutex
	groups  map[groupKey]*groupState
	perPeer map[identity.Address]int
	perNet  map[uint64]int
	total   int
	order   []subscription // in the order they were made, oldest first
	head    int
	refused uint64 // subscriptions refused or evicted by the bounds
}

type subscription struct {
	k groupKey
	a identity.Address
}

const (
	maxLikesPerPeer    = 1024
	maxLikesPerNetwork = 16384
	maxLikes           = 65536
)

type groupKey struct {
	nwid uint64
	g    vl2wire.MulticastGroup
}

type groupState struct {
	members    map[identity.Address]int64
	lastGather int64
	queue      []*outboundMulticast
}

type outboundMulticast struct {
	payload []byte // MULTICAST_FRAME payload
	sentTo  map[identity.Address]bool
	limit   int
	at      int64
}

func newMulticastDB() *multicastDB {
	return &multicastDB{groups: map[groupKey]*groupState{}, perPeer: map[identity.Address]int{}, perNet: map[uint64]int{}}
}

func (db *multicastDB) state(k groupKey) *groupState {
	st := db.groups[k]
	if st == nil {
		st = &groupState{members: map[identity.Address]int64{}}
		db.groups[k] = st
	}
	return st
}

// add records that a subscribes to g; it reports whether the subscription
// is new.
func (db *multicastDB) add(now int64, nwid uint64, g vl2wire.MulticastGroup, a identity.Address) bool {
	db.mu.Lock()
	defer db.mu.Unlock()
	k := groupKey{nwid, g}
	if st := db.groups[k]; st != nil {
		if _, had := st.members[a]; had {
			st.members[a] = now
			return false
		}
	}
	if db.perPeer[a] >= maxLikesPerPeer {
		db.refused++
		return false
	}
	for db.perNet[nwid] >= maxLikesPerNetwork || db.total >= maxLikes {
		if !db.evictOldestLocked(nwid, db.perNet[nwid] >= maxLikesPerNetwork) {
			db.refused++
			return false
		}
	}
	db.state(k).members[a] = now
	db.perPeer[a]++
	db.perNet[nwid]++
	db.total++
	db.order = append(db.order, subscription{k, a})
	return true
}

// evictOldestLocked removes the oldest subscription (of network nwid when
// inNet); entries already gone are skipped on the way.
func (db *multicastDB) evictOldestLocked(nwid uint64, inNet bool) bool {
	for i := db.head; i < len(db.order); i++ {
		sub := db.order[i]
		if inNet && sub.k.nwid != nwid {
			continue
		}
		st := db.groups[sub.k]
		if st == nil {
			continue
		}
		if _, ok := st.members[sub.a]; !ok {
			continue
		}
		db.removeLocked(sub.k, st, sub.a)
		db.refused++
		if i == db.head {
			db.head++
		}
		db.compactLocked()
		return true
	}
	return false
}

// removeLocked drops a's subscription to k and its counts.
func (db *multicastDB) removeLocked(k groupKey, st *groupState, a identity.Address) {
	if _, ok := st.members[a]; !ok {
		return
	}
	delete(st.members, a)
	if len(st.members) == 0 && len(st.queue) == 0 {
		delete(db.groups, k) // an empty group would outlive the bound
	}
	if db.perPeer[a]--; db.perPeer[a] <= 0 {
		delete(db.perPeer, a)
	}
	if db.perNet[k.nwid]--; db.perNet[k.nwid] <= 0 {
		delete(db.perNet, k.nwid)
	}
	db.total--
}

// compactLocked drops stale entries from the order once they dominate it.
func (db *multicastDB) compactLocked() {
	if len(db.order) < 1024 || len(db.order) < 2*db.total {
		return
	}
	keep := db.order[:0]
	for _, sub := range db.order[db.head:] {
		if st := db.groups[sub.k]; st != nil {
			if _, ok := st.members[sub.a]; ok {
				keep = append(keep, sub)
			}
		}
	}
	clear(db.order[len(keep):])
	db.order, db.head = keep, 0
}

func (db *multicastDB) members(nwid uint64, g vl2wire.MulticastGroup) []identity.Address {
	db.mu.Lock()
	defer db.mu.Unlock()
	st := db.groups[groupKey{nwid, g}]
	if st == nil {
		return nil
	}
	out := make([]identity.Address, 0, len(st.members))
	for a := range st.members {
		out = append(out, a)
	}
	slices.Sort(out)
	return out
}

func (db *multicastDB) expire(now int64) {
	db.mu.Lock()
	defer db.mu.Unlock()
	for k, st := range db.groups {
		for a, t := range st.members {
			if now-t >= likeExpiry {
				db.removeLocked(k, st, a)
			}
		}
		st.queue = slices.DeleteFunc(st.queue, func(o *outboundMulticast) bool { return now-o.at >= multicastTxTimeout })
		if len(st.members) == 0 && len(st.queue) == 0 && now-st.lastGather >= gatherInterval {
			delete(db.groups, k)
		}
	}
	db.compactLocked()
}

// announce sends our MULTICAST_LIKEs: to the controller, the roots and
// every gated member, at once when forced (new config or subscription),
// otherwise every 60 s (vl2.md §6.1).
func (n *Network) announce(now int64, force bool) {
	n.mu.Lock()
	if n.config == nil || (!force && now-n.lastAnnounce < announceInterval) {
		n.mu.Unlock()
		return
	}
	n.lastAnnounce = now
	groups := n.groupsLocked()
	targets := []identity.Address{vl2wire.ControllerOf(n.id)}
	for a, m := range n.members {
		if n.gateLocked(a) {
			m.lastLikes = now
			targets = append(targets, a)
		}
	}
	n.mu.Unlock()
	targets = append(targets, n.s.link.Upstreams()...)
	if len(groups) == 0 {
		return
	}
	var like vl2wire.MulticastLike
	for _, g := range groups {
		like.Records = append(like.Records, vl2wire.Like{NetworkID: n.id, Group: g})
	}
	payload := like.AppendPayload(nil)
	for _, t := range slices.Compact(sortAddrs(targets)) {
		if t != n.s.addr {
			n.s.send(t, wire.VerbMULTICAST_LIKE, payload, true)
		}
	}
}

func sortAddrs(a []identity.Address) []identity.Address { slices.Sort(a); return a }

// MulticastRefused counts subscriptions refused or evicted by the bounds
// of the multicast tables (the root's and every network's).
func (s *Switch) MulticastRefused() uint64 {
	total := s.rootDB.refusedCount()
	for _, n := range s.Networks() {
		total += n.db.refusedCount()
	}
	return total
}

func (db *multicastDB) refusedCount() uint64 {
	db.mu.Lock()
	defer db.mu.Unlock()
	return db.refused
}

// handleLike stores authorized subscriptions (vl2.md §2.3).
func (s *Switch) handleLike(now int64, in vl1.Inbound) {
	m, err := vl2wire.ParseMulticastLike(in.Payload)
	if err != nil {
		return
	}
	amRoot := s.link.IsRoot()
	s.mu.Lock()
	ctl := s.controller
	s.mu.Unlock()
	for _, r := range m.Records {
		if n := s.Network(r.NetworkID); n != nil && n.gate(now, in.From) {
			if n.db.add(now, r.NetworkID, r.Group, in.From) {
				n.flushQueued(now, r.Group, in.From)
			}
			continue
		}
		if amRoot || (ctl != nil && ctl.RecentlyAuthorized(r.NetworkID, in.From)) {
			s.rootDB.add(now, r.NetworkID, r.Group, in.From)
		}
	}
}

// handleGather answers MULTICAST_GATHER from our DB (vl2.md §2.4).
func (s *Switch) handleGather(now int64, in vl1.Inbound) bool {
	g, err := vl2wire.ParseMulticastGather(in.Payload)
	if err != nil || g.Limit == 0 {
		return false
	}
	n := s.Network(g.NetworkID)
	trusted := false
	if n != nil && g.COM != nil {
		n.addCOM(now, in.From, g.COM)
	}
	db := s.rootDB
	var self bool
	switch {
	case n != nil && n.gate(now, in.From):
		db, trusted = n.db, true
		n.mu.Lock()
		self = slices.Contains(n.groupsLocked(), g.Group)
		n.mu.Unlock()
	case s.link.IsRoot():
	default:
		s.mu.Lock()
		ctl := s.controller
		s.mu.Unlock()
		if ctl == nil || !ctl.RecentlyAuthorized(g.NetworkID, in.From) {
			return false
		}
		if n != nil {
			db = n.db
		}
	}
	members := db.members(g.NetworkID, g.Group)
	if db != s.rootDB {
		members = append(members, s.rootDB.members(g.NetworkID, g.Group)...)
	}
	res := gatherResults(s.addr, self, members, in.From, int(min(g.Limit, 65535)))
	if len(res.Members) == 0 {
		return trusted
	}
	ok := wire.OK{InReVerb: wire.VerbMULTICAST_GATHER, InReID: in.PacketID, Reply: &vl2wire.OKMulticastGather{NetworkID: g.NetworkID, Group: g.Group, GatherResults: res}}
	s.send(in.From, wire.VerbOK, ok.AppendPayload(nil), true)
	return trusted
}

// gatherResults: ourselves first if subscribed, then members in random
// order, never the requester, up to limit (and a packet's worth).
func gatherResults(self identity.Address, selfSubscribed bool, members []identity.Address, requester identity.Address, limit int) vl2wire.GatherResults {
	var r vl2wire.GatherResults
	limit = min(limit, (wire.MaxPacketLength-64)/5)
	if selfSubscribed {
		r.Members = append(r.Members, self)
	}
	members = slices.Clone(members)
	rand.Shuffle(len(members), func(i, j int) { members[i], members[j] = members[j], members[i] })
	for _, m := range slices.Compact(sortAddrs(members)) {
		if len(r.Members) >= limit {
			break
		}
		if m != requester && m != self {
			r.Members = append(r.Members, m)
		}
	}
	r.TotalKnown = uint32(len(members))
	if selfSubscribed {
		r.TotalKnown++
	}
	return r
}

// learnMembers adds gather results and sends queued multicasts to the new
// members.
func (n *Network) learnMembers(now int64, g vl2wire.MulticastGroup, members []identity.Address) {
	for _, a := range members {
		if a != n.s.addr && n.db.add(now, n.id, g, a) {
			n.flushQueued(now, g, a)
		}
	}
}

func (n *Network) forgetMember(g vl2wire.MulticastGroup, a identity.Address) {
	n.db.mu.Lock()
	defer n.db.mu.Unlock()
	k := groupKey{n.id, g}
	if st := n.db.groups[k]; st != nil {
		n.db.removeLocked(k, st, a)
	}
}

// flushQueued sends waiting multicasts of group g to a newly learned member.
func (n *Network) flushQueued(now int64, g vl2wire.MulticastGroup, a identity.Address) {
	n.db.mu.Lock()
	st := n.db.groups[groupKey{n.id, g}]
	var payloads [][]byte
	if st != nil {
		for _, o := range st.queue {
			if now-o.at < multicastTxTimeout && !o.sentTo[a] && len(o.sentTo) < o.limit {
				o.sentTo[a] = true
				payloads = append(payloads, o.payload)
			}
		}
	}
	n.db.mu.Unlock()
	for _, p := range payloads {
		n.sendMulticastTo(now, a, p)
	}
}

func (n *Network) sendMulticastTo(now int64, to identity.Address, payload []byte) {
	n.pushCredentialsIfNeeded(now, to, false)
	n.mu.Lock()
	compress := n.config != nil && n.config.Flags&vl2wire.ConfigFlagDisableCompression == 0
	n.mu.Unlock()
	n.s.send(to, wire.VerbMULTICAST_FRAME, payload, compress)
}

// sendMulticast sends a frame from the OS to a group (vl2.md §6.3–6.4).
func (n *Network) sendMulticast(now int64, dst, src vl2wire.MAC, et uint16, payload []byte) {
	g := vl2wire.MulticastGroup{MAC: dst}
	n.mu.Lock()
	if n.config == nil {
		n.mu.Unlock()
		return
	}
	limit := int(n.config.MulticastLimit)
	broadcast := n.config.Flags&vl2wire.ConfigFlagEnableBroadcast != 0
	var com *vl2wire.COM = n.config.COM
	n.mu.Unlock()
	if dst.IsBroadcast() {
		if isARPRequest(et, payload) {
			g.ADI = uint32(payload[24])<<24 | uint32(payload[25])<<16 | uint32(payload[26])<<8 | uint32(payload[27])
		} else if !broadcast {
			return
		}
	}
	if limit == 0 {
		return
	}
	if _, ok := n.filterOutbound(0, src, dst, et, payload, false); !ok {
		return
	}
	payload = payload[:min(len(payload), 10000)]
	members := n.db.members(n.id, g)
	rand.Shuffle(len(members), func(i, j int) { members[i], members[j] = members[j], members[i] })
	frame := vl2wire.MulticastFrame{NetworkID: n.id, Flags: vl2wire.MulticastFlagGatherLimit, Group: g, EtherType: et, Payload: payload}
	if len(members) >= limit {
		frame.GatherLimit = 1
		p := frame.AppendPayload(nil)
		for _, m := range members[:limit] {
			if _, ok := n.filterOutbound(m, src, dst, et, payload, true); ok {
				n.sendMulticastTo(now, m, p)
			}
		}
		return
	}
	frame.GatherLimit = uint32(limit - len(members) + 1)
	p := frame.AppendPayload(nil)
	out := &outboundMulticast{payload: p, sentTo: map[identity.Address]bool{}, limit: limit, at: now}
	n.db.mu.Lock()
	st := n.db.state(groupKey{n.id, g})
	gather := len(st.members) == 0 || now-st.lastGather >= gatherInterval
	if gather {
		st.lastGather = now
	}
	if len(st.queue) >= multicastQueueSize {
		st.queue = st.queue[1:]
	}
	st.queue = append(st.queue, out)
	for _, m := range members {
		out.sentTo[m] = true
	}
	n.db.mu.Unlock()
	if gather {
		req := vl2wire.MulticastGather{NetworkID: n.id, Group: g, Limit: frame.GatherLimit}
		if com != nil {
			req.Flags, req.COM = vl2wire.GatherFlagCOM, com
		}
		rp := req.AppendPayload(nil)
		targets := []identity.Address{vl2wire.ControllerOf(n.id)}
		if u := n.s.link.BestUpstream(); u != 0 {
			targets = append(targets, u)
		}
		for _, t := range slices.Compact(sortAddrs(targets)) {
			if t != n.s.addr {
				n.s.send(t, wire.VerbMULTICAST_GATHER, rp, false)
			}
		}
	}
	for _, m := range members {
		if _, ok := n.filterOutbound(m, src, dst, et, payload, true); ok {
			n.sendMulticastTo(now, m, p)
		}
	}
}

func isARPRequest(et uint16, f []byte) bool {
	return et == 0x0806 && len(f) >= 28 && f[2] == 0x08 && f[3] == 0x00 && f[4] == 6 && f[5] == 4 && f[7] == 1
}

// handleMulticastFrame receives MULTICAST_FRAME (vl2.md §2.5).
func (s *Switch) handleMulticastFrame(now int64, in vl1.Inbound) bool {
	n := s.networkFor(in.Payload)
	if n == nil {
		return false
	}
	var f vl2wire.MulticastFrame
	if f.DecodeFromBytes(in.Payload) != nil {
		return false
	}
	if f.COM != nil {
		n.addCOM(now, in.From, f.COM)
	}
	if !n.gate(now, in.From) {
		n.refuse(now, in)
		return false
	}
	if n.multicastLimit() == 0 {
		return true
	}
	src := vl2wire.MACFor(in.From, n.id)
	if f.Flags&vl2wire.MulticastFlagSourceMAC != 0 {
		src = f.Source
	}
	if len(f.Payload) > 0 && len(f.Payload) <= 10000 && f.Group.MAC.IsMulticast() && src != 0 && !src.IsMulticast() && src != n.mac &&
		(src == vl2wire.MACFor(in.From, n.id) || n.isBridge(in.From)) {
		if n.filterInbound(in.From, src, f.Group.MAC, f.EtherType, f.Payload) != 0 {
			n.deliver(f.Group.MAC, src, f.EtherType, f.Payload)
		}
	}
	if f.Flags&vl2wire.MulticastFlagGatherLimit != 0 && f.GatherLimit > 0 {
		n.mu.Lock()
		self := slices.Contains(n.groupsLocked(), f.Group)
		n.mu.Unlock()
		res := gatherResults(s.addr, self, n.db.members(n.id, f.Group), in.From, int(f.GatherLimit))
		if len(res.Members) > 0 {
			body := &vl2wire.OKMulticastFrame{NetworkID: n.id, Group: f.Group, Flags: vl2wire.OKMulticastFlagGather, GatherResults: res}
			ok := wire.OK{InReVerb: wire.VerbMULTICAST_FRAME, InReID: in.PacketID, Reply: body}
			s.send(in.From, wire.VerbOK, ok.AppendPayload(nil), true)
		}
	}
	return true
}
