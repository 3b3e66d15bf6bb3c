package rules

import (
	"fmt"
	"net/netip"
)

// MaxJSONRules is how many rules the controller keeps from a posted rules
// array (ZT_CONTROLLER_MAX_ARRAY_SIZE).
const MaxJSONRules = 16384

// Numbers in rendered JSON are float64, as encoding/json decodes them, so a
// normalized rule compares equal to the same rule read back from a file.
// Every number the controller renders fits a float64 exactly (at most 32
// bits; 64-bit values are rendered as hex strings).

// FromJSON parses one controller rule object (controller.md §8.5) the way
// the controller's _parseRule does, lenient about field types. ok is false
// for what the controller drops: a missing or unknown type, ACTION_PRIORITY
// and INTEGER_RANGE (which it cannot parse), and a CHARACTERISTICS mask that
// is neither a number nor a string (which makes the reference throw).
func FromJSON(obj map[string]any) (Rule, bool) {
	r := Rule{
		Not: jsonBool(obj["not"], false),
		Or:  jsonBool(obj["or"], false),
	}
	u8 := func(k string) uint8 { return uint8(jsonInt(obj[k], 0)) }
	u16 := func(k string) uint16 { return uint16(jsonInt(obj[k], 0)) }
	u32 := func(k string) uint32 { return uint32(jsonInt(obj[k], 0)) }
	hex40 := func(k string) uint64 { return hexStrToU64(jsonString(obj[k], "0")) & addrMask }

	t, ok := jsonTypes[jsonString(obj["type"], "")]
	if !ok {
		return Rule{}, false
	}
	r.Type = t
	switch t {
	case ActionTee, ActionWatch:
		r.Address, r.Flags, r.Length = hex40("address"), u32("flags"), u16("length")
	case ActionRedirect:
		r.Address, r.Flags = hex40("address"), u32("flags")
	case MatchSourceZeroTierAddress, MatchDestZeroTierAddress:
		r.Address = hex40("zt")
	case MatchVlanID:
		r.Value16 = u16("vlanId")
	case MatchVlanPCP:
		r.Value8 = u8("vlanPcp")
	case MatchVlanDEI:
		r.Value8 = u8("vlanDei")
	case MatchMACSource, MatchMACDest:
		r.MAC = macFromString(jsonString(obj["mac"], "0"))
	case MatchIPv4Source, MatchIPv4Dest:
		fam, ip, port := inetFromString(jsonString(obj["ip"], "0.0.0.0"))
		if fam != inet4 { // the reference reads a wrong-family sockaddr as zeros
			ip = netip.IPv4Unspecified()
		}
		r.IP = netip.PrefixFrom(ip, min(int(port&0xff), 32))
	case MatchIPv6Source, MatchIPv6Dest:
		fam, ip, port := inetFromString(jsonString(obj["ip"], "::0"))
		if fam != inet6 {
			ip = netip.IPv6Unspecified()
		}
		r.IP = netip.PrefixFrom(ip, min(int(port&0xff), 128))
	case MatchIPTOS:
		r.TOS = [3]uint8{u8("mask"), u8("start"), u8("end")}
	case MatchIPProtocol:
		r.Value8 = u8("ipProtocol")
	case MatchEtherType:
		r.Value16 = u16("etherType")
	case MatchICMP:
		r.ICMP[0] = u8("icmpType")
		if code := obj["icmpCode"]; code != nil {
			r.ICMP[1], r.ICMP[2] = uint8(jsonInt(code, 0)), ICMPFlagMatchCode
		}
	case MatchIPSourcePortRange, MatchIPDestPortRange, MatchFrameSizeRange:
		r.Start = uint64(u16("start"))
		r.End = uint64(uint16(jsonInt(obj["end"], r.Start)))
	case MatchCharacteristics:
		if m, present := obj["mask"]; present {
			switch {
			case isNumber(m):
				r.Mask = jsonInt(m, 0)
			default:
				s, isString := m.(string)
				if !isString {
					return Rule{}, false
				}
				r.Mask = hexStrToU64(s)
			}
		}
	case MatchRandom:
		r.Probability = u32("probability")
	case MatchTagsDifference, MatchTagsBitwiseAnd, MatchTagsBitwiseOr, MatchTagsBitwiseXor,
		MatchTagsEqual, MatchTagSender, MatchTagReceiver:
		r.TagID, r.TagValue = u32("id"), u32("value")
	}
	return r, true
}

// jsonTypes are the type names the controller parses. ACTION_PRIORITY and
// INTEGER_RANGE are missing on purpose (controller.md §8.5).
var jsonTypes = func() map[string]Type {
	m := map[string]Type{}
	for t, name := range typeNames {
		if name != "" && Type(t) != ActionPriority && Type(t) != MatchIntegerRange {
			m[name] = Type(t)
		}
	}
	return m
}()

