package offload

import (
	"bytes"
	"encoding/binary"
	"slices"
)

// maxHeadersLen bounds the headers of a coalesced frame: Ethernet, IPv4
// or IPv6 without options or extensions, TCP with the most options.
const maxHeadersLen = ethHeaderLen + 40 + 60

// Coalescer merges the frames of a batch bound for a TAP into as few
// writes as it can: consecutive, in-order TCP segments of one flow become
// one super-frame (GSO_TCPV4/GSO_TCPV6, the checksum left to the kernel
// as NEEDS_CSUM), which the kernel takes as one packet, as if a NIC had
// done GRO. Everything else is written alone behind a zero header. The
// zero value is ready; a Coalescer is not safe for concurrent use.
//
// What the kernel ends up with is what it would get from the frames one
// by one: only segments a receiver's GRO would merge are merged (same
// Ethernet and IP header fields, same ports, ACK, window and options,
// contiguous sequence numbers, IPv4 IDs counting up, payloads of one
// size but for the last, only ACK and PSH set, PSH only on the last), and
// each merged segment's checksum is checked first, since the kernel
// trusts a NEEDS_CSUM frame.
type Coalescer struct {
	segs    []tcpSegment
	groups  []group
	open    []int // groups still taking segments
	members []int // per frame: the next frame of its group, or -1
	writes  []Write
	parts   [][]byte
	headers []byte
}

// Write is one write to the TAP: the concatenation of Parts is a
// virtio_net_hdr and a frame. Frames is how many input frames it carries.
type Write struct {
	Parts  [][]byte
	Frames int
}

// tcpSegment is what the coalescer needs of a frame that carries TCP.
type tcpSegment struct {
	frame     []byte
	isTCP     bool // a TCP segment of IPv4 or IPv6 without options or extensions
	candidate bool // may be merged: payload, only ACK/PSH/ECE set, lengths consistent
	verified  int8 // 0 unknown, 1 checksums good, -1 bad
	v6        bool
	l4        int
	hdrLen    int
	payload   int
	seq       uint32
	flags     uint8
}

type group struct {
	first, last int
	frames      int
	payload     int // total payload bytes
}

// Coalesce groups frames, which it does not modify, into writes. The
// result, and the header bytes it points to, stay valid until the next
// call.
func (c *Coalescer) Coalesce(frames [][]byte) []Write {
	c.segs = c.segs[:0]
	c.groups = c.groups[:0]
	c.open = c.open[:0]
	c.members = c.members[:0]
	for i, f := range frames {
		c.segs = append(c.segs, parseTCPSegment(f))
		c.members = append(c.members, -1)
		c.place(i)
	}
	return c.build()
}

// place puts frame i into the open group of its flow, or a new group.
// Any TCP frame of a flow that cannot join its open group closes it, so
// no segment overtakes another of its flow.
func (c *Coalescer) place(i int) {
	s := &c.segs[i]
	if s.isTCP {
		for k, gi := range c.open {
			g := &c.groups[gi]
			if !sameFlow(&c.segs[g.first], s) {
				continue
			}
			if c.canAppend(g, i) {
				c.members[g.last] = i
				g.last = i
				g.frames++
				g.payload += s.payload
				if s.flags&tcpPSH != 0 || s.payload < c.segs[g.first].payload {
					c.open = slices.Delete(c.open, k, k+1)
				}
				return
			}
			c.open = slices.Delete(c.open, k, k+1)
			break
		}
	}
	c.groups = append(c.groups, group{first: i, last: i, frames: 1, payload: s.payload})
	if s.candidate && s.flags&tcpPSH == 0 {
		c.open = append(c.open, len(c.groups)-1)
	}
}

