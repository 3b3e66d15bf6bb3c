package offload

import (
	"bytes"
	"encoding/binary"
	"slices"
	"testing"

	"github.com/gopacket/gopacket/layers"
)

// written is one write as the kernel would take it: the header, and the
// frame with a NEEDS_CSUM checksum completed as the kernel would.
type written struct {
	h     Header
	frame []byte
	d     decoded
}

// flatten checks every write gopacket can decode with good checksums,
// and returns them.
func flatten(t *testing.T, ws []Write) []written {
	t.Helper()
	var out []written
	for i, w := range ws {
		b := bytes.Join(w.Parts, nil)
		h, err := DecodeHeader(b)
		if err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
		frame := b[HeaderLen:]
		if h.Flags&FlagNeedsCsum != 0 {
			at := int(h.CsumStart + h.CsumOffset)
			binary.BigEndian.PutUint16(frame[at:], naiveChecksum(frame[h.CsumStart:]))
		}
		out = append(out, written{h: h, frame: frame, d: decode(t, frame)})
	}
	return out
}

// merged reports, per write, how many frames it carries.
func merged(ws []Write) []int {
	var n []int
	for _, w := range ws {
		n = append(n, w.Frames)
	}
	return n
}

// segments cuts data into segments of mss bytes, PSH on the last; each
// segment's IP ID is one more than the one before.
func (f flow) segments(t *testing.T, seq uint32, data []byte, mss int) [][]byte {
	var frames [][]byte
	for i, off := 0, 0; off < len(data); i, off = i+1, off+mss {
		end := min(off+mss, len(data))
		next := f
		next.ipID = f.ipID + uint16(i)
		frames = append(frames, next.segment(t, seq+uint32(off), data[off:end], end == len(data)))
	}
	return frames
}

func TestCoalesceStream(t *testing.T) {
	for _, v6 := range []bool{false, true} {
		f := flow{v6: v6, srcPort: 5201, dstPort: 40000, ack: 1, window: 100, ipID: 0xfff0, flowLabel: 0x12345}
		_, hdrLen := f.tcpOffsets()
		const mtu = 1400
		mss := mtu + 14 - hdrLen // frames exactly at the MTU
		data := stream(40*mss + 100)
		frames := f.segments(t, 0xfffff000, data, mss)
		orig := clone(frames)
		var c Coalescer
		ws := c.Coalesce(frames)
		if !slices.Equal(merged(ws), []int{41}) {
			t.Fatalf("v6=%v: writes carry %v frames, want one write of 41", v6, merged(ws))
		}
		w := flatten(t, ws)[0]
		wantType := uint8(GSOTCPv4)
		if v6 {
			wantType = GSOTCPv6
		}
		if w.h.GSOType != wantType || int(w.h.GSOSize) != mss || int(w.h.HdrLen) != hdrLen || w.h.Flags != FlagNeedsCsum {
			t.Fatalf("header %+v", w.h)
		}
		if !bytes.Equal(w.d.payload, data) {
			t.Fatal("the super-frame's payload is not the stream")
		}
		if w.d.tcp.Seq != 0xfffff000 || !w.d.tcp.PSH || w.d.tcp.Ack != 1 || w.d.tcp.Window != 100 || len(w.d.tcp.Options) != 3 {
			t.Fatalf("TCP header %+v", w.d.tcp)
		}
		if !v6 && w.d.ip4.Id != 0xfff0 {
			t.Fatalf("IPv4 id %#x", w.d.ip4.Id)
		}
		for i := range frames {
			if !bytes.Equal(frames[i], orig[i]) {
				t.Fatalf("frame %d was modified", i)
			}
		}
	}
}

func clone(frames [][]byte) [][]byte {
	c := make([][]byte, len(frames))
	for i, f := range frames {
		c[i] = slices.Clone(f)
	}
	return c
}

// payloadStream returns the TCP payload of the writes, in order.
func payloadStream(ws []written) []byte {
	var b []byte
	for _, w := range ws {
		if w.d.tcp != nil {
			b = append(b, w.d.payload...)
		}
	}
	return b
}

