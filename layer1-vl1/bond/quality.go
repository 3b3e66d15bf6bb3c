package bond

import (
	"math"
	"slices"

	"github.com/ztgo/ztgo/layer1-vl1/wire"
)

// How 1.14 measures a path: every sampled packet sent is remembered with its
// send time (Sent); the peer reports, in QOS_MEASUREMENT on the same path,
// the sampled packets it received and how long it held each before
// reporting; the latency sample is half of (round trip − hold time). The
// mean and the spread of the last 64 samples are the path's latency and
// "variance". Loss and error ratios are never computed by 1.14.1 (they stay
// 0), and neither are they here.

// ReceivedQoS handles a QOS_MEASUREMENT from the peer on path i
// (_doQOS_MEASUREMENT, Bond::receivedQoS): rate-limited per bond, payloads
// outside 9..1400 bytes ignored. It reports whether the payload was used.
// No allocation.
func (b *Bond) ReceivedQoS(now int64, i PathIndex, payload []byte) bool {
	if !b.rateGateQoS(now) || wire.CheckQoSPayload(payload) != nil || !b.valid(i) {
		return false
	}
	s := &b.paths[i]
	s.lastQoSReceived = now
	for r := range wire.QoSRecordCount(payload) {
		rec := wire.QoSRecordAt(payload, r)
		for j := 0; j < s.nQoSOut; j++ {
			if s.qosOut[j].id != rec.PacketID {
				continue
			}
			// 1.14's arithmetic: a 16-bit round trip minus the hold time,
			// halved, stored as uint16 (a negative result wraps).
			rtt := int(uint16(now - s.qosOut[j].at))
			s.pushLatency(uint16((rtt - int(rec.HoldMS)) / 2))
			s.nQoSOut--
			s.qosOut[j] = s.qosOut[s.nQoSOut]
			break
		}
	}
	return true
}

// rateGateQoS is Bond::rateGateQoS: more than 2×MaxPaths reports each
// within qosSendInterval/MaxPaths of the previous one are dropped.
func (b *Bond) rateGateQoS(now int64) bool {
	if now-b.lastQoSRate <= b.qosSendInterval/MaxPaths {
		b.qosCutoff++
	} else {
		b.qosCutoff = 0
	}
	b.lastQoSRate = now
	return b.qosCutoff < MaxPaths*2
}

// ReceivedPathNegotiation handles a PATH_NEGOTIATION_REQUEST. 1.14.1 never
// sends one (its bonds never enable path negotiation) and acts on one only
// after it has negotiated itself, which it never does: so after the rate
// gate the request changes nothing, here as there.
func (b *Bond) ReceivedPathNegotiation(now int64, i PathIndex, utility int16) {
	if now-b.lastPNRx <= pathNegotiationCutoffTime/MaxPaths {
		b.pnCutoff++
	} else {
		b.pnCutoff = 0
	}
	b.lastPNRx = now
}

func (s *slot) pushLatency(v uint16) {
	s.latencySamples[s.latPos] = v
	s.latPos = (s.latPos + 1) % latencyWindow
	s.nLatency = min(s.nLatency+1, latencyWindow)
}

// latencyStats is RingBuffer::mean and ::stddev as 1.14 computes them: the
// squared deviations are summed in a uint16 (wrapping) and divided by the
// window size − 1 whatever the number of samples.
func (s *slot) latencyStats() (mean, stddev float32) {
	n := s.nLatency
	var sum float32
	for _, v := range s.latencySamples[:n] {
		sum += float32(v)
	}
	mean = sum / float32(n)
	var sq uint16
	for _, v := range s.latencySamples[:n] {
		d := float32(v) - mean
		sq += uint16(uint32(int64(d * d)))
	}
	return mean, float32(math.Sqrt(float64(float32(sq) / float32(latencyWindow-1))))
}

// QoSDue reports whether a QOS_MEASUREMENT should go out on path i now
// (NominatedPath::needsToSendQoS). Tick asks it for every path.
func (b *Bond) qosDue(now int64, s *slot) bool {
	return s.packetsSinceQoS > 0 && (s.packetsSinceQoS >= wire.QoSMaxRecords || now-s.lastQoSMeasured > b.qosSendInterval)
}