// canAppend reports whether segment i continues group g.
func (c *Coalescer) canAppend(g *group, i int) bool {
	s, first, last := &c.segs[i], &c.segs[g.first], &c.segs[g.last]
	if !s.candidate || s.v6 != first.v6 || s.hdrLen != first.hdrLen || s.payload > first.payload ||
		s.seq != last.seq+uint32(last.payload) || s.flags&^tcpPSH != first.flags {
		return false
	}
	limit := 0xffff - (first.hdrLen - ethHeaderLen) // IPv4 total length
	if first.v6 {
		limit = 0xffff - (first.hdrLen - first.l4) // IPv6 payload length
	}
	if g.payload+s.payload > limit {
		return false
	}
	a, b := first.frame, s.frame
	if !bytes.Equal(a[:ethHeaderLen], b[:ethHeaderLen]) {
		return false
	}
	l4 := first.l4
	if first.v6 {
		// version, class, flow label; next header, hop limit; addresses
		if !bytes.Equal(a[14:18], b[14:18]) || !bytes.Equal(a[20:54], b[20:54]) {
			return false
		}
	} else {
		// version, TOS; flags; TTL, protocol; addresses
		if !bytes.Equal(a[14:16], b[14:16]) || !bytes.Equal(a[20:24], b[20:24]) || !bytes.Equal(a[26:34], b[26:34]) {
			return false
		}
		if binary.BigEndian.Uint16(b[18:]) != binary.BigEndian.Uint16(last.frame[18:])+1 {
			return false
		}
	}
	// ack, data offset and reserved bits, window; urgent pointer and
	// options (ports were compared, the flags too, and the checksums
	// differ)
	if !bytes.Equal(a[l4+8:l4+13], b[l4+8:l4+13]) || !bytes.Equal(a[l4+14:l4+16], b[l4+14:l4+16]) ||
		!bytes.Equal(a[l4+18:first.hdrLen], b[l4+18:first.hdrLen]) {
		return false
	}
	return c.checksumOK(g.first) && c.checksumOK(i)
}

// checksumOK checks a segment's checksums once, and only when it is about
// to be merged.
func (c *Coalescer) checksumOK(i int) bool {
	s := &c.segs[i]
	if s.verified == 0 {
		s.verified = -1
		if segmentChecksumsOK(s) {
			s.verified = 1
		}
	}
	return s.verified == 1
}

func segmentChecksumsOK(s *tcpSegment) bool {
	f := s.frame
	var addrSum uint64
	if s.v6 {
		addrSum = pseudoHeaderSum(f[22:38], f[38:54], protoTCP)
	} else {
		if fold(sum(0, f[14:34])) != 0xffff {
			return false
		}
		addrSum = pseudoHeaderSum(f[26:30], f[30:34], protoTCP)
	}
	tcp := f[s.l4:]
	return fold(sum(addWord(addrSum, uint64(len(tcp))), tcp)) == 0xffff
}

// sameFlow reports whether two TCP segments belong to one connection and
// direction.
func sameFlow(a, b *tcpSegment) bool {
	if a.v6 != b.v6 {
		return false
	}
	fa, fb := a.frame, b.frame
	if !bytes.Equal(fa[a.l4:a.l4+4], fb[b.l4:b.l4+4]) {
		return false
	}
	if a.v6 {
		return bytes.Equal(fa[22:54], fb[22:54])
	}
	return bytes.Equal(fa[26:34], fb[26:34])
}

