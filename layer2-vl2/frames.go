package vl2

import (
	"encoding/binary"
	"math/rand/v2"
	"net/netip"
	"sync"

	vl1 "github.com/ztgo/ztgo/layer1-vl1"
	"github.com/ztgo/ztgo/layer1-vl1/identity"
	"github.com/ztgo/ztgo/layer1-vl1/wire"
	"github.com/ztgo/ztgo/layer2-vl2/rules"
	"github.com/ztgo/ztgo/layer2-vl2/vl2wire"
)

const ethHeader = 14

// payloadPool holds buffers for outgoing unicast frames: VL1 copies the
// payload into its packet, so the buffer is free again after Send.
var payloadPool = sync.Pool{New: func() any { b := make([]byte, 0, 10240); return &b }}

// deferredFrame is a frame from a peer that failed the gate, kept for 5 s
// in case its credentials arrive (vl2.md §2, deferred processing).
type deferredFrame struct {
	from identity.Address
	in   vl1.Inbound
	at   int64
}

func (s *Switch) networkFor(payload []byte) *Network {
	if len(payload) < 8 {
		return nil
	}
	return s.Network(binary.BigEndian.Uint64(payload))
}

// refuse asks an ungated sender for its credentials and keeps the frame.
func (n *Network) refuse(now int64, in vl1.Inbound) {
	n.mu.Lock()
	if len(n.deferred) < 64 {
		d := in
		d.Payload = append([]byte(nil), in.Payload...)
		n.deferred = append(n.deferred, deferredFrame{in.From, d, now})
	}
	n.mu.Unlock()
	body := (&vl2wire.ErrorBody{Code: wire.ErrorNeedMembershipCert, NetworkID: n.id}).Append(nil)
	n.s.sendError(in.From, in.Verb, in.PacketID, wire.ErrorNeedMembershipCert, body)
}

// retryDeferred processes frames kept for a peer that now passes the gate.
func (n *Network) retryDeferred(now int64, a identity.Address) {
	n.mu.Lock()
	var ready []vl1.Inbound
	keep := n.deferred[:0]
	for _, d := range n.deferred {
		if d.from == a && now-d.at < deferredFrameTimeout {
			ready = append(ready, d.in)
		} else if d.from != a {
			keep = append(keep, d)
		}
	}
	n.deferred = keep
	n.mu.Unlock()
	for _, in := range ready {
		n.s.HandleVL2(in)
	}
}

func (s *Switch) handleFrame(now int64, in vl1.Inbound) bool {
	n := s.networkFor(in.Payload)
	if n == nil {
		return false
	}
	var f vl2wire.Frame
	if f.DecodeFromBytes(in.Payload) != nil {
		return false
	}
	// The gate, the rules and the network's state under one lock: this
	// is every unicast frame's path.
	src := vl2wire.MACFor(in.From, n.id)
	n.mu.Lock()
	if !n.gateLocked(in.From) {
		n.mu.Unlock()
		n.refuse(now, in)
		return false
	}
	if len(f.Payload) == 0 {
		n.mu.Unlock()
		return true
	}
	res, ok := n.evalInboundLocked(in.From, src, n.mac, f.EtherType, f.Payload)
	up := !n.destroyed && n.config != nil
	n.mu.Unlock()
	if ok && n.inboundVerdict(res, src, n.mac, f.EtherType, f.Payload) != 0 && up {
		n.queueFrame(n.mac, src, f.EtherType, f.Payload)
	}
	return true
}

