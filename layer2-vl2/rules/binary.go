package rules

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"

	"github.com/ztgo/ztgo/layer1-vl1/wire"
)

// ErrMalformed is wrapped by every decoding failure. It is the same sentinel
// as wire.ErrMalformed, so one errors.Is check covers VL1 and VL2.
var ErrMalformed = wire.ErrMalformed

// AppendTable appends the binary form of rs (vl2.md §5.2): t | L | L value
// bytes per rule, as Capability::serializeRules writes it.
func AppendTable(b []byte, rs []Rule) []byte {
	for i := range rs {
		b = appendRule(b, &rs[i])
	}
	return b
}

// ParseTable decodes a whole blob of rules: a network config's R key or a
// capability's rules. A rule cut short is an error.
func ParseTable(b []byte) ([]Rule, error) {
	var rs []Rule
	for off := 0; off < len(b); {
		r, n, err := parseRule(b[off:])
		if err != nil {
			return nil, fmt.Errorf("%w: rule %d at offset %d: %w", ErrMalformed, len(rs), off, err)
		}
		rs = append(rs, r)
		off += n
	}
	return rs, nil
}

// ParseRules decodes exactly count rules from the start of b and returns
// them with the number of bytes they took (capabilities embed their rules
// after a u16 count, followed by more fields).
func ParseRules(b []byte, count int) ([]Rule, int, error) {
	if count < 0 {
		return nil, 0, fmt.Errorf("%w: negative rule count %d", ErrMalformed, count)
	}
	if count == 0 {
		return nil, 0, nil
	}
	// Every rule takes at least 2 bytes: do not trust count for the size.
	rs := make([]Rule, 0, min(count, len(b)/2))
	off := 0
	for len(rs) < count {
		r, n, err := parseRule(b[off:])
		if err != nil {
			return nil, 0, fmt.Errorf("%w: rule %d of %d at offset %d: %w", ErrMalformed, len(rs), count, off, err)
		}
		rs = append(rs, r)
		off += n
	}
	return rs, off, nil
}

var errShort = errors.New("truncated")

// parseRule decodes the rule at the start of b and returns its size.
func parseRule(b []byte) (Rule, int, error) {
	if len(b) < 2 {
		return Rule{}, 0, fmt.Errorf("%w: type and length need 2 bytes, have %d", errShort, len(b))
	}
	t, l := b[0], int(b[1])
	if len(b)-2 < l {
		return Rule{}, 0, fmt.Errorf("%w: type %d value needs %d bytes, have %d", errShort, t&typeMask, l, len(b)-2)
	}
	v := b[2 : 2+l : 2+l]
	r := Rule{Type: Type(t & typeMask), Not: t&typeNot != 0, Or: t&typeOr != 0}
	want := valueLen(r.Type)
	if want != l {
		// Unknown type, or a known one with a length the reference would not
		// write: keep the bytes and decode what is there. (The reference reads
		// a short value's missing bytes from the next rule; we read zeros.)
		if l > 0 || want >= 0 {
			r.Raw = append([]byte{}, v...)
		}
		if want <= 0 {
			return r, 2 + l, nil
		}
		padded := make([]byte, want)
		copy(padded, v)
		v = padded
	}
	if !decodeValue(&r, v) && r.Raw == nil {
		r.Raw = append([]byte{}, v...)
	}
	return r, 2 + l, nil
}

// decodeValue fills r's fields from a value of the standard length. It
// reports false when the fields cannot hold the value exactly, so the caller
// keeps the bytes.
func decodeValue(r *Rule, v []byte) bool {
	be := binary.BigEndian
	switch r.Type {
	case ActionTee, ActionWatch, ActionRedirect:
		r.Address = be.Uint64(v)
		r.Flags = be.Uint32(v[8:])
		r.Length = be.Uint16(v[12:])
	case MatchSourceZeroTierAddress, MatchDestZeroTierAddress:
		r.Address = uint64(v[0])<<32 | uint64(be.Uint32(v[1:]))
	case MatchVlanID, MatchEtherType:
		r.Value16 = be.Uint16(v)
	case MatchVlanPCP, MatchVlanDEI, MatchIPProtocol:
		r.Value8 = v[0]
	case MatchMACSource, MatchMACDest:
		r.MAC = uint64(be.Uint16(v))<<32 | uint64(be.Uint32(v[2:]))
	case MatchIPv4Source, MatchIPv4Dest:
		r.IP = netip.PrefixFrom(netip.AddrFrom4([4]byte(v[:4])), min(int(v[4]), 32))
		return v[4] <= 32
	case MatchIPv6Source, MatchIPv6Dest:
		r.IP = netip.PrefixFrom(netip.AddrFrom16([16]byte(v[:16])), min(int(v[16]), 128))
		return v[16] <= 128
	case MatchIPTOS:
		r.TOS = [3]uint8(v)
	case MatchICMP:
		r.ICMP = [3]uint8(v)
	case MatchIPSourcePortRange, MatchIPDestPortRange, MatchFrameSizeRange:
		r.Start = uint64(be.Uint16(v))
		r.End = uint64(be.Uint16(v[2:]))
	case MatchCharacteristics:
		r.Mask = be.Uint64(v)
	case MatchRandom:
		r.Probability = be.Uint32(v)
	case MatchTagsDifference, MatchTagsBitwiseAnd, MatchTagsBitwiseOr, MatchTagsBitwiseXor,
		MatchTagsEqual, MatchTagSender, MatchTagReceiver:
		r.TagID = be.Uint32(v)
		r.TagValue = be.Uint32(v[4:])
	case MatchIntegerRange:
		// The wire has the absolute end; the reference keeps end - start in
		// 32 bits.
		r.Start = be.Uint64(v)
		span := be.Uint64(v[8:]) - r.Start
		r.End = uint64(uint32(span))
		r.Idx = be.Uint16(v[16:])
		r.Format = v[18]
		return span <= 0xffffffff
	}
	return true
}

