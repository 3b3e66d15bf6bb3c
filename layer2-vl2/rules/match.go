package rules

import "encoding/binary"

// outcome is a MATCH's raw result before its NOT bit is applied. hardNo and
// hardYes survive the NOT unchanged: hardNo means "this rule does not apply
// to this packet" (wrong ethertype, too short), so a NOT-ed rule fails too.
type outcome uint8

const (
	no outcome = iota
	yes
	hardNo
	hardYes
)

func is(b bool) outcome {
	if b {
		return yes
	}
	return no
}

// apply is the rule's result once its NOT bit is applied.
func (o outcome) apply(not bool) bool {
	switch o {
	case hardYes:
		return true
	case hardNo:
		return false
	case yes:
		return !not
	}
	return not
}

const (
	etherTypeIPv4 = 0x0800
	etherTypeARP  = 0x0806
	etherTypeIPv6 = 0x86dd

	macMask      = 0xffffffffffff
	macGroupBit  = 0x010000000000
	macBroadcast = 0xffffffffffff
)

// match evaluates one MATCH rule (vl2.md §5.5).
func (e *evaluation) match(r *Rule, t Type) outcome {
	p := e.p
	f := p.Frame
	switch t {
	case MatchSourceZeroTierAddress:
		return is(r.Address == p.ZTSource&addrMask)
	case MatchDestZeroTierAddress:
		return is(r.Address == p.ZTDest&addrMask)
	case MatchVlanID:
		return is(r.Value16 == p.VlanID)
	case MatchVlanPCP, MatchVlanDEI:
		return is(r.Value8 == 0) // not implemented by the reference
	case MatchMACSource:
		return is(r.MAC&macMask == p.SrcMAC&macMask)
	case MatchMACDest:
		return is(r.MAC&macMask == p.DstMAC&macMask)
	case MatchIPv4Source, MatchIPv4Dest:
		if !e.isIPv4() {
			return hardNo
		}
		off := 12
		if t == MatchIPv4Dest {
			off = 16
		}
		return is(ipv4Contains(r, binary.BigEndian.Uint32(f[off:])))
	case MatchIPv6Source, MatchIPv6Dest:
		if !e.isIPv6() {
			return hardNo
		}
		off := 8
		if t == MatchIPv6Dest {
			off = 24
		}
		return is(ipv6Contains(r, f[off:off+16]))
	case MatchIPTOS:
		var v uint8
		switch {
		case e.isIPv4():
			v = f[1]
		case e.isIPv6():
			v = f[0]<<4 | f[1]>>4
		default:
			return hardNo
		}
		v &= r.TOS[0]
		return is(v >= r.TOS[1] && v <= r.TOS[2])
	case MatchIPProtocol:
		if e.isIPv4() {
			return is(f[9] == r.Value8)
		}
		if p.EtherType == etherTypeIPv6 {
			if _, proto, ok := ipv6Payload(f); ok {
				return is(proto == r.Value8)
			}
		}
		return hardNo
	case MatchEtherType:
		return is(r.Value16 == p.EtherType)
	case MatchICMP:
		return e.icmp(r)
	case MatchIPSourcePortRange, MatchIPDestPortRange:
		return e.portRange(r, t == MatchIPDestPortRange)
	case MatchCharacteristics:
		return is(e.characteristics()&r.Mask != 0)
	case MatchFrameSizeRange:
		n := uint64(len(f))
		return is(n >= uint64(uint16(r.Start)) && n <= uint64(uint16(r.End)))
	case MatchRandom:
		return is(e.env.Random() <= r.Probability)
	case MatchTagsDifference, MatchTagsBitwiseAnd, MatchTagsBitwiseOr, MatchTagsBitwiseXor, MatchTagsEqual:
		return e.tags(r, t)
	case MatchTagSender, MatchTagReceiver:
		return e.tagSenderReceiver(r, t)
	case MatchIntegerRange:
		return is(integerRange(r, f))
	}
	return is(e.env.ConfigFlags()&ConfigFlagUnsupportedMatchResult != 0)
}

func (e *evaluation) isIPv4() bool {
	return e.p.EtherType == etherTypeIPv4 && len(e.p.Frame) >= 20
}

func (e *evaluation) isIPv6() bool {
	return e.p.EtherType == etherTypeIPv6 && len(e.p.Frame) >= 40
}

// ipv4Contains is InetAddress::containsAddress for the rule's prefix: the
// top mask bits equal, /0 matching everything.
func ipv4Contains(r *Rule, pkt uint32) bool {
	ip, bits := ruleIPv4(r)
	if bits == 0 {
		return true
	}
	shift := 32 - uint(bits)
	return pkt>>shift == binary.BigEndian.Uint32(ip[:])>>shift
}