func (s *Switch) handleExtFrame(now int64, in vl1.Inbound) bool {
	n := s.networkFor(in.Payload)
	if n == nil {
		return false
	}
	f, err := vl2wire.ParseExtFrame(in.Payload)
	if err != nil {
		return false
	}
	if f.COM != nil {
		n.addCOM(now, in.From, f.COM)
	}
	if !n.gate(now, in.From) {
		n.refuse(now, in)
		return false
	}
	if f.NoFrame || len(f.Payload) == 0 {
		return true
	}
	if f.Source == 0 || f.Source == n.mac {
		return true
	}
	verdict := n.filterInbound(in.From, f.Source, f.Dest, f.EtherType, f.Payload)
	switch {
	case verdict == 0:
	case verdict == 2:
		n.deliver(f.Dest, f.Source, f.EtherType, f.Payload)
	case f.Source != vl2wire.MACFor(in.From, n.id) && !n.isBridge(in.From):
		// A foreign source MAC is allowed only from an active bridge.
	case f.Dest != n.mac && !f.Dest.IsMulticast() && !n.isBridge(n.s.addr):
	case f.Dest.IsMulticast() && n.multicastLimit() == 0:
	default:
		n.deliver(f.Dest, f.Source, f.EtherType, f.Payload)
	}
	if f.Flags&vl2wire.ExtFrameFlagOKRequested != 0 {
		body := binary.BigEndian.AppendUint64(nil, n.id)
		ok := wire.OK{InReVerb: wire.VerbEXT_FRAME, InReID: in.PacketID, Reply: &wire.Unknown{V: wire.VerbEXT_FRAME, Data: body}}
		s.send(in.From, wire.VerbOK, ok.AppendPayload(nil), false)
	}
	return true
}

func (n *Network) isBridge(a identity.Address) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.config == nil {
		return false
	}
	for _, sp := range n.config.Specialists {
		if sp&vl2wire.SpecialistActiveBridge != 0 && identity.Address(sp&0xffffffffff) == a {
			return true
		}
	}
	return false
}

func (n *Network) multicastLimit() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.config == nil {
		return 0
	}
	return int(n.config.MulticastLimit)
}

// deliver queues a frame for the OS side; flushDevice writes the queue.
// Frames are built in pooled buffers with DeviceHeadroom bytes in front,
// where an offloading device puts its own header.
func (n *Network) deliver(dst, src vl2wire.MAC, et uint16, payload []byte) {
	if n.dev == nil {
		return
	}
	n.mu.Lock()
	up := !n.destroyed && n.config != nil
	n.mu.Unlock()
	if up {
		n.queueFrame(dst, src, et, payload)
	}
}

// queueFrame is deliver for a caller that checked the network is up.
func (n *Network) queueFrame(dst, src vl2wire.MAC, et uint16, payload []byte) {
	if n.dev == nil {
		return
	}
	bp := devFramePool.Get().(*[]byte)
	b := dst.Append((*bp)[:DeviceHeadroom])
	b = src.Append(b)
	b = binary.BigEndian.AppendUint16(b, et)
	b = append(b, payload...)
	*bp = b
	n.out.mu.Lock()
	first := len(n.out.pending) == 0
	n.out.pending = append(n.out.pending, bp)
	full := len(n.out.pending) >= maxQueuedFrames
	n.out.mu.Unlock()
	switch {
	case full:
		n.flushDevice() // a caller that never flushes cannot grow the queue
	case first:
		n.s.markDirty(n)
	}
}

// maxQueuedFrames bounds a device queue between flushes.
const maxQueuedFrames = 256

// DeviceHeadroom is the room VL2 leaves in front of every frame it
// writes to a device, and ReadHeadroom what it asks for in front of every
// frame it reads: enough for VL1 to write the packet header in place.
const (
	DeviceHeadroom = 16
	ReadHeadroom   = 32
)

// Sized for the default MTU; a larger frame grows its buffer once.
var devFramePool = sync.Pool{New: func() any { b := make([]byte, 0, DeviceHeadroom+ethHeader+2800); return &b }}

// deviceQueue holds frames for the device between flushes. writeMu
// serialises writers without ever blocking frame processing: the network
// lock is never held across a device write.
type deviceQueue struct {
	mu      sync.Mutex
	pending []*[]byte
	writeMu sync.Mutex
	writing []*[]byte
	bufs    [][]byte
}

// flushDevice writes the queued frames in one device write.
func (n *Network) flushDevice() {
	q := &n.out
	q.writeMu.Lock()
	defer q.writeMu.Unlock()
	q.mu.Lock()
	q.pending, q.writing = q.writing[:0], q.pending
	q.mu.Unlock()
	if len(q.writing) == 0 {
		return
	}
	bufs := q.bufs[:0]
	for _, bp := range q.writing {
		bufs = append(bufs, *bp)
	}
	if _, err := n.dev.Write(bufs, DeviceHeadroom); err != nil {
		n.s.log.Debug("device write failed", "network", vl2wire.NetworkIDString(n.id), "err", err)
	}
	for _, bp := range q.writing {
		devFramePool.Put(bp)
	}
	clear(q.writing)
	clear(bufs)
	q.bufs = bufs[:0]
}

