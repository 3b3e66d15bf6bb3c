package offload

import "encoding/binary"

// Ethernet, IP and TCP/UDP constants the segmenter and coalescer use.
const (
	ethHeaderLen  = 14
	etherTypeIPv4 = 0x0800
	etherTypeIPv6 = 0x86dd
	etherTypeVLAN = 0x8100
	etherTypeQinQ = 0x88a8
	protoTCP      = 6
	protoUDP      = 17

	tcpFIN = 0x01
	tcpSYN = 0x02
	tcpRST = 0x04
	tcpPSH = 0x08
	tcpACK = 0x10
	tcpURG = 0x20
	tcpECE = 0x40
	tcpCWR = 0x80
)

// maxGSOHeaderLen bounds the headers copied into every segment: Ethernet
// with two VLAN tags, IPv4 or IPv6 with some extension headers, TCP with
// all its options fit; more is no frame a kernel sends.
const maxGSOHeaderLen = 256

// Segmenter cuts one frame the kernel handed over into the frames that go
// on the wire. A TSO/USO super-frame becomes frames of at most MTU+14
// bytes, each with its own IP length, IPv4 ID, TCP sequence number and
// flags, and checksums. A frame without GSO comes out as it is, its
// checksum completed if the kernel left that to the device. The zero
// value is ready for Reset.
type Segmenter struct {
	frame     []byte // the frame being cut; the caller keeps it intact until Pending is false
	l3, l4    int    // offsets of the IP and transport headers
	hdrLen    int    // bytes of headers copied into every segment
	proto     uint8
	v6        bool
	gso       bool
	segSize   int    // payload bytes per segment
	next      int    // offset in frame of the next segment's payload
	index     int    // segments produced so far
	seq       uint32 // TCP sequence number of the first payload byte
	ipID      uint16
	addrSum   uint64 // pseudo-header sum without the length
	pendingIn bool
}

// Reset makes frame, read from a TAP after the virtio_net_hdr h, the one
// to cut into frames whose IP packets are at most mtu bytes. It returns
// an error, and nothing is pending, when the frame cannot be cut: the
// caller drops it.
func (s *Segmenter) Reset(frame []byte, h Header, mtu int) error {
	*s = Segmenter{}
	if len(frame) < ethHeaderLen {
		return ErrMalformed
	}
	if h.GSOType == GSONone {
		if h.Flags&FlagNeedsCsum != 0 {
			if err := completeChecksum(frame, int(h.CsumStart), int(h.CsumOffset)); err != nil {
				return err
			}
		}
		s.frame, s.pendingIn = frame, true
		return nil
	}
	if err := s.parseGSO(frame, h, mtu); err != nil {
		*s = Segmenter{}
		return err
	}
	s.frame, s.pendingIn, s.gso = frame, true, true
	return nil
}

// completeChecksum does what a NIC does for a frame marked NEEDS_CSUM:
// the checksum field already holds the pseudo-header sum, so the ones'
// complement of the sum from start to the end of the frame goes there.
// Like the kernel's skb_checksum_help, a result of 0 is sent as 0xffff
// (UDP reserves 0 for "no checksum"; for TCP the two are equal).
func completeChecksum(frame []byte, start, offset int) error {
	at := start + offset
	if start < ethHeaderLen || at+2 > len(frame) {
		return ErrMalformed
	}
	c := ^fold(sum(0, frame[start:]))
	if c == 0 {
		c = 0xffff
	}
	binary.BigEndian.PutUint16(frame[at:], c)
	return nil
}

// parseGSO finds the headers of a super-frame without trusting the
// kernel's hdr_len, which can span part of the payload.
func (s *Segmenter) parseGSO(frame []byte, h Header, mtu int) error {
	if h.GSOSize == 0 {
		return ErrMalformed
	}
	var wantV6 bool
	switch h.GSOType &^ GSOECN {
	case GSOTCPv4:
		s.proto = protoTCP
	case GSOTCPv6:
		s.proto, wantV6 = protoTCP, true
	case GSOUDPL4:
		s.proto = protoUDP
	default:
		return ErrUnsupported
	}
	l3, etherType, ok := skipVLANs(frame)
	if !ok {
		return ErrMalformed
	}
	s.l3 = l3
	switch etherType {
	case etherTypeIPv4:
		if wantV6 || len(frame) < l3+20 || frame[l3]>>4 != 4 {
			return ErrMalformed
		}
		ihl := int(frame[l3]&0x0f) * 4
		if ihl < 20 || frame[l3+9] != s.proto || binary.BigEndian.Uint16(frame[l3+6:])&0x3fff != 0 {
			return ErrMalformed // fragments cannot be segmented
		}
		s.l4 = l3 + ihl
		s.ipID = binary.BigEndian.Uint16(frame[l3+4:])
		s.addrSum = pseudoHeaderSum(frame[l3+12:l3+16], frame[l3+16:l3+20], s.proto)
	case etherTypeIPv6:
		if (h.GSOType&^GSOECN == GSOTCPv4) || len(frame) < l3+40 || frame[l3]>>4 != 6 {
			return ErrMalformed
		}
		s.v6 = true
		s.l4 = l3 + 40
		// Extension headers are copied as they are; only the kernel's
		// csum_start says where they end.
		if h.Flags&FlagNeedsCsum != 0 && int(h.CsumStart) > s.l4 {
			s.l4 = int(h.CsumStart)
		} else if frame[l3+6] != s.proto {
			return ErrMalformed
		}
		s.addrSum = pseudoHeaderSum(frame[l3+8:l3+24], frame[l3+24:l3+40], s.proto)
	default:
		return ErrMalformed
	}
	if h.Flags&FlagNeedsCsum != 0 && int(h.CsumStart) != s.l4 {
		return ErrMalformed
	}
	if s.proto == protoTCP {
		if len(frame) < s.l4+20 {
			return ErrMalformed
		}
		doff := int(frame[s.l4+12]>>4) * 4
		if doff < 20 || (h.Flags&FlagNeedsCsum != 0 && h.CsumOffset != 16) {
			return ErrMalformed
		}
		s.hdrLen = s.l4 + doff
		s.seq = binary.BigEndian.Uint32(frame[s.l4+4:])
	} else {
		if h.Flags&FlagNeedsCsum != 0 && h.CsumOffset != 6 {
			return ErrMalformed
		}
		s.hdrLen = s.l4 + 8
	}
	if s.hdrLen > len(frame) || s.hdrLen > maxGSOHeaderLen {
		return ErrMalformed
	}
	room := mtu + ethHeaderLen - s.hdrLen
	s.segSize = int(h.GSOSize)
	if s.segSize > room {
		// TCP may send smaller segments than its MSS; UDP datagrams
		// cannot be cut differently from how the application sent them.
		if s.proto == protoUDP && len(frame) > s.hdrLen+room {
			return ErrTooLarge
		}
		s.segSize = room
	}
	if s.segSize <= 0 {
		return ErrTooLarge
	}
	s.next = s.hdrLen
	return nil
}