// JSON renders r as the controller's _renderRule does: "type" always,
// "not"/"or" only for MATCH types, "icmpCode" null when the code is not
// matched, no "length" for REDIRECT, a CHARACTERISTICS mask as a 16-digit
// hex string, addresses as 10 hex digits, "ip" as "a.b.c.d/bits" and MACs
// as xx:xx:xx:xx:xx:xx. INTEGER_RANGE is rendered (type "INTEGER_RANGE",
// hex start and absolute end) although FromJSON cannot read it back. Types
// the controller does not render (ACTION_PRIORITY, unknown types) give an
// empty object.
func (r Rule) JSON() map[string]any {
	t := r.Type & typeMask
	m := map[string]any{}
	num := func(v uint64) float64 { return float64(v) }
	switch t {
	case ActionDrop, ActionAccept, ActionBreak:
		m["type"] = typeNames[t]
		return m
	case ActionTee, ActionWatch:
		m["type"] = typeNames[t]
		m["address"] = fmt.Sprintf("%010x", r.Address&addrMask)
		m["flags"] = num(uint64(r.Flags))
		m["length"] = num(uint64(r.Length))
		return m
	case ActionRedirect:
		m["type"] = typeNames[t]
		m["address"] = fmt.Sprintf("%010x", r.Address&addrMask)
		m["flags"] = num(uint64(r.Flags))
		return m
	case MatchSourceZeroTierAddress, MatchDestZeroTierAddress:
		m["zt"] = fmt.Sprintf("%010x", r.Address&addrMask)
	case MatchVlanID:
		m["vlanId"] = num(uint64(r.Value16))
	case MatchVlanPCP:
		m["vlanPcp"] = num(uint64(r.Value8))
	case MatchVlanDEI:
		m["vlanDei"] = num(uint64(r.Value8))
	case MatchMACSource, MatchMACDest:
		m["mac"] = formatMAC(r.MAC)
	case MatchIPv4Source, MatchIPv4Dest:
		ip, bits := ruleIPv4(&r)
		m["ip"] = fmt.Sprintf("%s/%d", netip.AddrFrom4(ip), bits)
	case MatchIPv6Source, MatchIPv6Dest:
		ip, bits := ruleIPv6(&r)
		m["ip"] = fmt.Sprintf("%s/%d", formatIP(netip.AddrFrom16(ip)), bits)
	case MatchIPTOS:
		m["mask"] = num(uint64(r.TOS[0]))
		m["start"] = num(uint64(r.TOS[1]))
		m["end"] = num(uint64(r.TOS[2]))
	case MatchIPProtocol:
		m["ipProtocol"] = num(uint64(r.Value8))
	case MatchEtherType:
		m["etherType"] = num(uint64(r.Value16))
	case MatchICMP:
		m["icmpType"] = num(uint64(r.ICMP[0]))
		m["icmpCode"] = nil
		if r.ICMP[2]&ICMPFlagMatchCode != 0 {
			m["icmpCode"] = num(uint64(r.ICMP[1]))
		}
	case MatchIPSourcePortRange, MatchIPDestPortRange, MatchFrameSizeRange:
		m["start"] = num(uint64(uint16(r.Start)))
		m["end"] = num(uint64(uint16(r.End)))
	case MatchCharacteristics:
		m["mask"] = fmt.Sprintf("%016x", r.Mask)
	case MatchRandom:
		m["probability"] = num(uint64(r.Probability))
	case MatchTagsDifference, MatchTagsBitwiseAnd, MatchTagsBitwiseOr, MatchTagsBitwiseXor,
		MatchTagsEqual, MatchTagSender, MatchTagReceiver:
		m["id"] = num(uint64(r.TagID))
		m["value"] = num(uint64(r.TagValue))
	case MatchIntegerRange:
		m["type"] = "INTEGER_RANGE"
		m["start"] = fmt.Sprintf("%016x", r.Start)
		m["end"] = fmt.Sprintf("%016x", r.Start+uint64(uint32(r.End)))
		m["idx"] = num(uint64(r.Idx))
		m["little"] = r.Format&0x80 != 0
		m["bits"] = num(uint64(r.Format&63) + 1)
	default:
		return m // ACTION_PRIORITY, unknown actions and matches
	}
	if _, named := m["type"]; !named {
		m["type"] = typeNames[t]
	}
	m["not"] = r.Not
	m["or"] = r.Or
	return m
}

// NormalizeJSON parses and re-renders a JSON rules array as the controller
// stores a posted one: entries that are not objects or do not parse are
// dropped, and at most MaxJSONRules are kept.
func NormalizeJSON(rules []any) []any {
	out := make([]any, 0, min(len(rules), MaxJSONRules))
	for _, e := range rules {
		obj, ok := e.(map[string]any)
		if !ok {
			continue
		}
		if r, ok := FromJSON(obj); ok {
			out = append(out, r.JSON())
			if len(out) >= MaxJSONRules {
				break
			}
		}
	}
	return out
}

// formatMAC is xx:xx:xx:xx:xx:xx, lower case.
func formatMAC(m uint64) string {
	return fmt.Sprintf("%02x:%02x:%02x:%02x:%02x:%02x",
		byte(m>>40), byte(m>>32), byte(m>>24), byte(m>>16), byte(m>>8), byte(m))
}