// HandleFrame takes an Ethernet frame the OS sent into the network
// (Switch::onLocalEthernet). Tests call it; devices go through HandleFrames.
func (n *Network) HandleFrame(frame []byte) {
	n.handleLocalFrame(nil, frame, 0)
	n.flushDevice()
}

// HandleFrames takes a batch the device read: frame i is
// bufs[i][offset:offset+sizes[i]]. With offset >= ReadHeadroom unicast
// frames are sent without a copy, the VL1 header written in front of
// them; the buffers must stay untouched until the call returns. tx may be
// nil: every frame is then sent at once, copied.
func (n *Network) HandleFrames(tx *vl1.TxBatch, bufs [][]byte, sizes []int, offset int) {
	for i, b := range bufs {
		n.handleLocalFrame(tx, b[:offset+sizes[i]], offset)
	}
	if tx != nil {
		tx.Flush()
	}
	n.flushDevice()
}

// handleLocalFrame handles buf[offset:], a frame from the OS. Unicast
// frames to members go into tx when there is one and room to build the
// packet in place; everything else is sent at once, after what tx holds.
func (n *Network) handleLocalFrame(tx *vl1.TxBatch, buf []byte, offset int) {
	frame := buf[offset:]
	if len(frame) < ethHeader {
		return
	}
	now := n.s.now()
	dst := vl2wire.MACFromBytes(frame[0:6])
	src := vl2wire.MACFromBytes(frame[6:12])
	et := binary.BigEndian.Uint16(frame[12:14])
	payload := frame[ethHeader:]
	n.mu.Lock()
	configured := n.config != nil && !n.destroyed
	n.mu.Unlock()
	if !configured || src != n.mac {
		return // not a bridge: only our own source MAC leaves
	}
	inPlace := tx != nil && offset+4 >= vl1.HeaderRoom
	if !inPlace || !vl2wire.IsMemberMAC(dst, n.id) {
		if tx != nil {
			tx.Flush() // keep the OS's order
		}
	}
	switch {
	case dst == n.mac:
		n.deliver(dst, src, et, payload)
	case dst.IsMulticast():
		n.sendMulticast(now, dst, src, et, payload)
	case vl2wire.IsMemberMAC(dst, n.id):
		to := vl2wire.AddressFromMAC(dst, n.id)
		res, ok := n.filterOutbound(to, src, dst, et, payload, false)
		if !ok {
			return
		}
		if res.ZTDest != 0 && res.ZTDest != uint64(to) {
			to = identity.Address(res.ZTDest) // REDIRECT sends an EXT_FRAME instead
			n.sendExtFrame(now, to, vl2wire.ExtFrameFlags(vl2wire.SubtypeRedirectOutbound), dst, src, et, payload)
			return
		}
		n.pushCredentialsIfNeeded(now, to, false)
		if inPlace {
			// FRAME is network ID, ethertype, payload: the ethertype is
			// already in place, the network ID goes over the MACs.
			binary.BigEndian.PutUint64(frame[4:12], n.id)
			if tx.Add(to, wire.VerbFRAME, buf, offset+4, len(buf)) {
				return
			}
		}
		f := vl2wire.Frame{NetworkID: n.id, EtherType: et, Payload: payload}
		pb := payloadPool.Get().(*[]byte)
		*pb = f.AppendPayload((*pb)[:0])
		n.s.send(to, wire.VerbFRAME, *pb, false) // VL1 copies it into the packet
		payloadPool.Put(pb)
	default:
		n.sendToBridges(now, dst, src, et, payload)
	}
}

