package offload

import "testing"

// BenchmarkSegment64K cuts a 64 KB IPv4 TSO super-frame for MTU 1500.
func BenchmarkSegment64K(b *testing.B) {
	f := flow{srcPort: 1, dstPort: 2}
	frame, h := tsoFrame(b, f, 0, stream(65483), 1448, nil)
	out, sizes := outBufs(64, 2048)
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Segment(frame, h, 1500, out, sizes, 32); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCoalesce64K merges the 45 segments of 64 KB of one IPv4 flow,
// checking each one's checksums.
func BenchmarkCoalesce64K(b *testing.B) {
	f := flow{srcPort: 1, dstPort: 2}
	var frames [][]byte
	for off := 0; off < 65000; off += 1448 {
		frames = append(frames, f.segment(b, uint32(off), stream(65000)[off:min(off+1448, 65000)], false))
		f.ipID++
	}
	var c Coalescer
	b.SetBytes(65000)
	b.ReportAllocs()
	for b.Loop() {
		if ws := c.Coalesce(frames); len(ws) != 1 {
			b.Fatalf("%d writes", len(ws))
		}
	}
}
