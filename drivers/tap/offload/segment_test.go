package offload

import (
	"bytes"
	"errors"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// tsoFrame builds the super-frame a TAP hands over for a TCP send of
// payload: one header, the pseudo-header sum in the checksum field, and a
// hdr_len that, as the kernel's often does, covers part of the payload.
func tsoFrame(t testing.TB, f flow, seq uint32, payload []byte, mss int, set func(*layers.TCP)) ([]byte, Header) {
	t.Helper()
	frame := f.tcpFrame(t, seq, payload, set, f.ipID)
	l4, hdrLen := f.tcpOffsets()
	partialChecksum(frame, f.v6, protoTCP, l4, 16, len(frame)-l4)
	h := Header{Flags: FlagNeedsCsum, GSOType: GSOTCPv4, HdrLen: uint16(hdrLen + 100), GSOSize: uint16(mss),
		CsumStart: uint16(l4), CsumOffset: 16}
	if f.v6 {
		h.GSOType = GSOTCPv6
	}
	return frame, h
}

func outBufs(n, size int) ([][]byte, []int) {
	bufs := make([][]byte, n)
	for i := range bufs {
		bufs[i] = make([]byte, size)
	}
	return bufs, make([]int, n)
}

func TestSegmentTSO64K(t *testing.T) {
	for _, v6 := range []bool{false, true} {
		f := flow{v6: v6, srcPort: 40000, dstPort: 5201, ack: 777, window: 512, ipID: 0xfffe}
		_, hdrLen := f.tcpOffsets()
		const mtu = 1500
		mss := mtu + 14 - hdrLen                 // segments exactly at the MTU
		payload := stream(65535 - (hdrLen - 14)) // the largest IPv4 packet
		if v6 {
			payload = stream(65535 - (hdrLen - 54)) // the largest IPv6 payload
		}
		const seq = 0xffffff00 // wraps around
		frame, h := tsoFrame(t, f, seq, payload, mss, func(tcp *layers.TCP) { tcp.PSH, tcp.FIN = true, true })
		out, sizes := outBufs(64, 32+mtu+14)
		n, err := Segment(frame, h, mtu, out, sizes, 32)
		if err != nil {
			t.Fatal(err)
		}
		if want := (len(payload) + mss - 1) / mss; n != want {
			t.Fatalf("v6=%v: %d segments, want %d", v6, n, want)
		}
		var got []byte
		for i := range n {
			seg := out[i][32 : 32+sizes[i]]
			if len(seg) > mtu+14 {
				t.Fatalf("segment %d is %d bytes, over MTU %d + 14", i, len(seg), mtu)
			}
			if i < n-1 && len(seg) != mtu+14 {
				t.Fatalf("segment %d is %d bytes, want exactly MTU + 14", i, len(seg))
			}
			d := decode(t, seg)
			if d.tcp == nil {
				t.Fatalf("segment %d: no TCP", i)
			}
			if d.tcp.Seq != seq+uint32(len(got)) {
				t.Fatalf("segment %d: seq %#x, want %#x", i, d.tcp.Seq, seq+uint32(len(got)))
			}
			last := i == n-1
			if d.tcp.PSH != last || d.tcp.FIN != last || !d.tcp.ACK || d.tcp.Ack != 777 || d.tcp.Window != 512 {
				t.Fatalf("segment %d/%d: flags PSH=%v FIN=%v ACK=%v ack=%d win=%d", i, n, d.tcp.PSH, d.tcp.FIN, d.tcp.ACK, d.tcp.Ack, d.tcp.Window)
			}
			if len(d.tcp.Options) != 3 || d.tcp.Options[2].OptionType != layers.TCPOptionKindTimestamps {
				t.Fatalf("segment %d: options %v", i, d.tcp.Options)
			}
			if v6 {
				if d.ip6 == nil || !d.ip6.SrcIP.Equal(v6A) || !d.ip6.DstIP.Equal(v6B) {
					t.Fatalf("segment %d: IPv6 header %+v", i, d.ip6)
				}
			} else if d.ip4.Id != 0xfffe+uint16(i) || d.ip4.Flags != layers.IPv4DontFragment || d.ip4.TTL != 64 {
				t.Fatalf("segment %d: IPv4 id %#x flags %v ttl %d", i, d.ip4.Id, d.ip4.Flags, d.ip4.TTL)
			}
			got = append(got, d.payload...)
		}
		if !bytes.Equal(got, payload) {
			t.Fatalf("v6=%v: segments carry %d bytes that differ from the %d sent", v6, len(got), len(payload))
		}
	}
}

// TestSegmentECN: with GSO_ECN only the first segment keeps CWR, as the
// kernel's own segmentation does.
func TestSegmentECN(t *testing.T) {
	f := flow{srcPort: 1, dstPort: 2, ipID: 9}
	frame, h := tsoFrame(t, f, 1, stream(5000), 1000, func(tcp *layers.TCP) { tcp.CWR, tcp.ECE = true, true })
	h.GSOType |= GSOECN
	out, sizes := outBufs(8, 2000)
	n, err := Segment(frame, h, 1500, out, sizes, 0)
	if err != nil || n != 5 {
		t.Fatalf("n=%d err=%v", n, err)
	}
	for i := range n {
		d := decode(t, out[i][:sizes[i]])
		if d.tcp.CWR != (i == 0) || !d.tcp.ECE {
			t.Fatalf("segment %d: CWR=%v ECE=%v", i, d.tcp.CWR, d.tcp.ECE)
		}
	}
}

// TestSegmentMSSOverMTU: a gso_size larger than the MTU allows is cut to
// fit, since on the wire no frame may exceed MTU + 14.
func TestSegmentMSSOverMTU(t *testing.T) {
	f := flow{v6: true, srcPort: 1, dstPort: 2}
	payload := stream(20000)
	frame, h := tsoFrame(t, f, 100, payload, 8000, nil)
	out, sizes := outBufs(64, 2000)
	n, err := Segment(frame, h, 1280, out, sizes, 0)
	if err != nil {
		t.Fatal(err)
	}
	var got []byte
	for i := range n {
		if sizes[i] > 1280+14 {
			t.Fatalf("segment %d is %d bytes", i, sizes[i])
		}
		got = append(got, decode(t, out[i][:sizes[i]]).payload...)
	}
	if !bytes.Equal(got, payload) {
		t.Fatal("payload differs")
	}
}

func usoFrame(t testing.TB, v6 bool, payload []byte, gsoSize int) ([]byte, Header) {
	t.Helper()
	f := flow{v6: v6}
	eth, nl, ip := f.ipLayers(layers.IPProtocolUDP, 40)
	udp := &layers.UDP{SrcPort: 4433, DstPort: 443}
	udp.SetNetworkLayerForChecksum(nl)
	frame := serialize(t, eth, ip, udp, gopacket.Payload(payload))
	l4 := 34
	if v6 {
		l4 = 54
	}
	partialChecksum(frame, v6, protoUDP, l4, 6, len(frame)-l4)
	return frame, Header{Flags: FlagNeedsCsum, GSOType: GSOUDPL4, HdrLen: uint16(l4 + 8), GSOSize: uint16(gsoSize),
		CsumStart: uint16(l4), CsumOffset: 6}
}

func TestSegmentUSO(t *testing.T) {
	for _, v6 := range []bool{false, true} {
		payload := stream(1200*10 + 7)
		frame, h := usoFrame(t, v6, payload, 1200)
		out, sizes := outBufs(16, 1600)
		n, err := Segment(frame, h, 1280, out, sizes, 0)
		if err != nil || n != 11 {
			t.Fatalf("v6=%v: n=%d err=%v", v6, n, err)
		}
		for i := range n {
			d := decode(t, out[i][:sizes[i]])
			want := payload[i*1200 : min((i+1)*1200, len(payload))]
			if d.udp == nil || !bytes.Equal(d.payload, want) || int(d.udp.Length) != 8+len(want) {
				t.Fatalf("v6=%v datagram %d: %d bytes, want %d", v6, i, len(d.payload), len(want))
			}
			if d.udp.Checksum == 0 {
				t.Fatalf("datagram %d: no checksum", i)
			}
			if !v6 && d.ip4.Id != 40+uint16(i) {
				t.Fatalf("datagram %d: id %d", i, d.ip4.Id)
			}
		}
	}
	// Datagrams cannot be cut smaller than the application sent them.
	frame, h := usoFrame(t, false, stream(3000), 1400)
	out, sizes := outBufs(16, 1600)
	if _, err := Segment(frame, h, 1280, out, sizes, 0); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("USO over the MTU: err %v, want ErrTooLarge", err)
	}
}