// appendRule appends one rule's t | L | value.
func appendRule(b []byte, r *Rule) []byte {
	b = append(b, r.typeByte())
	if r.Raw != nil || valueLen(r.Type&typeMask) < 0 {
		raw := r.Raw[:min(len(r.Raw), 255)]
		b = append(b, byte(len(raw)))
		return append(b, raw...)
	}
	be := binary.BigEndian
	switch r.Type & typeMask {
	case ActionTee, ActionWatch, ActionRedirect:
		b = append(b, 14)
		b = be.AppendUint64(b, r.Address)
		b = be.AppendUint32(b, r.Flags)
		return be.AppendUint16(b, r.Length) // unused by REDIRECT, written anyway
	case MatchSourceZeroTierAddress, MatchDestZeroTierAddress:
		a := r.Address
		return append(b, 5, byte(a>>32), byte(a>>24), byte(a>>16), byte(a>>8), byte(a))
	case MatchVlanID, MatchEtherType:
		return be.AppendUint16(append(b, 2), r.Value16)
	case MatchVlanPCP, MatchVlanDEI, MatchIPProtocol:
		return append(b, 1, r.Value8)
	case MatchMACSource, MatchMACDest:
		m := r.MAC
		return append(b, 6, byte(m>>40), byte(m>>32), byte(m>>24), byte(m>>16), byte(m>>8), byte(m))
	case MatchIPv4Source, MatchIPv4Dest:
		ip, bits := ruleIPv4(r)
		return append(append(b, 5), ip[0], ip[1], ip[2], ip[3], bits)
	case MatchIPv6Source, MatchIPv6Dest:
		ip, bits := ruleIPv6(r)
		b = append(append(b, 17), ip[:]...)
		return append(b, bits)
	case MatchIPTOS:
		return append(b, 3, r.TOS[0], r.TOS[1], r.TOS[2])
	case MatchICMP:
		return append(b, 3, r.ICMP[0], r.ICMP[1], r.ICMP[2])
	case MatchIPSourcePortRange, MatchIPDestPortRange, MatchFrameSizeRange:
		b = be.AppendUint16(append(b, 4), uint16(r.Start))
		return be.AppendUint16(b, uint16(r.End))
	case MatchCharacteristics:
		return be.AppendUint64(append(b, 8), r.Mask)
	case MatchRandom:
		return be.AppendUint32(append(b, 4), r.Probability)
	case MatchTagsDifference, MatchTagsBitwiseAnd, MatchTagsBitwiseOr, MatchTagsBitwiseXor,
		MatchTagsEqual, MatchTagSender, MatchTagReceiver:
		b = be.AppendUint32(append(b, 8), r.TagID)
		return be.AppendUint32(b, r.TagValue)
	case MatchIntegerRange:
		b = be.AppendUint64(append(b, 19), r.Start)
		b = be.AppendUint64(b, r.Start+uint64(uint32(r.End))) // absolute end on the wire
		b = be.AppendUint16(b, r.Idx)
		return append(b, r.Format)
	}
	// DROP, ACCEPT, BREAK and PRIORITY (whose bucket is not serialized).
	return append(b, 0)
}

// ruleIPv4 is an IPv4 rule's address bytes and mask bits; an invalid or
// IPv6 prefix gives 0.0.0.0/0 (the reference's value for an unparseable or
// wrong-family address).
func ruleIPv4(r *Rule) ([4]byte, byte) {
	if !r.IP.IsValid() {
		return [4]byte{}, 0
	}
	a := r.IP.Addr().Unmap()
	if !a.Is4() {
		return [4]byte{}, byte(min(r.IP.Bits(), 32))
	}
	return a.As4(), byte(min(r.IP.Bits(), 32))
}

// ruleIPv6 is an IPv6 rule's address bytes and mask bits; an IPv4 address is
// written IPv4-mapped.
func ruleIPv6(r *Rule) ([16]byte, byte) {
	if !r.IP.IsValid() {
		return [16]byte{}, 0
	}
	return r.IP.Addr().As16(), byte(r.IP.Bits())
}