func (n *Network) sendExtFrame(now int64, to identity.Address, flags uint8, dst, src vl2wire.MAC, et uint16, payload []byte) {
	n.pushCredentialsIfNeeded(now, to, false)
	f := vl2wire.ExtFrame{NetworkID: n.id, Flags: flags, Dest: dst, Source: src, EtherType: et, Payload: payload}
	n.s.send(to, wire.VerbEXT_FRAME, f.AppendPayload(nil), flags != 0)
}

// sendToBridges sends a frame for a MAC that is not a member's to the
// network's active bridges (up to 32).
func (n *Network) sendToBridges(now int64, dst, src vl2wire.MAC, et uint16, payload []byte) {
	n.mu.Lock()
	var bridges []identity.Address
	if n.config != nil {
		for _, sp := range n.config.Specialists {
			if a := identity.Address(sp & 0xffffffffff); sp&vl2wire.SpecialistActiveBridge != 0 && a != n.s.addr {
				bridges = append(bridges, a)
			}
		}
	}
	n.mu.Unlock()
	rand.Shuffle(len(bridges), func(i, j int) { bridges[i], bridges[j] = bridges[j], bridges[i] })
	for i, b := range bridges {
		if i == 32 {
			break
		}
		if _, ok := n.filterOutbound(b, src, dst, et, payload, true); ok {
			n.sendExtFrame(now, b, 0, dst, src, et, payload)
		}
	}
}

// filterOutbound runs the outbound rules (vl2.md §5.4) and sends the TEE
// copy unless noTee.
func (n *Network) filterOutbound(to identity.Address, src, dst vl2wire.MAC, et uint16, payload []byte, noTee bool) (rules.Result, bool) {
	n.mu.Lock()
	if n.config == nil {
		n.mu.Unlock()
		return rules.Result{}, false
	}
	env := n.envLocked(n.members[to], false)
	p := n.packetLocked(rules.Packet{Inbound: false, ZTSource: uint64(n.s.addr), ZTDest: uint64(to), SrcMAC: uint64(src), DstMAC: uint64(dst), EtherType: et, Frame: payload})
	res := rules.Evaluate(n.rules, p, env)
	if res.Action == rules.NoMatch {
		for _, c := range n.myCaps {
			p.ZTDest = uint64(to)
			if r := rules.Evaluate(c.rules, p, env); r.Action == rules.Accept || r.Action == rules.SuperAccept || r.Action == rules.Redirect {
				res = r
				break
			}
		}
	}
	n.countFilteredLocked(false, res.Action != rules.Drop && res.Action != rules.NoMatch)
	n.mu.Unlock()
	if res.Action == rules.Drop || res.Action == rules.NoMatch {
		return res, false
	}
	if res.CC != 0 && !noTee {
		flags := vl2wire.ExtFrameFlags(vl2wire.SubtypeTeeOutbound)
		if res.CCWatch {
			flags = vl2wire.ExtFrameFlags(vl2wire.SubtypeWatchOutbound)
		}
		n.sendExtFrame(n.s.now(), identity.Address(res.CC), flags, dst, src, et, payload[:min(len(payload), res.CCLength)])
	}
	return res, true
}

// filterInbound runs the inbound rules: 0 drop, 1 accept, 2 super-accept.
func (n *Network) filterInbound(from identity.Address, src, dst vl2wire.MAC, et uint16, payload []byte) int {
	n.mu.Lock()
	res, ok := n.evalInboundLocked(from, src, dst, et, payload)
	n.mu.Unlock()
	if !ok {
		return 0
	}
	return n.inboundVerdict(res, src, dst, et, payload)
}

// evalInboundLocked runs the inbound rules and the sender's capabilities
// (n.mu held); false without a config.
func (n *Network) evalInboundLocked(from identity.Address, src, dst vl2wire.MAC, et uint16, payload []byte) (rules.Result, bool) {
	if n.config == nil {
		return rules.Result{}, false
	}
	m := n.members[from]
	env := n.envLocked(m, true)
	p := n.packetLocked(rules.Packet{Inbound: true, ZTSource: uint64(from), ZTDest: uint64(n.s.addr), SrcMAC: uint64(src), DstMAC: uint64(dst), EtherType: et, Frame: payload})
	res := rules.Evaluate(n.rules, p, env)
	if res.Action == rules.NoMatch && m != nil {
		for _, c := range m.caps {
			if !n.credentialTimeValid(c.cap.Timestamp) {
				continue
			}
			if r := rules.Evaluate(c.rules, p, env); r.Action == rules.Accept || r.Action == rules.SuperAccept || r.Action == rules.Redirect {
				res = r
				break
			}
		}
	}
	n.countFilteredLocked(true, res.Action == rules.Accept || res.Action == rules.SuperAccept || res.Action == rules.Redirect)
	return res, true
}

