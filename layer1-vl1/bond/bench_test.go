package bond

import (
	"testing"

	"github.com/ztgo/ztgo/layer1-vl1/wire"
)

// perPacket is the engine's work per packet of flow f: choose, send,
// receive one back.
func perPacket(b *Bond, now int64, id uint64, f FlowID, dst []PathIndex) []PathIndex {
	dst = b.Pick(now, wire.VerbFRAME, f, dst[:0])
	for _, p := range dst {
		b.Sent(now, p, id, wire.VerbFRAME, 1400, f)
		b.Received(now, p, id+1, wire.VerbFRAME, 1400, f)
	}
	return dst
}

// warmBond is a bond of policy p over two links, past the trial period,
// with 64 flows known, and the time it is at.
func warmBond(p Policy) (*Bond, int64) {
	s := &sim{t: nil, b: New(custom(p, nil), 1, 2, 3), now: 1_000_000, down: map[PathIndex]bool{}, sent: map[PathIndex][]uint64{}}
	for n, l := range []string{"eth0", "eth1"} {
		i, _ := s.b.AddPath(s.now, PathKey{Link: l, Socket: n})
		s.paths = append(s.paths, i)
	}
	s.run(trialPeriod + 1000)
	for f := FlowID(0); f < 64; f++ { // the flows exist: steady state
		perPacket(s.b, s.now, uint64(f), f, nil)
	}
	return s.b, s.now
}

// TestPerPacketAllocatesNothing: choosing, sending and receiving a packet of
// a known flow, and reading a full QoS report, allocate nothing, under
// every policy.
func TestPerPacketAllocatesNothing(t *testing.T) {
	var qos []byte
	for id := uint64(1); len(qos) < wire.QoSMaxPayload; id += 2 {
		qos = wire.AppendQoSRecord(qos, wire.QoSRecord{PacketID: id})
	}
	for p := PolicyActiveBackup; p <= PolicyBalanceAware; p++ {
		b, now := warmBond(p)
		dst := make([]PathIndex, 0, MaxPaths)
		var id uint64
		n := testing.AllocsPerRun(1000, func() {
			id += 2
			dst = perPacket(b, now, id, FlowID(id%64), dst)
		})
		if n != 0 {
			t.Errorf("%v: %v allocations per packet", p, n)
		}
		n = testing.AllocsPerRun(100, func() { b.ReceivedQoS(now+int64(id), 0, qos); id += 1000 })
		if n != 0 {
			t.Errorf("%v: %v allocations per QoS report", p, n)
		}
		buf := make([]byte, 0, wire.QoSMaxPayload)
		acts := make([]Action, 0, 2*MaxPaths)
		n = testing.AllocsPerRun(100, func() {
			id += 100
			acts = b.Tick(now+int64(id), acts[:0])
			buf = b.AppendQoS(now+int64(id), 0, buf[:0])
		})
		if n != 0 {
			t.Errorf("%v: %v allocations per tick", p, n)
		}
	}
}

func BenchmarkPerPacket(b *testing.B) {
	for p := PolicyActiveBackup; p <= PolicyBalanceAware; p++ {
		b.Run(p.String(), func(b *testing.B) {
			bd, now := warmBond(p)
			dst := make([]PathIndex, 0, MaxPaths)
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				dst = perPacket(bd, now, uint64(i)*2, FlowID(i%64), dst)
			}
		})
	}
}