// AppendQoS appends the QOS_MEASUREMENT payload for path i to dst
// (Bond::generateQoSPacket): the lowest received packet IDs first, at most
// 140, each with how long it was held. The records leave the table. If any
// were written, the path's QoS clock restarts. The caller sends the packet
// on path i with wire.MultipathSuite. No allocation when dst has room.
func (b *Bond) AppendQoS(now int64, i PathIndex, dst []byte) []byte {
	if !b.valid(i) {
		return dst
	}
	s := &b.paths[i]
	in := s.qosIn[:s.nQoSIn]
	slices.SortFunc(in, func(a, b qosEntry) int {
		if a.id < b.id {
			return -1
		}
		if a.id > b.id {
			return 1
		}
		return 0
	})
	n := min(int(s.packetsSinceQoS), wire.QoSMaxRecords, len(in))
	for _, e := range in[:n] {
		dst = wire.AppendQoSRecord(dst, wire.QoSRecord{PacketID: e.id, HoldMS: uint16(now - e.at)})
	}
	s.nQoSIn = copy(s.qosIn[:], in[n:])
	if n > 0 {
		s.packetsSinceQoS = 0
		s.lastQoSMeasured = now
	}
	return dst
}

// estimateQuality is Bond::estimatePathQuality: expire unanswered QoS
// records, score each path against the policy's linkQuality, derive
// relative capacity and quality, and mark paths to avoid.
func (b *Bond) estimateQuality(now int64) {
	q := &b.t.Quality
	var lat, pdv, plr, per, absQ [MaxPaths]float32
	var maxLat, maxPdv, maxPlr, maxPer float32
	timeout := b.qosSendInterval * 3
	score := func(v, limit float32) float32 { return float32(1 / math.Exp(float64(4*(v/limit)))) }
	for i := range b.paths {
		s := &b.paths[i]
		if !s.used || !s.allowed() {
			continue
		}
		s.nQoSOut = expire(s.qosOut[:s.nQoSOut], now, timeout)
		s.nQoSIn = expire(s.qosIn[:s.nQoSIn], now, timeout)
		lat[i], pdv[i] = score(s.latency, q.LatMax), score(s.latencyStddev, q.PdvMax)
		plr[i], per[i] = score(s.lossRatio, q.PlrMax), score(s.errorRatio, q.PerMax)
		maxLat, maxPdv, maxPlr, maxPer = max(maxLat, lat[i]), max(maxPdv, pdv[i]), max(maxPlr, plr[i]), max(maxPer, per[i])
	}
	var maxCap uint32
	for i := range b.paths {
		if s := &b.paths[i]; s.used && s.allowed() {
			maxCap = max(maxCap, s.link.Capacity)
		}
	}
	for i := range b.paths {
		if s := &b.paths[i]; s.used && s.allowed() {
			// 1.14 divides by zero (NaN) when no link has a capacity,
			// which leaves balance-aware without a usable choice; equal
			// links is what a user who gave no capacities means.
			s.relativeCapacity = 1
			if maxCap > 0 {
				s.relativeCapacity = float32(s.link.Capacity) / float32(maxCap)
			}
		}
	}
	ratio := func(v, m float32) float32 {
		if m > 0 {
			return v / m
		}
		return 0
	}
	var total float32
	for i := range b.paths {
		if s := &b.paths[i]; s.used && s.bonded {
			absQ[i] = ratio(lat[i], maxLat)*q.LatWeight + ratio(pdv[i], maxPdv)*q.PdvWeight +
				ratio(plr[i], maxPlr)*q.PlrWeight + ratio(per[i], maxPer)*q.PerWeight
			absQ[i] *= s.relativeCapacity
			total += absQ[i]
		}
	}
	for i := range b.paths {
		s := &b.paths[i]
		if total > 0 && s.used && s.bonded {
			s.relativeQuality = absQ[i] / total
		}
		if !s.used || !s.allowed() {
			continue
		}
		if s.nLatency >= latencyMinSamples {
			s.latency, s.latencyStddev = s.latencyStats()
		}
		// As 1.14: a path marked to avoid is cleared at the next estimate
		// whatever its quality, and judged again at the one after.
		if s.avoid {
			s.avoid = false
		} else {
			s.avoid = s.latency > q.LatMax || s.latencyStddev > q.PdvMax || s.errorRatio > q.PerMax || s.lossRatio > q.PlrMax
		}
	}
}

// expire drops entries at least timeout old, keeping order, and returns how
// many are left.
func expire(es []qosEntry, now, timeout int64) int {
	n := 0
	for _, e := range es {
		if now-e.at < timeout {
			es[n] = e
			n++
		}
	}
	return n
}