// ipv6Contains compares (packet & netmask) with the rule's address byte for
// byte, so a rule address with host bits set never matches.
func ipv6Contains(r *Rule, pkt []byte) bool {
	ip, bits := ruleIPv6(r)
	left := int(min(bits, 128))
	for i := range 16 {
		var nm byte
		switch {
		case left >= 8:
			nm = 0xff
		case left > 0:
			nm = 0xff << (8 - left)
		}
		left = max(left-8, 0)
		if pkt[i]&nm != ip[i] {
			return false
		}
	}
	return true
}

// ipv6Payload walks IPv6 extension headers (_ipv6GetPayload): hop-by-hop,
// routing, destination options and mobility are skipped; anything else is
// the upper layer, at pos. Running past the frame is a failure.
func ipv6Payload(f []byte) (pos int, proto uint8, ok bool) {
	if len(f) < 40 {
		return 0, 0, false
	}
	pos, proto = 40, f[6]
	for pos <= len(f) {
		switch proto {
		case 0, 43, 60, 135:
			if pos+8 > len(f) {
				return 0, 0, false
			}
			proto = f[pos]
			pos += int(f[pos+1])*8 + 8
		default:
			return pos, proto, true
		}
	}
	return 0, 0, false
}

// ipv4HeaderLen is IHL in bytes.
func ipv4HeaderLen(f []byte) int { return int(f[0]&0x0f) * 4 }

// icmp matches ICMP (IPv4 protocol 1) or ICMPv6 (upper layer 58) type and,
// with flag 0x01, code. A different type is hardNo; an equal type without a
// code to check is hardYes.
func (e *evaluation) icmp(r *Rule) outcome {
	f := e.p.Frame
	pos := -1
	switch {
	case e.isIPv4():
		if f[9] == 1 {
			if hl := ipv4HeaderLen(f); len(f) >= hl+2 {
				pos = hl
			}
		}
	case e.p.EtherType == etherTypeIPv6:
		if at, proto, ok := ipv6Payload(f); ok && proto == 0x3a && len(f) >= at+2 {
			pos = at
		}
	}
	if pos < 0 || f[pos] != r.ICMP[0] {
		return hardNo
	}
	if r.ICMP[2]&ICMPFlagMatchCode != 0 {
		return is(f[pos+1] == r.ICMP[1])
	}
	return hardYes
}

// portProtocol reports whether an IP protocol starts with 16-bit source and
// destination ports: TCP, UDP, SCTP, UDP-Lite.
func portProtocol(proto uint8) bool {
	return proto == 6 || proto == 17 || proto == 132 || proto == 136
}

// portRange matches the source or destination port. IPv4 without a port
// is a plain no (so a NOT-ed rule matches); IPv6 never matches port 0.
func (e *evaluation) portRange(r *Rule, dest bool) outcome {
	f := e.p.Frame
	at := 0
	if dest {
		at = 2
	}
	lo, hi := int(uint16(r.Start)), int(uint16(r.End))
	switch {
	case e.isIPv4():
		hl := ipv4HeaderLen(f)
		if !portProtocol(f[9]) || len(f) <= hl+4 {
			return no
		}
		port := int(binary.BigEndian.Uint16(f[hl+at:]))
		return is(port >= lo && port <= hi)
	case e.p.EtherType == etherTypeIPv6:
		pos, proto, ok := ipv6Payload(f)
		if !ok {
			return hardNo
		}
		if !portProtocol(proto) || len(f) <= pos+4 {
			return no
		}
		port := int(binary.BigEndian.Uint16(f[pos+at:]))
		return is(port > 0 && port >= lo && port <= hi)
	}
	return hardNo
}

// integerRange reads an integer of (format&63)+1 bits at idx, big-endian
// (from idx + 8 − bytes, as the reference does) or little-endian (format bit
// 0x80), 0 when out of the frame, and checks start ≤ v ≤ start + end.
func integerRange(r *Rule, f []byte) bool {
	bits := uint(r.Format&63) + 1
	n := int(bits+7) / 8
	var v uint64
	if r.Format&0x80 == 0 {
		idx := int(r.Idx) + 8 - n
		if idx+n <= len(f) {
			for _, b := range f[idx : idx+n] {
				v = v<<8 | uint64(b)
			}
		}
		v &= ^uint64(0) >> (64 - bits)
	} else {
		idx := int(r.Idx)
		if idx+n <= len(f) {
			for _, b := range f[idx : idx+n] {
				v = v>>8 | uint64(b)<<56
			}
		}
		v >>= 64 - bits
	}
	return v >= r.Start && v <= r.Start+uint64(uint32(r.End))
}