// TestCoalesceOutOfOrder: a segment never joins data it does not
// directly follow, and no segment overtakes another of its flow.
func TestCoalesceOutOfOrder(t *testing.T) {
	f := flow{srcPort: 1, dstPort: 2, ipID: 10}
	data := stream(5000)
	s := f.segments(t, 0, data, 1000)
	// s[2] and s[3] swapped; IDs follow the order sent, as a sender's do
	frames := [][]byte{s[0], s[1], s[3], s[2], s[4]}
	var c Coalescer
	ws := c.Coalesce(frames)
	if !slices.Equal(merged(ws), []int{2, 1, 1, 1}) {
		t.Fatalf("writes carry %v frames", merged(ws))
	}
	got := payloadStream(flatten(t, ws))
	want := slices.Concat(data[:2000], data[3000:4000], data[2000:3000], data[4000:])
	if !bytes.Equal(got, want) {
		t.Fatal("writes reorder the segments")
	}
	// A retransmission of data already merged starts over.
	ws = c.Coalesce([][]byte{s[0], s[1], s[1]})
	if !slices.Equal(merged(ws), []int{2, 1}) {
		t.Fatalf("retransmission: writes carry %v frames", merged(ws))
	}
}

func TestCoalesceMixedFlows(t *testing.T) {
	a := flow{srcPort: 1, dstPort: 2, ipID: 100}
	b := flow{v6: true, srcPort: 1, dstPort: 2}
	c2 := flow{srcPort: 3, dstPort: 2, ipID: 500}
	da, db, dc := stream(3000), stream(4000)[1000:], stream(2000)
	sa, sb, sc := a.segments(t, 0, da, 1000), b.segments(t, 7, db, 1000), c2.segments(t, 9, dc, 1000)
	udpIP := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: v4A, DstIP: v4B}
	udpL4 := &layers.UDP{SrcPort: 1, DstPort: 2}
	udpL4.SetNetworkLayerForChecksum(udpIP)
	udp := serialize(t, &layers.Ethernet{SrcMAC: macA, DstMAC: macB, EthernetType: layers.EthernetTypeIPv4}, udpIP, udpL4)
	arp := serialize(t, &layers.Ethernet{SrcMAC: macA, DstMAC: layers.EthernetBroadcast, EthernetType: layers.EthernetTypeARP},
		&layers.ARP{AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4, HwAddressSize: 6, ProtAddressSize: 4,
			Operation: layers.ARPRequest, SourceHwAddress: macA, SourceProtAddress: v4A, DstHwAddress: make([]byte, 6), DstProtAddress: v4B})
	icmp := serialize(t, &layers.Ethernet{SrcMAC: macA, DstMAC: macB, EthernetType: layers.EthernetTypeIPv4},
		&layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: layers.IPProtocolICMPv4, SrcIP: v4A, DstIP: v4B},
		&layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(8, 0)})
	frames := [][]byte{sa[0], sb[0], udp, sa[1], sc[0], sb[1], arp, sc[1], sa[2], icmp, sb[2]}
	var c Coalescer
	ws := c.Coalesce(frames)
	if !slices.Equal(merged(ws), []int{3, 3, 1, 2, 1, 1}) {
		t.Fatalf("writes carry %v frames, want [3 3 1 2 1 1]", merged(ws))
	}
	fw := flatten(t, ws)
	if !bytes.Equal(fw[0].d.payload, da) || !bytes.Equal(fw[1].d.payload, db) || !bytes.Equal(fw[3].d.payload, dc) {
		t.Fatal("a flow's payload differs")
	}
	for i, lone := range map[int][]byte{2: udp, 4: arp, 5: icmp} {
		if ws[i].Parts[0][1] != GSONone || !bytes.Equal(fw[i].frame, lone) {
			t.Fatalf("write %d is not the lone frame with a zero header", i)
		}
	}
}

