package offload

import (
	"bytes"
	"encoding/binary"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/gopacket/gopacket/layers"
)

var writeSeeds = flag.Bool("write-seeds", false, "rewrite the fuzz seed corpora in testdata/fuzz")

// FuzzSegment: no input panics, and every segment cut from a super-frame
// fits the MTU and carries valid checksums.
func FuzzSegment(f *testing.F) {
	f.Fuzz(func(t *testing.T, hdr, frame []byte, mtu uint16) {
		h, err := DecodeHeader(hdr)
		if err != nil {
			return
		}
		var s Segmenter
		if s.Reset(frame, h, int(mtu)) != nil {
			if s.Pending() {
				t.Fatal("a refused frame left segments pending")
			}
			return
		}
		out := make([]byte, 70000)
		for i := 0; s.Pending(); i++ {
			if i > len(frame) {
				t.Fatal("more segments than bytes")
			}
			n, err := s.Next(out)
			if err != nil {
				t.Fatal(err)
			}
			if !s.gso {
				continue
			}
			seg := out[:n]
			if n > int(mtu)+14 {
				t.Fatalf("segment of %d bytes for MTU %d", n, mtu)
			}
			if !segmentChecksumOK(seg, s.l3, s.l4, s.proto, s.v6) {
				t.Fatalf("segment %d has a bad checksum", i)
			}
		}
	})
}

// segmentChecksumOK checks a segment's IPv4 header and transport
// checksums word by word.
func segmentChecksumOK(seg []byte, l3, l4 int, proto uint8, v6 bool) bool {
	var ph []byte
	if v6 {
		ph = append(ph, seg[l3+8:l3+40]...)
	} else {
		if naiveChecksum(seg[l3:l4]) != 0 {
			return false
		}
		ph = append(ph, seg[l3+12:l3+20]...)
	}
	n := len(seg) - l4
	ph = append(ph, 0, proto, byte(n>>8), byte(n))
	return naiveChecksum(append(ph, seg[l4:]...)) == 0
}

// splitFrames cuts fuzz data into frames, each behind a 2-byte length,
// at most a batch of them.
func splitFrames(data []byte) [][]byte {
	var frames [][]byte
	for len(data) >= 2 && len(frames) < 128 {
		n := min(int(binary.BigEndian.Uint16(data)), len(data)-2)
		frames = append(frames, data[2:2+n])
		data = data[2+n:]
	}
	return frames
}

func joinFrames(frames [][]byte) []byte {
	var b []byte
	for _, f := range frames {
		b = binary.BigEndian.AppendUint16(b, uint16(len(f)))
		b = append(b, f...)
	}
	return b
}

// FuzzCoalesce: no input panics, and every frame comes out once: alone
// as it came, or from cutting a super-frame again (its checksums, valid,
// may be written differently).
func FuzzCoalesce(f *testing.F) {
	var c Coalescer
	f.Fuzz(func(t *testing.T, data []byte) {
		frames := splitFrames(data)
		orig := clone(frames)
		used := make([]bool, len(frames))
		claim := func(frame []byte, masked func([]byte) []byte) {
			for j, o := range orig {
				if !used[j] && bytes.Equal(masked(frame), masked(o)) {
					used[j] = true
					return
				}
			}
			t.Fatalf("a frame written is none of those given")
		}
		asIs := func(b []byte) []byte { return b }
		count := 0
		for _, w := range c.Coalesce(frames) {
			count += w.Frames
			b := bytes.Join(w.Parts, nil)
			h, err := DecodeHeader(b)
			if err != nil {
				t.Fatal(err)
			}
			if w.Frames == 1 {
				if h != (Header{}) {
					t.Fatalf("a lone frame behind header %+v", h)
				}
				claim(b[HeaderLen:], asIs)
				continue
			}
			resegment(t, b[HeaderLen:], h, w.Frames, claim)
		}
		if count != len(frames) || slices.Contains(used, false) {
			t.Fatalf("%d frames in, %d written", len(frames), count)
		}
	})
}

