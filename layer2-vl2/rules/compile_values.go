package rules

import (
	"math"
	"net/netip"
	"strconv"
	"strings"
)

// Symbolic values of the rules language.
var (
	etherTypes = map[string]uint64{
		"ipv4": 0x0800, "arp": 0x0806, "wol": 0x0842, "rarp": 0x8035, "ipv6": 0x86dd,
		"atalk": 0x809b, "aarp": 0x80f3, "ipx_a": 0x8137, "ipx_b": 0x8138,
	}
	ipProtocols = map[string]uint64{
		"icmp": 1, "icmp4": 1, "icmpv4": 1, "igmp": 2, "ipip": 4, "tcp": 6, "egp": 8, "igp": 9,
		"udp": 17, "rdp": 27, "esp": 50, "ah": 51, "icmp6": 58, "icmpv6": 58, "l2tp": 115,
		"sctp": 132, "udplite": 136,
	}
	// charBits are characteristics bit numbers (0 = least significant);
	// tcp_rs2 and tcp_rs_2 are both accepted.
	charBits = map[string]uint{
		"inbound": 63, "multicast": 62, "broadcast": 61, "ipauth": 60, "macauth": 59,
		"tcp_fin": 0, "tcp_syn": 1, "tcp_rst": 2, "tcp_psh": 3, "tcp_ack": 4, "tcp_urg": 5,
		"tcp_ece": 6, "tcp_cwr": 7, "tcp_ns": 8,
		"tcp_rs2": 9, "tcp_rs1": 10, "tcp_rs0": 11, "tcp_rs_2": 9, "tcp_rs_1": 10, "tcp_rs_0": 11,
	}
	tagMatches = map[string]Type{
		"tdiff": MatchTagsDifference, "tand": MatchTagsBitwiseAnd, "tor": MatchTagsBitwiseOr,
		"txor": MatchTagsBitwiseXor, "teq": MatchTagsEqual,
		"tseq": MatchTagSender, "tsender": MatchTagSender, "treq": MatchTagReceiver, "treceiver": MatchTagReceiver,
	}
)

// parseNum reads a decimal or 0x-prefixed hexadecimal number.
func parseNum(s string) (uint64, bool) {
	s = strings.ToLower(s)
	base := 10
	if len(s) > 2 && strings.HasPrefix(s, "0x") {
		s, base = s[2:], 16
	}
	if s == "" || s[0] == '+' || s[0] == '-' {
		return 0, false
	}
	v, err := strconv.ParseUint(s, base, 64)
	return v, err == nil
}

// parseRange reads "n" or "lo-hi" with both ends at most max.
func parseRange(t token, what string, max uint64) (lo, hi uint64, err error) {
	a, b, isRange := strings.Cut(t.s, "-")
	lo, ok1 := parseNum(a)
	hi, ok2 := lo, true
	if isRange {
		hi, ok2 = parseNum(b)
	}
	if !ok1 || !ok2 || lo > max || hi > max || hi < lo {
		return 0, 0, errAt(t, "invalid %s %q (a number or range lo-hi, up to %d)", what, t.s, max)
	}
	return lo, hi, nil
}

// num reads a number of at most max, or one of the symbolic names.
func num(t token, what string, max uint64, names map[string]uint64) (uint64, error) {
	if v, ok := names[strings.ToLower(t.s)]; ok {
		return v, nil
	}
	v, ok := parseNum(t.s)
	if !ok || v > max {
		return 0, errAt(t, "invalid %s %q", what, t.s)
	}
	return v, nil
}

// ztAddress reads 10 hex digits.
func ztAddress(t token) (uint64, error) {
	v, err := strconv.ParseUint(t.s, 16, 64)
	if len(t.s) != 10 || err != nil {
		return 0, errAt(t, "invalid ZeroTier address %q (10 hex digits)", t.s)
	}
	return v, nil
}

// macAddress reads 12 hex digits, separators ':', '-' and '.' ignored.
func macAddress(t token) (uint64, error) {
	s := strings.NewReplacer(":", "", "-", "", ".", "").Replace(t.s)
	v, err := strconv.ParseUint(s, 16, 64)
	if len(s) != 12 || err != nil {
		return 0, errAt(t, "invalid MAC address %q", t.s)
	}
	return v, nil
}

// ipPrefix reads "address/bits", keeping host bits as written.
func ipPrefix(t token) (netip.Prefix, error) {
	a, b, ok := strings.Cut(t.s, "/")
	if !ok {
		return netip.Prefix{}, errAt(t, "IP %q needs a /bits netmask length", t.s)
	}
	ip, err := netip.ParseAddr(a)
	if err != nil || ip.Zone() != "" {
		return netip.Prefix{}, errAt(t, "invalid IP address %q", a)
	}
	bits, ok := parseNum(b)
	if !ok || bits > uint64(ip.BitLen()) {
		return netip.Prefix{}, errAt(t, "invalid netmask length %q in %q", b, t.s)
	}
	return netip.PrefixFrom(ip, int(bits)), nil
}