// skipVLANs returns where the IP header starts, past up to two VLAN tags,
// and its EtherType.
func skipVLANs(frame []byte) (int, uint16, bool) {
	off := ethHeaderLen
	et := binary.BigEndian.Uint16(frame[12:])
	for tags := 0; et == etherTypeVLAN || et == etherTypeQinQ; tags++ {
		if tags == 2 || len(frame) < off+4 {
			return 0, 0, false
		}
		et = binary.BigEndian.Uint16(frame[off+2:])
		off += 4
	}
	return off, et, true
}

// Pending reports whether Next has more frames to give.
func (s *Segmenter) Pending() bool { return s.pendingIn }

// NextLen is the length of the frame Next gives next.
func (s *Segmenter) NextLen() int {
	if !s.pendingIn {
		return 0
	}
	if !s.gso {
		return len(s.frame)
	}
	return s.hdrLen + min(s.segSize, len(s.frame)-s.next)
}

// Next writes the next frame into out and returns its length. With
// ErrShortBuffer the frame stays pending; Skip drops it.
func (s *Segmenter) Next(out []byte) (int, error) {
	n := s.NextLen()
	if n == 0 {
		return 0, nil
	}
	if len(out) < n {
		return 0, ErrShortBuffer
	}
	if !s.gso {
		copy(out, s.frame)
		s.Skip()
		return n, nil
	}
	payload := n - s.hdrLen
	last := s.next+payload == len(s.frame)
	copy(out, s.frame[:s.hdrLen])
	copy(out[s.hdrLen:n], s.frame[s.next:s.next+payload])
	seg := out[:n]
	if s.v6 {
		binary.BigEndian.PutUint16(seg[s.l3+4:], uint16(n-s.l3-40))
	} else {
		binary.BigEndian.PutUint16(seg[s.l3+2:], uint16(n-s.l3))
		binary.BigEndian.PutUint16(seg[s.l3+4:], s.ipID+uint16(s.index))
		ipv4HeaderChecksum(seg[s.l3:s.l4])
	}
	l4 := seg[s.l4:]
	var csumAt int
	if s.proto == protoTCP {
		binary.BigEndian.PutUint32(l4[4:], s.seq+uint32(s.next-s.hdrLen))
		// As the kernel's tcp_gso_segment: CWR only on the first segment,
		// FIN and PSH only on the last.
		if s.index > 0 {
			l4[13] &^= tcpCWR
		}
		if !last {
			l4[13] &^= tcpFIN | tcpPSH
		}
		csumAt = 16
	} else {
		binary.BigEndian.PutUint16(l4[4:], uint16(len(l4)))
		csumAt = 6
	}
	l4[csumAt], l4[csumAt+1] = 0, 0
	c := ^fold(sum(addWord(s.addrSum, uint64(len(l4))), l4))
	if c == 0 && s.proto == protoUDP {
		c = 0xffff
	}
	binary.BigEndian.PutUint16(l4[csumAt:], c)
	s.next += payload
	s.index++
	if last {
		s.pendingIn = false
	}
	return n, nil
}

// Skip drops the next frame.
func (s *Segmenter) Skip() {
	if !s.gso {
		s.pendingIn = false
		return
	}
	s.next += min(s.segSize, len(s.frame)-s.next)
	s.index++
	if s.next >= len(s.frame) {
		s.pendingIn = false
	}
}

// Segment cuts frame (see Segmenter.Reset) into out[i][offset:], setting
// sizes[i], and returns how many frames it wrote. If out has too few
// buffers it returns ErrShortBuffer with the frames that fitted.
func Segment(frame []byte, h Header, mtu int, out [][]byte, sizes []int, offset int) (int, error) {
	var s Segmenter
	if err := s.Reset(frame, h, mtu); err != nil {
		return 0, err
	}
	n := 0
	for ; s.Pending(); n++ {
		if n == len(out) {
			return n, ErrShortBuffer
		}
		k, err := s.Next(out[n][offset:])
		if err != nil {
			return n, err
		}
		sizes[n] = k
	}
	return n, nil
}