// resegment cuts a super-frame again and hands each segment, whose
// checksums it checks, to claim with a function that blanks checksums.
func resegment(t *testing.T, super []byte, h Header, count int, claim func(seg []byte, masked func([]byte) []byte)) {
	t.Helper()
	var s Segmenter
	if err := s.Reset(super, h, 65535); err != nil {
		t.Fatalf("super-frame refused: %v", err)
	}
	masked := func(b []byte) []byte {
		if len(b) < s.l4+18 {
			return b
		}
		b = bytes.Clone(b)
		clear(b[s.l4+16 : s.l4+18])
		if !s.v6 {
			clear(b[24:26])
		}
		return b
	}
	out := make([]byte, 70000)
	for i := range count {
		n, err := s.Next(out)
		if err != nil {
			t.Fatal(err)
		}
		if !segmentChecksumOK(out[:n], s.l3, s.l4, s.proto, s.v6) {
			t.Fatalf("segment %d: bad checksum", i)
		}
		claim(out[:n], masked)
	}
	if s.Pending() {
		t.Fatal("the super-frame holds more segments than it merged")
	}
}

// TestRoundTrip: frames merged and cut again are the frames sent.
func TestRoundTrip(t *testing.T) {
	for _, v6 := range []bool{false, true} {
		f := flow{v6: v6, srcPort: 9, dstPort: 10, ipID: 1, ack: 5}
		frames := f.segments(t, 1, stream(30000), 1448)
		ws := new(Coalescer).Coalesce(frames)
		if len(ws) != 1 {
			t.Fatalf("%d writes", len(ws))
		}
		b := bytes.Join(ws[0].Parts, nil)
		h, _ := DecodeHeader(b)
		next := 0
		resegment(t, b[HeaderLen:], h, len(frames), func(seg []byte, masked func([]byte) []byte) {
			if !bytes.Equal(masked(seg), masked(frames[next])) {
				t.Fatalf("v6=%v: segment %d differs from the frame sent", v6, next)
			}
			next++
		})
	}
}

// TestWriteSeeds rewrites testdata/fuzz with -write-seeds.
func TestWriteSeeds(t *testing.T) {
	if !*writeSeeds {
		t.Skip("run with -write-seeds to rewrite the corpora")
	}
	enc := func(h Header) []byte { b := make([]byte, HeaderLen); h.Encode(b); return b }
	write := func(fuzz, name string, args ...any) {
		var b bytes.Buffer
		b.WriteString("go test fuzz v1\n")
		for _, a := range args {
			switch a := a.(type) {
			case []byte:
				fmt.Fprintf(&b, "[]byte(%q)\n", a)
			case uint16:
				fmt.Fprintf(&b, "uint16(%d)\n", a)
			}
		}
		dir := filepath.Join("testdata", "fuzz", fuzz)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	v4 := flow{srcPort: 1, dstPort: 2, ipID: 3}
	v6 := flow{v6: true, srcPort: 1, dstPort: 2}
	tso4, h4 := tsoFrame(t, v4, 100, stream(6000), 1448, func(tcp *layers.TCP) { tcp.PSH = true })
	tso6, h6 := tsoFrame(t, v6, 100, stream(6000), 1428, nil)
	uso, hu := usoFrame(t, false, stream(3000), 1000)
	write("FuzzSegment", "tso4", enc(h4), tso4, uint16(1500))
	write("FuzzSegment", "tso6", enc(h6), tso6, uint16(1500))
	write("FuzzSegment", "tso4-small-mtu", enc(h4), tso4, uint16(576))
	write("FuzzSegment", "uso4", enc(hu), uso, uint16(1280))
	hu.GSOType = GSONone
	write("FuzzSegment", "needs-csum", enc(hu), uso, uint16(9000))
	write("FuzzSegment", "truncated", enc(h4), tso4[:60], uint16(1500))

	s4 := v4.segments(t, 7, stream(5000), 1000)
	s6 := v6.segments(t, 7, stream(3000), 1000)
	write("FuzzCoalesce", "stream4", joinFrames(s4))
	write("FuzzCoalesce", "mixed", joinFrames([][]byte{s4[0], s6[0], s4[1], s6[1], s4[3], s6[2], s4[2]}))
}
