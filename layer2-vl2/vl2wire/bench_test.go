package vl2wire

import (
	"testing"

	"github.com/ztgo/ztgo/layer1-vl1/wire"
)

// The frame verbs are the data path: decoding into a reused value and
// encoding into a reused buffer must not allocate.

func TestFrameCodecsDoNotAllocate(t *testing.T) {
	payload := make([]byte, 1400)
	frame := (&Frame{NetworkID: labNetwork, EtherType: 0x0800, Payload: payload}).AppendPayload(nil)
	ext := (&ExtFrame{NetworkID: labNetwork, Dest: labMACZB, Source: labMACZA, EtherType: 0x0800, Payload: payload}).AppendPayload(nil)
	mc := (&MulticastFrame{NetworkID: labNetwork, Group: BroadcastGroup, EtherType: 0x0806, Payload: payload}).AppendPayload(nil)
	buf := make([]byte, 0, 2048)
	var f Frame
	var e ExtFrame
	var m MulticastFrame
	tests := map[string]func(){
		"FRAME":           func() { _ = f.DecodeFromBytes(frame); buf = f.AppendPayload(buf[:0]) },
		"EXT_FRAME":       func() { _ = e.DecodeFromBytes(ext); buf = e.AppendPayload(buf[:0]) },
		"MULTICAST_FRAME": func() { _ = m.DecodeFromBytes(mc); buf = m.AppendPayload(buf[:0]) },
	}
	for name, fn := range tests {
		if n := testing.AllocsPerRun(100, fn); n != 0 {
			t.Errorf("%s: %v allocations per decode+encode", name, n)
		}
	}
}

func BenchmarkFrameDecode(b *testing.B) {
	p := (&Frame{NetworkID: labNetwork, EtherType: 0x0800, Payload: make([]byte, 1400)}).AppendPayload(nil)
	var f Frame
	b.ReportAllocs()
	b.SetBytes(int64(len(p)))
	for b.Loop() {
		if err := f.DecodeFromBytes(p); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkFrameEncode(b *testing.B) {
	f := &Frame{NetworkID: labNetwork, EtherType: 0x0800, Payload: make([]byte, 1400)}
	buf := make([]byte, 0, 2048)
	b.ReportAllocs()
	b.SetBytes(int64(len(f.Payload) + 10))
	for b.Loop() {
		buf = f.AppendPayload(buf[:0])
	}
}

func BenchmarkParseMulticastLike(b *testing.B) {
	m := &MulticastLike{}
	for i := range 32 {
		m.Records = append(m.Records, Like{NetworkID: labNetwork, Group: MulticastGroup{MAC: BroadcastMAC, ADI: uint32(i)}})
	}
	p := m.AppendPayload(nil)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(wire.VerbMULTICAST_LIKE, p); err != nil {
			b.Fatal(err)
		}
	}
}
