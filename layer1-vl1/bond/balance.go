package bond

import "github.com/ztgo/ztgo/layer1-vl1/wire"

// flow is a Bond::Flow: an inner conversation pinned to one path.
type flow struct {
	id                FlowID
	bytesIn, bytesOut uint64
	lastActivity      int64
	path              PathIndex
}

// Pick appends to dst the paths one packet to the peer goes out on
// (Switch::_trySend with Bond::getAppropriatePath) and returns it: one path,
// every live path for broadcast frames, or none, which means the bond has no
// path yet and the engine chooses as it would without a bond (as
// Peer::getAppropriatePath does while the bond is not ready). flow is the
// inner frame's FlowID, or NoFlow. No allocation for a known flow; a new
// flow may grow the flow table.
func (b *Bond) Pick(now int64, verb wire.Verb, f FlowID, dst []PathIndex) []PathIndex {
	if b.t.Policy == PolicyBroadcast {
		if verb == wire.VerbFRAME || verb == wire.VerbEXT_FRAME {
			for i := range b.paths {
				if s := &b.paths[i]; s.used && now-s.lastIn < pathAliveTimeout {
					dst = append(dst, PathIndex(i))
				}
			}
		}
		return dst
	}
	if b.numBonded == 0 {
		return dst
	}
	if i := b.pick(now, f); i != NoPath {
		dst = append(dst, i)
	}
	return dst
}

func (b *Bond) pick(now int64, f FlowID) PathIndex {
	switch b.t.Policy {
	case PolicyActiveBackup:
		if b.abPath != NoPath && b.paths[b.abPath].used {
			return b.abPath
		}
	case PolicyBalanceRR:
		return b.pickRoundRobin()
	case PolicyBalanceXOR, PolicyBalanceAware:
		if f == NoFlow {
			return b.bondedIdx[int(b.randomByte)%b.numBonded]
		}
		fl, ok := b.flows[int16(f)]
		if ok && b.valid(fl.path) {
			fl.lastActivity = now
			b.flows[int16(f)] = fl
			return fl.path
		}
		if ok { // its path left the bond; 1.14 keeps pointing at the empty slot
			fl.lastActivity = now
			b.assignFlow(now, &fl, true)
			b.flows[int16(f)] = fl
			return fl.path
		}
		fl, _ = b.createFlow(now, f, NoPath)
		return fl.path
	}
	return NoPath
}

// pickRoundRobin sends packetsPerLink packets on a bonded path before moving
// to the next eligible one; with packetsPerLink 0, a pseudo-random path per
// packet.
func (b *Bond) pickRoundRobin() PathIndex {
	if b.packetsPerLink == 0 {
		return b.bondedIdx[int(b.randomByte)%b.numBonded]
	}
	if b.rrSentOnLink < b.packetsPerLink {
		b.rrSentOnLink++
		return b.bondedIdx[b.rrIdx]
	}
	b.rrSentOnLink = 0
	if b.numBonded == 1 || b.rrIdx >= MaxPaths-1 {
		b.rrIdx = 0
	} else {
		idx := b.rrIdx
		for range b.numBonded - 1 {
			if idx == b.numBonded-1 {
				idx = 0
			} else {
				idx++
			}
			if p := b.bondedIdx[idx]; p != NoPath && b.paths[p].used && b.paths[p].eligible {
				b.rrIdx = idx
				break
			}
		}
	}
	return b.bondedIdx[b.rrIdx]
}

// createFlow is Bond::createFlow: a flow first seen arriving on path (or,
// with NoPath, first sent) is pinned to that path or assigned by policy.
func (b *Bond) createFlow(now int64, f FlowID, path PathIndex) (flow, bool) {
	if b.numBonded == 0 {
		return flow{}, false
	}
	fl := flow{id: f, lastActivity: now, path: NoPath}
	if path != NoPath {
		fl.path = path
		b.paths[path].assignedFlows++
	} else {
		b.assignFlow(now, &fl, false)
	}
	b.flows[int16(f)] = fl
	return fl, true
}

// assignFlow is Bond::assignFlowToBondedPath. balance-xor: flow ID modulo
// the bonded paths. balance-aware: starting at a random bonded path (or,
// reassigning, the flow's own position), the first one not avoided whose
// relative capacity is at least a random draw; failing that, the one of
// best relative quality.
func (b *Bond) assignFlow(now int64, fl *flow, reassign bool) bool {
	if b.numBonded == 0 {
		return false
	}
	var pos int
	switch b.t.Policy {
	case PolicyBalanceXOR:
		pos = int(int32(fl.id) % int32(b.numBonded))
		if pos < 0 {
			pos = -pos
		}
	case PolicyBalanceAware:
		draw := float32(b.random()) / 255
		best, bestQ := -1, float32(0)
		for offset := 0; offset < b.numBonded; offset++ {
			if reassign {
				pos = (int(fl.path) + offset) % b.numBonded
			} else {
				pos = (int(b.random()) + offset) % b.numBonded
			}
			s := &b.paths[b.bondedIdx[pos]]
			if !s.avoid && draw <= s.relativeCapacity {
				best = -2
				break
			}
			if s.relativeQuality > bestQ {
				best, bestQ = pos, s.relativeQuality
			}
		}
		if best >= 0 {
			pos = best
		}
	case PolicyActiveBackup:
		fl.path = b.abPath
		return true
	default:
		return false
	}
	fl.path = b.bondedIdx[pos]
	b.paths[fl.path].assignedFlows++
	return true
}

// random is a byte of xorshift64 entropy (1.14 asks its CSPRNG).
func (b *Bond) random() uint8 {
	b.rng ^= b.rng << 13
	b.rng ^= b.rng >> 7
	b.rng ^= b.rng << 17
	return uint8(b.rng >> 56)
}

// balance is Bond::processBalanceTasks: forget idle flows, move every flow
// off a path that is no longer eligible, and (balance-aware) move one flow
// per round off a path of poor quality. A flow on an eligible, good path
// never moves.
func (b *Bond) balance(now int64) {
	if b.numBonded == 0 {
		return
	}
	if now-b.lastFlowCheck > peerPathExpiration {
		for k, fl := range b.flows {
			if now-fl.lastActivity > peerPathExpiration {
				if b.valid(fl.path) {
					b.paths[fl.path].assignedFlows--
				}
				delete(b.flows, k)
				continue
			}
			fl.bytesIn, fl.bytesOut = 0, 0
			b.flows[k] = fl
		}
		b.lastFlowCheck = now
	}
	if !b.t.Policy.flowHashing() {
		return
	}
	for k, fl := range b.flows {
		if from := fl.path; b.valid(from) && !b.paths[from].eligible {
			if b.assignFlow(now, &fl, true) {
				b.paths[from].assignedFlows--
				b.flows[k] = fl
			}
		}
	}
	if b.t.Policy != PolicyBalanceAware {
		return
	}
	for k, fl := range b.flows {
		if from := fl.path; b.valid(from) && b.paths[from].avoid {
			if b.assignFlow(now, &fl, true) {
				b.paths[from].assignedFlows--
				b.flows[k] = fl
				return // one flow per round
			}
		}
	}
}
