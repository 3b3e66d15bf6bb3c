package rules

import (
	"fmt"
	"net/netip"
)

// Type is a rule type: the low 6 bits of a rule's type byte (vl2.md §5.1).
// Types 0–15 are actions, 16–63 matches.
type Type uint8

// Rule types known to ZeroTierOne 1.14.1.
const (
	ActionDrop     Type = 0
	ActionAccept   Type = 1
	ActionTee      Type = 2
	ActionWatch    Type = 3
	ActionRedirect Type = 4
	ActionBreak    Type = 5
	ActionPriority Type = 6

	MatchSourceZeroTierAddress Type = 24
	MatchDestZeroTierAddress   Type = 25
	MatchVlanID                Type = 26
	MatchVlanPCP               Type = 27
	MatchVlanDEI               Type = 28
	MatchMACSource             Type = 29
	MatchMACDest               Type = 30
	MatchIPv4Source            Type = 31
	MatchIPv4Dest              Type = 32
	MatchIPv6Source            Type = 33
	MatchIPv6Dest              Type = 34
	MatchIPTOS                 Type = 35
	MatchIPProtocol            Type = 36
	MatchEtherType             Type = 37
	MatchICMP                  Type = 38
	MatchIPSourcePortRange     Type = 39
	MatchIPDestPortRange       Type = 40
	MatchCharacteristics       Type = 41
	MatchFrameSizeRange        Type = 42
	MatchRandom                Type = 43
	MatchTagsDifference        Type = 44
	MatchTagsBitwiseAnd        Type = 45
	MatchTagsBitwiseOr         Type = 46
	MatchTagsBitwiseXor        Type = 47
	MatchTagsEqual             Type = 48
	MatchTagSender             Type = 49
	MatchTagReceiver           Type = 50
	MatchIntegerRange          Type = 51
)

// Bits of the type byte above the type itself.
const (
	typeNot  = 0x80 // invert a MATCH's result
	typeOr   = 0x40 // OR a MATCH into the set instead of AND
	typeMask = 0x3f

	maxActionType = 15 // ZT_NETWORK_RULE_ACTION__MAX_ID
)

// Table size limits of ZeroTierOne.h. The codec does not enforce them (a
// reader stops where the reference would be told to); Compile does.
const (
	MaxNetworkRules    = 1024 // ZT_MAX_NETWORK_RULES
	MaxCapabilityRules = 64   // ZT_MAX_CAPABILITY_RULES
	MaxCapabilities    = 128  // ZT_MAX_NETWORK_CAPABILITIES
	MaxTags            = 128  // ZT_MAX_NETWORK_TAGS
)

// Packet characteristics bits for MATCH_CHARACTERISTICS (vl2.md §5.5).
const (
	CharInbound                uint64 = 0x8000000000000000
	CharMulticast              uint64 = 0x4000000000000000
	CharBroadcast              uint64 = 0x2000000000000000
	CharSenderIPAuthenticated  uint64 = 0x1000000000000000
	CharSenderMACAuthenticated uint64 = 0x0800000000000000
	CharTCPReserved0           uint64 = 0x0000000000000800
	CharTCPReserved1           uint64 = 0x0000000000000400
	CharTCPReserved2           uint64 = 0x0000000000000200
	CharTCPNS                  uint64 = 0x0000000000000100
	CharTCPCWR                 uint64 = 0x0000000000000080
	CharTCPECE                 uint64 = 0x0000000000000040
	CharTCPURG                 uint64 = 0x0000000000000020
	CharTCPACK                 uint64 = 0x0000000000000010
	CharTCPPSH                 uint64 = 0x0000000000000008
	CharTCPRST                 uint64 = 0x0000000000000004
	CharTCPSYN                 uint64 = 0x0000000000000002
	CharTCPFIN                 uint64 = 0x0000000000000001
)

// ConfigFlagUnsupportedMatchResult is the network config flag that makes
// unknown MATCH types match (ZT_NETWORKCONFIG_FLAG_RULES_RESULT_OF_UNSUPPORTED_MATCH).
const ConfigFlagUnsupportedMatchResult uint64 = 0x08

const addrMask = 0xffffffffff // ZeroTier addresses are 40 bits

// Rule is one entry of a rule table. Only the fields of its Type are meaningful.
type Rule struct {
	Type    Type
	Not, Or bool
	Address uint64 // ZT address (40 bits) for Match*ZeroTierAddress; forward target for TEE/WATCH/REDIRECT
	Flags   uint32 // TEE/WATCH/REDIRECT flags
	Length  uint16 // TEE/WATCH length
	Value8  uint8  // VLAN PCP, VLAN DEI, IP protocol, PRIORITY bucket
	Value16 uint16 // VLAN ID, ethertype
	MAC     uint64 // 48-bit MAC
	// IP is the IPv4/IPv6 source/dest address and mask bits. The address is
	// kept as given (host bits are not cleared: an IPv6 rule with host bits
	// set never matches, like the reference's).
	IP          netip.Prefix
	TOS         [3]uint8 // mask, start, end
	ICMP        [3]uint8 // type, code, flags (0x01 = match code)
	Start, End  uint64   // port ranges, frame size range (u16 each); INTEGER_RANGE start and *relative* end
	Mask        uint64   // CHARACTERISTICS mask
	Probability uint32   // RANDOM
	TagID       uint32   // TAGS_*, TAG_SENDER/RECEIVER
	TagValue    uint32
	Idx         uint16 // INTEGER_RANGE
	Format      uint8  // INTEGER_RANGE
	// Raw holds the value bytes of unknown types, kept so the table
	// re-encodes. ParseTable also sets it for a known type whose value had a
	// non-standard length or does not fit the fields (an IP mask beyond 32 or
	// 128 bits, an INTEGER_RANGE wider than 2^32), so that the bytes survive
	// a round trip. When Raw is non-nil AppendTable writes it instead of the
	// fields: clear it after editing such a rule.
	Raw []byte
}