// inboundVerdict sends what the rules asked for (TEE, WATCH, REDIRECT)
// and turns the result into 0 drop, 1 accept, 2 super-accept.
func (n *Network) inboundVerdict(res rules.Result, src, dst vl2wire.MAC, et uint16, payload []byte) int {
	if res.CC != 0 {
		flags := vl2wire.ExtFrameFlags(vl2wire.SubtypeTeeInbound)
		if res.CCWatch {
			flags = vl2wire.ExtFrameFlags(vl2wire.SubtypeWatchInbound)
		}
		n.sendExtFrame(n.s.now(), identity.Address(res.CC), flags, dst, src, et, payload[:min(len(payload), res.CCLength)])
	}
	switch res.Action {
	case rules.Accept:
		return 1
	case rules.SuperAccept:
		return 2
	case rules.Redirect:
		n.sendExtFrame(n.s.now(), identity.Address(res.ZTDest), vl2wire.ExtFrameFlags(vl2wire.SubtypeRedirectInbound), dst, src, et, payload)
	}
	return 0
}

// envLocked readies the network's one rule environment (n.mu held):
// reused so that evaluating a frame allocates nothing.
func (n *Network) envLocked(peer *membership, inbound bool) *ruleEnv {
	n.env = ruleEnv{n: n, peer: peer, inbound: inbound}
	return &n.env
}

// packetLocked fills the network's one rule packet (n.mu held): the
// rules engine keeps a pointer to it, which would move a local to the heap
// on every frame.
func (n *Network) packetLocked(p rules.Packet) *rules.Packet {
	n.rulePkt = p
	return &n.rulePkt
}

// ruleEnv answers the rules engine's questions; used with n.mu held.
type ruleEnv struct {
	n       *Network
	peer    *membership
	inbound bool
}

func (e *ruleEnv) MyAddress() uint64   { return uint64(e.n.s.addr) }
func (e *ruleEnv) ConfigFlags() uint64 { return e.n.config.Flags }
func (e *ruleEnv) Random() uint32      { return rand.Uint32() }

func (e *ruleEnv) LocalTag(id uint32) (uint32, bool) {
	for _, t := range e.n.config.Tags {
		if t.ID == id {
			return t.Value, true
		}
	}
	return 0, false
}

func (e *ruleEnv) RemoteTag(id uint32) (uint32, bool) {
	if e.peer == nil {
		return 0, false
	}
	t := e.peer.tags[id]
	if t == nil || !e.n.credentialTimeValid(t.Timestamp) {
		return 0, false
	}
	return t.Value, true
}

func (e *ruleEnv) SenderIPAuthenticated(ip netip.Addr) bool {
	for _, c := range e.coos() {
		if c.OwnsIP(ip) {
			return true
		}
	}
	return false
}

func (e *ruleEnv) SenderMACAuthenticated(mac uint64) bool {
	for _, c := range e.coos() {
		if c.OwnsMAC(vl2wire.MAC(mac)) {
			return true
		}
	}
	return false
}

func (e *ruleEnv) coos() []*vl2wire.COO {
	if !e.inbound {
		return e.n.config.COOs
	}
	if e.peer == nil {
		return nil
	}
	var out []*vl2wire.COO
	for _, c := range e.peer.coos {
		if e.n.credentialTimeValid(c.Timestamp) {
			out = append(out, c)
		}
	}
	return out
}

// credentialTimeValid is the timestamp window of vl2.md §4.6.
func (n *Network) credentialTimeValid(ts int64) bool {
	d := ts - n.config.Timestamp
	if d < 0 {
		d = -d
	}
	return d <= n.config.CredentialTimeMaxDelta
}
