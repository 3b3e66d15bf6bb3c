package vl2_test

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/ztgo/ztgo/drivers/memdev"
	vl1 "github.com/ztgo/ztgo/layer1-vl1"
	"github.com/ztgo/ztgo/layer1-vl1/wire"
	"github.com/ztgo/ztgo/layer2-vl2/vl2test"
	"github.com/ztgo/ztgo/layer2-vl2/vl2wire"
)

// BenchmarkFrameReceive is b's side of a unicast FRAME after VL1: gate,
// inbound rules, device write (the in-memory device keeps a copy).
func BenchmarkFrameReceive(b *testing.B) {
	m, dev, in := frameReceiveSetup(b)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		m.Switch.HandleVL2(in)
		if i%32 == 31 {
			m.Switch.FlushVL2() // VL1 flushes after each received batch
		}
		if i%1024 == 0 {
			dev.Delivered()
		}
	}
}

// BenchmarkFrameReceiveParallel is BenchmarkFrameReceive from every core
// (compare -cpu 1,2): the frame path takes no lock across the device
// write, and goroutines flush their batches of 32 as VL1's receivers do.
func BenchmarkFrameReceiveParallel(b *testing.B) {
	m, dev, in := frameReceiveSetup(b)
	var count atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for i := 0; pb.Next(); i++ {
			m.Switch.HandleVL2(in)
			if i%32 == 31 {
				m.Switch.FlushVL2()
			}
			if count.Add(1)%1024 == 0 {
				dev.Delivered()
			}
		}
	})
}

// frameReceiveSetup gives member m a FRAME from a that it accepts (a's COM
// learned first), and m's device.
func frameReceiveSetup(b *testing.B) (*vl2test.Member, *memdev.Device, vl1.Inbound) {
	l := newLab(b, 2, "", nil)
	a, m := l.members[0], l.members[1]
	a.Send(l.nwid, icmpEcho(b, l.mac(a), l.mac(m), l.ip(a), l.ip(m), 0))
	collect(l, time.Second)
	frame := icmpEcho(b, l.mac(a), l.mac(m), l.ip(a), l.ip(m), 1)
	f := vl2wire.Frame{NetworkID: l.nwid, EtherType: 0x0800, Payload: frame[14:]}
	in := vl1.Inbound{From: a.Address(), Verb: wire.VerbFRAME, Payload: f.AppendPayload(nil)}
	if !m.Switch.HandleVL2(in) {
		b.Fatal("frame not accepted")
	}
	return m, m.Device(l.nwid), in
}