// TestSegmentCompletesChecksum: a lone frame with NEEDS_CSUM leaves with
// its checksum filled in; one without comes out unchanged.
func TestSegmentCompletesChecksum(t *testing.T) {
	f := flow{srcPort: 1, dstPort: 2}
	frame := f.tcpFrame(t, 5, stream(333), nil, 1)
	partialChecksum(frame, false, protoTCP, 34, 16, len(frame)-34)
	h := Header{Flags: FlagNeedsCsum, CsumStart: 34, CsumOffset: 16}
	out, sizes := outBufs(1, 2000)
	if n, err := Segment(frame, h, 1500, out, sizes, 10); err != nil || n != 1 || sizes[0] != len(frame) {
		t.Fatalf("n=%d err=%v", n, err)
	}
	decode(t, out[0][10:10+sizes[0]])

	udpFrame, uh := usoFrame(t, true, stream(99), 1200)
	uh.GSOType = GSONone
	if n, err := Segment(udpFrame, uh, 1500, out, sizes, 0); err != nil || n != 1 {
		t.Fatalf("n=%d err=%v", n, err)
	}
	decode(t, out[0][:sizes[0]])

	arp := serialize(t, &layers.Ethernet{SrcMAC: macA, DstMAC: macB, EthernetType: layers.EthernetTypeARP},
		&layers.ARP{AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4, HwAddressSize: 6, ProtAddressSize: 4,
			Operation: layers.ARPRequest, SourceHwAddress: macA, SourceProtAddress: v4A, DstHwAddress: make([]byte, 6), DstProtAddress: v4B})
	if n, err := Segment(arp, Header{}, 1500, out, sizes, 0); err != nil || n != 1 || !bytes.Equal(out[0][:sizes[0]], arp) {
		t.Fatalf("ARP: n=%d err=%v", n, err)
	}
}

