package vl2_test

import (
	"testing"
	"time"

	vl1 "github.com/ztgo/ztgo/layer1-vl1"
	"github.com/ztgo/ztgo/layer1-vl1/wire"
	"github.com/ztgo/ztgo/layer2-vl2/vl2wire"
)

// BenchmarkFrameReceive is b's side of a unicast FRAME after VL1: gate,
// inbound rules, device write (the in-memory device keeps a copy).
func BenchmarkFrameReceive(b *testing.B) {
	l := newLab(b, 2, "", nil)
	a, m := l.members[0], l.members[1]
	// Let b learn a's COM first.
	a.Send(l.nwid, icmpEcho(b, l.mac(a), l.mac(m), l.ip(a), l.ip(m), 0))
	collect(l, time.Second)
	frame := icmpEcho(b, l.mac(a), l.mac(m), l.ip(a), l.ip(m), 1)
	f := vl2wire.Frame{NetworkID: l.nwid, EtherType: 0x0800, Payload: frame[14:]}
	in := vl1.Inbound{From: a.Address(), Verb: wire.VerbFRAME, Payload: f.AppendPayload(nil)}
	dev := m.Device(l.nwid)
	if !m.Switch.HandleVL2(in) {
		b.Fatal("frame not accepted")
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		m.Switch.HandleVL2(in)
		if i%1024 == 0 {
			dev.Delivered()
		}
	}
}