// ICMPFlagMatchCode in Rule.ICMP[2] makes an ICMP rule compare the code too.
const ICMPFlagMatchCode = 0x01

// IsAction reports whether t is an action (0–15) rather than a match.
func (t Type) IsAction() bool { return t&typeMask <= maxActionType }

// Known reports whether t is a type ZeroTierOne 1.14.1 defines.
func (t Type) Known() bool { return t < Type(len(typeNames)) && typeNames[t] != "" }

// typeNames are the ZeroTierOne.h names without the ZT_NETWORK_RULE_ prefix.
var typeNames = [...]string{
	ActionDrop:                 "ACTION_DROP",
	ActionAccept:               "ACTION_ACCEPT",
	ActionTee:                  "ACTION_TEE",
	ActionWatch:                "ACTION_WATCH",
	ActionRedirect:             "ACTION_REDIRECT",
	ActionBreak:                "ACTION_BREAK",
	ActionPriority:             "ACTION_PRIORITY",
	MatchSourceZeroTierAddress: "MATCH_SOURCE_ZEROTIER_ADDRESS",
	MatchDestZeroTierAddress:   "MATCH_DEST_ZEROTIER_ADDRESS",
	MatchVlanID:                "MATCH_VLAN_ID",
	MatchVlanPCP:               "MATCH_VLAN_PCP",
	MatchVlanDEI:               "MATCH_VLAN_DEI",
	MatchMACSource:             "MATCH_MAC_SOURCE",
	MatchMACDest:               "MATCH_MAC_DEST",
	MatchIPv4Source:            "MATCH_IPV4_SOURCE",
	MatchIPv4Dest:              "MATCH_IPV4_DEST",
	MatchIPv6Source:            "MATCH_IPV6_SOURCE",
	MatchIPv6Dest:              "MATCH_IPV6_DEST",
	MatchIPTOS:                 "MATCH_IP_TOS",
	MatchIPProtocol:            "MATCH_IP_PROTOCOL",
	MatchEtherType:             "MATCH_ETHERTYPE",
	MatchICMP:                  "MATCH_ICMP",
	MatchIPSourcePortRange:     "MATCH_IP_SOURCE_PORT_RANGE",
	MatchIPDestPortRange:       "MATCH_IP_DEST_PORT_RANGE",
	MatchCharacteristics:       "MATCH_CHARACTERISTICS",
	MatchFrameSizeRange:        "MATCH_FRAME_SIZE_RANGE",
	MatchRandom:                "MATCH_RANDOM",
	MatchTagsDifference:        "MATCH_TAGS_DIFFERENCE",
	MatchTagsBitwiseAnd:        "MATCH_TAGS_BITWISE_AND",
	MatchTagsBitwiseOr:         "MATCH_TAGS_BITWISE_OR",
	MatchTagsBitwiseXor:        "MATCH_TAGS_BITWISE_XOR",
	MatchTagsEqual:             "MATCH_TAGS_EQUAL",
	MatchTagSender:             "MATCH_TAG_SENDER",
	MatchTagReceiver:           "MATCH_TAG_RECEIVER",
	MatchIntegerRange:          "MATCH_INTEGER_RANGE",
}

// String is the ZeroTierOne.h name, e.g. MATCH_ETHERTYPE, or TYPE_n.
func (t Type) String() string {
	if t.Known() {
		return typeNames[t]
	}
	return fmt.Sprintf("TYPE_%d", uint8(t))
}

// valueLen is the value length L the reference writes for t, or -1 for
// types it does not know (it writes those with L = 0 and drops the value).
func valueLen(t Type) int {
	switch t {
	case ActionDrop, ActionAccept, ActionBreak, ActionPriority:
		return 0
	case ActionTee, ActionWatch, ActionRedirect:
		return 14
	case MatchSourceZeroTierAddress, MatchDestZeroTierAddress:
		return 5
	case MatchVlanID, MatchEtherType:
		return 2
	case MatchVlanPCP, MatchVlanDEI, MatchIPProtocol:
		return 1
	case MatchMACSource, MatchMACDest:
		return 6
	case MatchIPv4Source, MatchIPv4Dest:
		return 5
	case MatchIPv6Source, MatchIPv6Dest:
		return 17
	case MatchIPTOS, MatchICMP:
		return 3
	case MatchIPSourcePortRange, MatchIPDestPortRange, MatchFrameSizeRange, MatchRandom:
		return 4
	case MatchCharacteristics:
		return 8
	case MatchTagsDifference, MatchTagsBitwiseAnd, MatchTagsBitwiseOr, MatchTagsBitwiseXor,
		MatchTagsEqual, MatchTagSender, MatchTagReceiver:
		return 8
	case MatchIntegerRange:
		return 19
	}
	return -1
}

// typeByte is the rule's t byte: type, NOT and OR bits.
func (r *Rule) typeByte() byte {
	t := byte(r.Type) & typeMask
	if r.Not {
		t |= typeNot
	}
	if r.Or {
		t |= typeOr
	}
	return t
}