// TestCoalesceRefuses: every segment the kernel's GRO would not merge is
// written alone, byte for byte.
func TestCoalesceRefuses(t *testing.T) {
	f := flow{srcPort: 1, dstPort: 2, ipID: 7}
	data := stream(2000)
	first := f.segment(t, 0, data[:1000], false)
	next := func(set func(*layers.TCP), id uint16) []byte {
		return f.tcpFrame(t, 1000, data[1000:], set, id)
	}
	corrupt := next(nil, 8)
	corrupt[len(corrupt)-1] ^= 1
	padded := append(next(nil, 8), 0, 0, 0, 0)
	tagged := next(nil, 8)
	tagged = slices.Concat(tagged[:12], []byte{0x81, 0, 0, 5}, tagged[12:])
	cases := map[string][]byte{
		"SYN":             next(func(tcp *layers.TCP) { tcp.SYN = true }, 8),
		"FIN":             next(func(tcp *layers.TCP) { tcp.FIN = true }, 8),
		"RST":             next(func(tcp *layers.TCP) { tcp.RST = true }, 8),
		"URG":             next(func(tcp *layers.TCP) { tcp.URG, tcp.Urgent = true, 1 }, 8),
		"CWR":             next(func(tcp *layers.TCP) { tcp.CWR = true }, 8),
		"ECE on one only": next(func(tcp *layers.TCP) { tcp.ECE = true }, 8),
		"no ACK":          next(func(tcp *layers.TCP) { tcp.ACK = false }, 8),
		"other ack":       next(func(tcp *layers.TCP) { tcp.Ack = 99 }, 8),
		"other window":    next(func(tcp *layers.TCP) { tcp.Window = 99 }, 8),
		"other options":   next(func(tcp *layers.TCP) { tcp.Options = timestamps[2:] }, 8),
		"other timestamp": next(func(tcp *layers.TCP) {
			tcp.Options = slices.Clone(timestamps)
			tcp.Options[2].OptionData = []byte{9, 9, 9, 9, 0, 0, 0, 0}
		}, 8),
		"gap":               next(func(tcp *layers.TCP) { tcp.Seq = 1001 }, 8),
		"same IPv4 id":      next(nil, 7),
		"IPv4 id skips":     next(nil, 9),
		"longer than first": f.tcpFrame(t, 1000, stream(1001), nil, 8),
		"pure ACK":          f.tcpFrame(t, 1000, nil, nil, 8),
		"bad checksum":      corrupt,
		"padded":            padded,
		"VLAN tagged":       tagged,
		"other port":        flow{srcPort: 1, dstPort: 3}.tcpFrame(t, 1000, data[1000:], nil, 8),
		"other MAC":         slices.Concat([]byte{2, 0, 0, 0, 0, 0xc}, next(nil, 8)[6:]),
	}
	var c Coalescer
	for name, second := range cases {
		ws := c.Coalesce([][]byte{first, second})
		if !slices.Equal(merged(ws), []int{1, 1}) {
			t.Errorf("%s: writes carry %v frames, want [1 1]", name, merged(ws))
			continue
		}
		for i, want := range [][]byte{first, second} {
			if b := bytes.Join(ws[i].Parts, nil); !bytes.Equal(b[HeaderLen:], want) || !bytes.Equal(b[:HeaderLen], make([]byte, HeaderLen)) {
				t.Errorf("%s: write %d is not the frame behind a zero header", name, i)
			}
		}
	}
	if ws := c.Coalesce([][]byte{first, next(nil, 8)}); !slices.Equal(merged(ws), []int{2}) {
		t.Fatalf("the unmodified pair: writes carry %v frames, want [2]", merged(ws))
	}
	// PSH ends a group, and a short segment too: nothing follows it.
	s := f.segments(t, 0, stream(4500), 1000)
	psh := f.tcpFrame(t, 1000, stream(2000)[1000:], func(tcp *layers.TCP) { tcp.PSH = true }, 8)
	if ws := c.Coalesce([][]byte{s[0], psh, s[2]}); !slices.Equal(merged(ws), []int{2, 1}) {
		t.Fatalf("PSH in the middle: %v", merged(ws))
	}
	short := flow{srcPort: 1, dstPort: 2, ipID: 8}.tcpFrame(t, 1000, stream(500), nil, 8)
	after := flow{srcPort: 1, dstPort: 2, ipID: 9}.tcpFrame(t, 1500, stream(500), nil, 9)
	if ws := c.Coalesce([][]byte{s[0], short, after}); !slices.Equal(merged(ws), []int{2, 1}) {
		t.Fatalf("short segment in the middle: %v", merged(ws))
	}
}

// TestCoalesceSizeLimit: a super-frame's IP length never passes 65535.
func TestCoalesceSizeLimit(t *testing.T) {
	for _, v6 := range []bool{false, true} {
		f := flow{v6: v6, srcPort: 1, dstPort: 2}
		data := stream(100 * 1400)
		ws := new(Coalescer).Coalesce(f.segments(t, 0, data, 1400))
		fw := flatten(t, ws)
		if len(ws) < 3 || !bytes.Equal(payloadStream(fw), data) {
			t.Fatalf("v6=%v: %d writes %v", v6, len(ws), merged(ws))
		}
		for i, w := range fw {
			if len(w.frame) > 65535+54 {
				t.Fatalf("v6=%v write %d: %d bytes", v6, i, len(w.frame))
			}
		}
	}
}