// matchRule builds the rule for one match from its resolved arguments.
func matchRule(m matchTerm, args []token, tags map[string]*tagDef) (Rule, error) {
	r := Rule{Not: m.not, Or: m.or}
	var err error
	var v uint64
	switch m.name {
	case "ztsrc", "ztdest":
		r.Type = MatchSourceZeroTierAddress
		if m.name == "ztdest" {
			r.Type = MatchDestZeroTierAddress
		}
		r.Address, err = ztAddress(args[0])
	case "vlan":
		r.Type = MatchVlanID
		v, err = num(args[0], "VLAN ID", 0xffff, nil)
		r.Value16 = uint16(v)
	case "vlanpcp", "vlandei":
		r.Type = MatchVlanPCP
		if m.name == "vlandei" {
			r.Type = MatchVlanDEI
		}
		v, err = num(args[0], m.name+" value", 0xff, nil)
		r.Value8 = uint8(v)
	case "ethertype":
		r.Type = MatchEtherType
		v, err = num(args[0], "ethertype", 0xffff, etherTypes)
		r.Value16 = uint16(v)
	case "ipprotocol":
		r.Type = MatchIPProtocol
		v, err = num(args[0], "IP protocol", 0xff, ipProtocols)
		r.Value8 = uint8(v)
	case "macsrc", "macdest":
		r.Type = MatchMACSource
		if m.name == "macdest" {
			r.Type = MatchMACDest
		}
		r.MAC, err = macAddress(args[0])
	case "ipsrc", "ipdest":
		r.IP, err = ipPrefix(args[0])
		v4 := r.IP.Addr().Is4()
		switch {
		case m.name == "ipsrc" && v4:
			r.Type = MatchIPv4Source
		case m.name == "ipsrc":
			r.Type = MatchIPv6Source
		case v4:
			r.Type = MatchIPv4Dest
		default:
			r.Type = MatchIPv6Dest
		}
	case "iptos":
		r.Type = MatchIPTOS
		if v, err = num(args[0], "TOS mask", 0xff, nil); err == nil {
			var lo, hi uint64
			lo, hi, err = parseRange(args[1], "TOS value", 0xff)
			r.TOS = [3]uint8{uint8(v), uint8(lo), uint8(hi)}
		}
	case "icmp":
		r.Type = MatchICMP
		if v, err = num(args[0], "ICMP type", 0xff, nil); err != nil {
			break
		}
		r.ICMP[0] = uint8(v)
		if len(args) > 1 && args[1].s != "-1" {
			v, err = num(args[1], "ICMP code (-1 for any)", 0xff, nil)
			r.ICMP[1], r.ICMP[2] = uint8(v), ICMPFlagMatchCode
		}
	case "sport", "dport", "framesize":
		r.Type = map[string]Type{"sport": MatchIPSourcePortRange, "dport": MatchIPDestPortRange,
			"framesize": MatchFrameSizeRange}[m.name]
		what := "port"
		if m.name == "framesize" {
			what = "frame size"
		}
		r.Start, r.End, err = parseRange(args[0], what, 0xffff)
	case "chr":
		r.Type = MatchCharacteristics
		r.Mask, err = characteristics(args[0])
	case "random":
		r.Type = MatchRandom
		p, perr := strconv.ParseFloat(args[0].s, 64)
		if perr != nil || math.IsNaN(p) {
			return r, errAt(args[0], "invalid probability %q (a number between 0 and 1)", args[0].s)
		}
		p = min(max(p, 0), 1)
		r.Probability = uint32(math.Floor(4294967295 * p))
	default:
		r.Type = tagMatches[m.name]
		r.TagID, r.TagValue, err = tagArgs(args, tags)
	}
	return r, err
}

// characteristics reads comma-separated characteristic names or bit numbers.
func characteristics(t token) (uint64, error) {
	var mask uint64
	for c := range strings.SplitSeq(strings.ToLower(t.s), ",") {
		if c == "" {
			continue
		}
		bit, ok := charBits[c]
		if !ok {
			n, isNum := parseNum(c)
			if !isNum || n > 63 {
				return 0, errAt(t, "unknown characteristic %q (a bit number 0-63 or inbound, multicast, broadcast, ipauth, macauth, tcp_fin, tcp_syn, tcp_rst, tcp_psh, tcp_ack, tcp_urg, tcp_ece, tcp_cwr, tcp_ns, tcp_rs_2, tcp_rs_1, tcp_rs_0)", c)
			}
			bit = uint(n)
		}
		mask |= 1 << bit
	}
	if mask == 0 {
		return 0, errAt(t, "no characteristics in %q", t.s)
	}
	return mask, nil
}

// tagArgs resolves a tag match's tag (a defined name or an ID) and value (a
// flag or enum name of that tag, or a number).
func tagArgs(args []token, tags map[string]*tagDef) (id, value uint32, err error) {
	if tg, ok := tags[strings.ToLower(args[0].s)]; ok {
		value, err = tagValue(tg, args[1])
		return tg.id, value, err
	}
	n, ok := parseNum(args[0].s)
	if !ok || n > 0xffffffff {
		return 0, 0, errAt(args[0], "unknown tag %q (a defined tag name or a numeric ID)", args[0].s)
	}
	v, ok := parseNum(args[1].s)
	if !ok || v > 0xffffffff {
		return 0, 0, errAt(args[1], "invalid tag value %q", args[1].s)
	}
	return uint32(n), uint32(v), nil
}