// parseTCPSegment reads a frame's headers; anything that is not an
// untagged IPv4 (no options, not a fragment) or IPv6 (no extension
// headers) TCP segment is not TCP to the coalescer.
func parseTCPSegment(f []byte) tcpSegment {
	s := tcpSegment{frame: f}
	if len(f) < ethHeaderLen+20 {
		return s
	}
	var ipLen int
	switch binary.BigEndian.Uint16(f[12:]) {
	case etherTypeIPv4:
		if f[14] != 0x45 || f[23] != protoTCP || binary.BigEndian.Uint16(f[20:])&0x3fff != 0 {
			return s
		}
		s.l4 = ethHeaderLen + 20
		ipLen = int(binary.BigEndian.Uint16(f[16:]))
	case etherTypeIPv6:
		if len(f) < ethHeaderLen+40 || f[14]>>4 != 6 || f[20] != protoTCP {
			return s
		}
		s.v6 = true
		s.l4 = ethHeaderLen + 40
		ipLen = 40 + int(binary.BigEndian.Uint16(f[18:]))
	default:
		return s
	}
	if len(f) < s.l4+20 {
		return s
	}
	s.isTCP = true
	s.hdrLen = s.l4 + int(f[s.l4+12]>>4)*4
	s.seq = binary.BigEndian.Uint32(f[s.l4+4:])
	s.flags = f[s.l4+13]
	s.payload = len(f) - s.hdrLen
	// Frames padded past the IP length, or cut short of it, are left to
	// the kernel.
	s.candidate = s.hdrLen >= s.l4+20 && s.payload > 0 && ipLen == len(f)-ethHeaderLen &&
		s.flags&tcpACK != 0 && s.flags&(tcpFIN|tcpSYN|tcpRST|tcpURG|tcpCWR) == 0
	if !s.candidate {
		s.payload = 0
	}
	return s
}

// build turns the groups into writes.
func (c *Coalescer) build() []Write {
	merged := 0
	for _, g := range c.groups {
		if g.frames > 1 {
			merged++
		}
	}
	c.headers = slices.Grow(c.headers[:0], HeaderLen+merged*(HeaderLen+maxHeadersLen))
	c.headers = c.headers[:HeaderLen]
	clear(c.headers) // the zero header every lone frame shares
	zero := c.headers[:HeaderLen:HeaderLen]
	c.parts = slices.Grow(c.parts[:0], len(c.segs)+len(c.groups))
	c.writes = c.writes[:0]
	for _, g := range c.groups {
		start := len(c.parts)
		if g.frames == 1 {
			c.parts = append(c.parts, zero, c.segs[g.first].frame)
		} else {
			c.parts = append(c.parts, c.superHeader(g))
			for i := g.first; i >= 0; i = c.members[i] {
				s := &c.segs[i]
				c.parts = append(c.parts, s.frame[s.hdrLen:])
			}
		}
		c.writes = append(c.writes, Write{Parts: c.parts[start:len(c.parts):len(c.parts)], Frames: g.frames})
	}
	return c.writes
}

// superHeader writes the virtio_net_hdr and the headers of a merged
// group into c.headers, whose capacity build reserved, and returns them.
func (c *Coalescer) superHeader(g group) []byte {
	first, last := &c.segs[g.first], &c.segs[g.last]
	start := len(c.headers)
	c.headers = c.headers[:start+HeaderLen+first.hdrLen]
	out := c.headers[start:len(c.headers):len(c.headers)]
	gsoType := uint8(GSOTCPv4)
	if first.v6 {
		gsoType = GSOTCPv6
	}
	Header{
		Flags:      FlagNeedsCsum,
		GSOType:    gsoType,
		HdrLen:     uint16(first.hdrLen),
		GSOSize:    uint16(first.payload),
		CsumStart:  uint16(first.l4),
		CsumOffset: 16,
	}.Encode(out)
	h := out[HeaderLen:]
	copy(h, first.frame[:first.hdrLen])
	tcpLen := first.hdrLen - first.l4 + g.payload
	var addrSum uint64
	if first.v6 {
		binary.BigEndian.PutUint16(h[18:], uint16(tcpLen))
		addrSum = pseudoHeaderSum(h[22:38], h[38:54], protoTCP)
	} else {
		binary.BigEndian.PutUint16(h[16:], uint16(20+tcpLen))
		ipv4HeaderChecksum(h[14:34])
		addrSum = pseudoHeaderSum(h[26:30], h[30:34], protoTCP)
	}
	h[first.l4+13] |= last.flags & tcpPSH
	// NEEDS_CSUM: the field holds the pseudo-header sum, not inverted.
	binary.BigEndian.PutUint16(h[first.l4+16:], fold(addWord(addrSum, uint64(tcpLen))))
	return out
}