// TestSegmenterShortBuffers: segments that do not fit stay pending and
// come out later; none is lost.
func TestSegmenterShortBuffers(t *testing.T) {
	f := flow{srcPort: 1, dstPort: 2}
	payload := stream(10000)
	frame, h := tsoFrame(t, f, 0, payload, 1000, nil)
	out, sizes := outBufs(4, 1600)
	n, err := Segment(frame, h, 1500, out, sizes, 0)
	if n != 4 || !errors.Is(err, ErrShortBuffer) {
		t.Fatalf("n=%d err=%v, want 4 and ErrShortBuffer", n, err)
	}
	var s Segmenter
	if err := s.Reset(frame, h, 1500); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Next(make([]byte, 100)); !errors.Is(err, ErrShortBuffer) {
		t.Fatalf("short buffer: %v", err)
	}
	var got []byte
	for s.Pending() {
		k, err := s.Next(out[0])
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, decode(t, out[0][:k]).payload...)
	}
	if !bytes.Equal(got, payload) {
		t.Fatal("payload differs after a short buffer")
	}
}

// TestSegmentMalformed: what a kernel would never send is refused, never
// a panic.
func TestSegmentMalformed(t *testing.T) {
	f := flow{srcPort: 1, dstPort: 2}
	good, gh := tsoFrame(t, f, 0, stream(3000), 1000, nil)
	f6 := flow{v6: true, srcPort: 1, dstPort: 2}
	good6, gh6 := tsoFrame(t, f6, 0, stream(3000), 1000, nil)
	mod := func(b []byte, fn func([]byte)) []byte { c := append([]byte(nil), b...); fn(c); return c }
	cases := []struct {
		name  string
		frame []byte
		h     Header
		want  error
	}{
		{"empty", nil, gh, ErrMalformed},
		{"ethernet only", good[:14], gh, ErrMalformed},
		{"truncated IP", good[:30], gh, ErrMalformed},
		{"truncated TCP", good[:40], gh, ErrMalformed},
		{"gso_size 0", good, Header{Flags: gh.Flags, GSOType: gh.GSOType, CsumStart: 34, CsumOffset: 16}, ErrMalformed},
		{"UFO", good, Header{GSOType: GSOUDP, GSOSize: 1000}, ErrUnsupported},
		{"unknown GSO type", good, Header{GSOType: 9, GSOSize: 1000}, ErrUnsupported},
		{"TCPv6 on IPv4", good, Header{GSOType: GSOTCPv6, GSOSize: 1000}, ErrMalformed},
		{"TCPv4 on IPv6", good6, Header{GSOType: GSOTCPv4, GSOSize: 1000}, ErrMalformed},
		{"csum_start wrong", good, Header{Flags: FlagNeedsCsum, GSOType: GSOTCPv4, GSOSize: 1000, CsumStart: 40, CsumOffset: 16}, ErrMalformed},
		{"csum_offset wrong", good, Header{Flags: FlagNeedsCsum, GSOType: GSOTCPv4, GSOSize: 1000, CsumStart: 34, CsumOffset: 6}, ErrMalformed},
		{"csum_start beyond frame", good6, Header{Flags: FlagNeedsCsum, GSOType: GSOTCPv6, GSOSize: 1000, CsumStart: 60000, CsumOffset: 16}, ErrMalformed},
		{"data offset beyond frame", mod(good[:60], func(b []byte) { b[34+12] = 0xf0 }), gh, ErrMalformed},
		{"data offset under 5", mod(good, func(b []byte) { b[34+12] = 0x40 }), gh, ErrMalformed},
		{"IHL under 5", mod(good, func(b []byte) { b[14] = 0x44 }), Header{GSOType: GSOTCPv4, GSOSize: 1000}, ErrMalformed},
		{"fragment", mod(good, func(b []byte) { b[20] |= 0x20 }), gh, ErrMalformed},
		{"protocol not TCP", mod(good, func(b []byte) { b[23] = 17 }), gh, ErrMalformed},
		{"not IP", mod(good, func(b []byte) { b[12], b[13] = 0x08, 0x06 }), gh, ErrMalformed},
		{"three VLAN tags", mod(good, func(b []byte) { copy(b[12:], []byte{0x81, 0, 0, 1, 0x81, 0, 0, 1, 0x81, 0, 0, 1}) }), gh, ErrMalformed},
		{"IPv6 next header not TCP", mod(good6, func(b []byte) { b[20] = 0 }), Header{GSOType: GSOTCPv6, GSOSize: 1000}, ErrMalformed},
		{"headers over 256 bytes", mod(good6, func(b []byte) { b[300+12] = 0x50 }),
			Header{Flags: FlagNeedsCsum, GSOType: GSOTCPv6, GSOSize: 1000, CsumStart: 300, CsumOffset: 16}, ErrMalformed},
		{"headers over the MTU", good, Header{GSOType: GSOTCPv4, GSOSize: 1000}, ErrTooLarge},
		{"NEEDS_CSUM field beyond frame", good[:50], Header{Flags: FlagNeedsCsum, CsumStart: 40, CsumOffset: 16}, ErrMalformed},
		{"NEEDS_CSUM start in Ethernet header", good, Header{Flags: FlagNeedsCsum, CsumStart: 2, CsumOffset: 0}, ErrMalformed},
	}
	out, sizes := outBufs(8, 2000)
	for _, c := range cases {
		mtu := 1500
		if c.want == ErrTooLarge {
			mtu = 40
		}
		n, err := Segment(c.frame, c.h, mtu, out, sizes, 0)
		if !errors.Is(err, c.want) || n != 0 {
			t.Errorf("%s: n=%d err=%v, want %v", c.name, n, err, c.want)
		}
	}
	if _, err := Segment(good6, gh6, 1500, out, sizes, 0); err != nil {
		t.Fatalf("the unmodified IPv6 frame: %v", err)
	}
}

// TestSegmentVLAN: a super-frame from a VLAN on top of the TAP keeps its
// tag in every segment, and the tag counts against the MTU as
// zerotier-one counts it (frame length minus 14).
func TestSegmentVLAN(t *testing.T) {
	f := flow{srcPort: 1, dstPort: 2, ipID: 3}
	payload := stream(5000)
	frame, h := tsoFrame(t, f, 0, payload, 1448, nil)
	tagged := append(append(append([]byte(nil), frame[:12]...), 0x81, 0, 0, 42), frame[12:]...)
	h.CsumStart += 4
	out, sizes := outBufs(8, 2000)
	n, err := Segment(tagged, h, 1500, out, sizes, 0)
	if err != nil {
		t.Fatal(err)
	}
	var got []byte
	for i := range n {
		seg := out[i][:sizes[i]]
		if len(seg) > 1514 {
			t.Fatalf("segment %d: %d bytes", i, len(seg))
		}
		d := decode(t, seg)
		if d.tcp == nil {
			t.Fatalf("segment %d: no TCP", i)
		}
		got = append(got, d.payload...)
	}
	if !bytes.Equal(got, payload) {
		t.Fatal("payload differs")
	}
}
