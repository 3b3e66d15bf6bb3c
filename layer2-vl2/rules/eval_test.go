package rules

import (
	"net/netip"
	"testing"
)

const (
	me    = 0x1111111111
	peer  = 0x2222222222
	other = 0x3333333333

	peerMAC  = 0x02aabbccddee
	myMAC    = 0x02aabbcc0011
	mcastMAC = 0x333300000001
	bcastMAC = 0xffffffffffff
)

// testEnv is an Env with fixed answers.
type testEnv struct {
	me      uint64
	flags   uint64
	local   map[uint32]uint32
	remote  map[uint32]uint32
	ipAuth  map[netip.Addr]bool
	macAuth map[uint64]bool
	random  uint32
}

func (e *testEnv) MyAddress() uint64   { return e.me }
func (e *testEnv) ConfigFlags() uint64 { return e.flags }
func (e *testEnv) LocalTag(id uint32) (uint32, bool) {
	v, ok := e.local[id]
	return v, ok
}
func (e *testEnv) RemoteTag(id uint32) (uint32, bool) {
	v, ok := e.remote[id]
	return v, ok
}
func (e *testEnv) SenderIPAuthenticated(ip netip.Addr) bool { return e.ipAuth[ip] }
func (e *testEnv) SenderMACAuthenticated(mac uint64) bool   { return e.macAuth[mac] }
func (e *testEnv) Random() uint32                           { return e.random }

func env() *testEnv { return &testEnv{me: me} }

// out builds an outbound packet from us to peer.
func out(et uint16, frame []byte) Packet {
	return Packet{ZTSource: me, ZTDest: peer, SrcMAC: myMAC, DstMAC: peerMAC, EtherType: et, Frame: frame}
}

// in builds an inbound packet from peer to us.
func in(et uint16, frame []byte) Packet {
	return Packet{Inbound: true, ZTSource: peer, ZTDest: me, SrcMAC: peerMAC, DstMAC: myMAC, EtherType: et, Frame: frame}
}

func with(p Packet, f func(*Packet)) Packet {
	f(&p)
	return p
}

func withEnv(f func(*testEnv)) *testEnv {
	e := env()
	f(e)
	return e
}

func pfx(s string) netip.Prefix { return netip.MustParsePrefix(s) }

// TestMatches runs every match type on its own, plain and NOT-ed, in a
// table [rule, ACCEPT]: the set matches as want.apply(not) says, which
// checks hardYes/hardNo against plain results.
func TestMatches(t *testing.T) {
	const v4, v6, arpET = etherTypeIPv4, etherTypeIPv6, etherTypeARP
	tagEnv := withEnv(func(e *testEnv) {
		e.local = map[uint32]uint32{1: 10, 2: 0x0f, 3: 7}
		e.remote = map[uint32]uint32{1: 13, 2: 0x3c}
	})
	tests := []struct {
		name string
		rule Rule
		pkt  Packet
		env  *testEnv
		want outcome
	}{
		{"zt source", Rule{Type: MatchSourceZeroTierAddress, Address: me}, out(v4, tcp4), nil, yes},
		{"zt source other", Rule{Type: MatchSourceZeroTierAddress, Address: other}, out(v4, tcp4), nil, no},
		{"zt dest", Rule{Type: MatchDestZeroTierAddress, Address: peer}, out(v4, tcp4), nil, yes},
		{"zt dest unknown", Rule{Type: MatchDestZeroTierAddress, Address: peer},
			with(out(v4, tcp4), func(p *Packet) { p.ZTDest = 0 }), nil, no},
		{"vlan 0", Rule{Type: MatchVlanID}, out(v4, tcp4), nil, yes},
		{"vlan 5", Rule{Type: MatchVlanID, Value16: 5}, out(v4, tcp4), nil, no},
		{"vlan pcp 0 always", Rule{Type: MatchVlanPCP}, out(v4, tcp4), nil, yes},
		{"vlan pcp 3 never", Rule{Type: MatchVlanPCP, Value8: 3}, out(v4, tcp4), nil, no},
		{"vlan dei 0 always", Rule{Type: MatchVlanDEI}, out(v4, tcp4), nil, yes},
		{"vlan dei 1 never", Rule{Type: MatchVlanDEI, Value8: 1}, out(v4, tcp4), nil, no},
		{"mac source", Rule{Type: MatchMACSource, MAC: myMAC}, out(v4, tcp4), nil, yes},
		{"mac source other", Rule{Type: MatchMACSource, MAC: peerMAC}, out(v4, tcp4), nil, no},
		{"mac dest", Rule{Type: MatchMACDest, MAC: peerMAC}, out(v4, tcp4), nil, yes},
		{"mac dest other", Rule{Type: MatchMACDest, MAC: myMAC}, out(v4, tcp4), nil, no},

		{"ipv4 source /8", Rule{Type: MatchIPv4Source, IP: pfx("10.0.0.0/8")}, out(v4, tcp4), nil, yes},
		{"ipv4 source /32", Rule{Type: MatchIPv4Source, IP: pfx("10.1.2.3/32")}, out(v4, tcp4), nil, yes},
		{"ipv4 source host bits ignored", Rule{Type: MatchIPv4Source, IP: pfx("10.1.2.99/24")}, out(v4, tcp4), nil, yes},
		{"ipv4 source /0", Rule{Type: MatchIPv4Source, IP: pfx("99.0.0.0/0")}, out(v4, tcp4), nil, yes},
		{"ipv4 source miss", Rule{Type: MatchIPv4Source, IP: pfx("11.0.0.0/8")}, out(v4, tcp4), nil, no},
		{"ipv4 dest", Rule{Type: MatchIPv4Dest, IP: pfx("192.168.0.0/16")}, out(v4, tcp4), nil, yes},
		{"ipv4 dest miss", Rule{Type: MatchIPv4Dest, IP: pfx("10.0.0.0/8")}, out(v4, tcp4), nil, no},
		{"ipv4 on arp", Rule{Type: MatchIPv4Source, IP: pfx("10.0.0.0/8")}, out(arpET, arp), nil, hardNo},
		{"ipv4 on ipv6", Rule{Type: MatchIPv4Dest, IP: pfx("0.0.0.0/0")}, out(v6, tcp6), nil, hardNo},
		{"ipv4 too short", Rule{Type: MatchIPv4Source, IP: pfx("10.0.0.0/8")}, out(v4, tcp4[:19]), nil, hardNo},
		{"ipv6 source /8", Rule{Type: MatchIPv6Source, IP: pfx("fd00::/8")}, out(v6, tcp6), nil, yes},
		{"ipv6 source /128", Rule{Type: MatchIPv6Source, IP: pfx("fd00::1/128")}, out(v6, tcp6), nil, yes},
		{"ipv6 source host bits never match", Rule{Type: MatchIPv6Source, IP: pfx("fd00::5/8")}, out(v6, tcp6), nil, no},
		{"ipv6 dest", Rule{Type: MatchIPv6Dest, IP: pfx("fd00::2/127")}, out(v6, tcp6), nil, yes},
		{"ipv6 dest miss", Rule{Type: MatchIPv6Dest, IP: pfx("fd00::1/128")}, out(v6, tcp6), nil, no},
		{"ipv6 on ipv4", Rule{Type: MatchIPv6Source, IP: pfx("::/0")}, out(v4, tcp4), nil, hardNo},
		{"ipv6 too short", Rule{Type: MatchIPv6Source, IP: pfx("::/0")}, out(v6, tcp6[:39]), nil, hardNo},

		{"tos ipv4", Rule{Type: MatchIPTOS, TOS: [3]uint8{0xfc, 0x28, 0x28}}, out(v4, tcp4), nil, yes},
		{"tos ipv4 range miss", Rule{Type: MatchIPTOS, TOS: [3]uint8{0xfc, 0x30, 0x40}}, out(v4, tcp4), nil, no},
		{"tos ipv6", Rule{Type: MatchIPTOS, TOS: [3]uint8{0xff, 0xb0, 0xb8}}, out(v6, tcp6), nil, yes},
		{"tos ipv6 masked", Rule{Type: MatchIPTOS, TOS: [3]uint8{0x0f, 0x08, 0x08}}, out(v6, tcp6), nil, yes},
		{"tos on arp", Rule{Type: MatchIPTOS, TOS: [3]uint8{0, 0, 255}}, out(arpET, arp), nil, hardNo},

		{"protocol ipv4", Rule{Type: MatchIPProtocol, Value8: 6}, out(v4, tcp4), nil, yes},
		{"protocol ipv4 miss", Rule{Type: MatchIPProtocol, Value8: 17}, out(v4, tcp4), nil, no},
		{"protocol ipv6", Rule{Type: MatchIPProtocol, Value8: 6}, out(v6, tcp6), nil, yes},
		{"protocol ipv6 through extension headers", Rule{Type: MatchIPProtocol, Value8: 6}, out(v6, tcp6Ext), nil, yes},
		{"protocol ipv6 is not the first header", Rule{Type: MatchIPProtocol, Value8: 0}, out(v6, tcp6Ext), nil, no},
		{"protocol ipv6 fragment stops the walk", Rule{Type: MatchIPProtocol, Value8: 44}, out(v6, v6Frag), nil, yes},
		{"protocol ipv6 broken walk", Rule{Type: MatchIPProtocol, Value8: 6}, out(v6, v6Broken), nil, hardNo},
		{"protocol on arp", Rule{Type: MatchIPProtocol, Value8: 6}, out(arpET, arp), nil, hardNo},

		{"ethertype", Rule{Type: MatchEtherType, Value16: v4}, out(v4, tcp4), nil, yes},
		{"ethertype miss", Rule{Type: MatchEtherType, Value16: v6}, out(v4, tcp4), nil, no},

		{"icmp type, any code", Rule{Type: MatchICMP, ICMP: [3]uint8{8, 0, 0}}, out(v4, icmp4Echo), nil, hardYes},
		{"icmp type and code", Rule{Type: MatchICMP, ICMP: [3]uint8{3, 4, 1}}, out(v4, icmp4Unr), nil, yes},
		{"icmp type, wrong code", Rule{Type: MatchICMP, ICMP: [3]uint8{3, 1, 1}}, out(v4, icmp4Unr), nil, no},
		{"icmp wrong type", Rule{Type: MatchICMP, ICMP: [3]uint8{0, 0, 0}}, out(v4, icmp4Echo), nil, hardNo},
		{"icmp on tcp", Rule{Type: MatchICMP, ICMP: [3]uint8{8, 0, 0}}, out(v4, tcp4), nil, hardNo},
		{"icmp too short", Rule{Type: MatchICMP, ICMP: [3]uint8{8, 0, 0}}, out(v4, icmp4Echo[:21]), nil, hardNo},
		{"icmpv6 through extension header", Rule{Type: MatchICMP, ICMP: [3]uint8{128, 0, 0}}, out(v6, icmp6Ext), nil, hardYes},
		{"icmpv6 code", Rule{Type: MatchICMP, ICMP: [3]uint8{128, 0, 1}}, out(v6, icmp6Ext), nil, yes},
		{"icmpv6 on tcp", Rule{Type: MatchICMP, ICMP: [3]uint8{128, 0, 0}}, out(v6, tcp6), nil, hardNo},
		{"icmp on arp", Rule{Type: MatchICMP, ICMP: [3]uint8{8, 0, 0}}, out(arpET, arp), nil, hardNo},

		{"tcp dport", Rule{Type: MatchIPDestPortRange, Start: 22, End: 22}, out(v4, tcp4), nil, yes},
		{"tcp dport miss", Rule{Type: MatchIPDestPortRange, Start: 23, End: 1024}, out(v4, tcp4), nil, no},
		{"tcp sport", Rule{Type: MatchIPSourcePortRange, Start: 32768, End: 65535}, out(v4, tcp4), nil, yes},
		{"udp dport", Rule{Type: MatchIPDestPortRange, Start: 53, End: 53}, out(v4, udp4), nil, yes},
		{"udp sport", Rule{Type: MatchIPSourcePortRange, Start: 5353, End: 5353}, out(v4, udp4), nil, yes},
		{"ipv4 port 0 matches", Rule{Type: MatchIPDestPortRange, Start: 0, End: 100}, out(v4, udp4Port0), nil, yes},
		{"port of icmp is a plain no", Rule{Type: MatchIPDestPortRange, Start: 0, End: 65535}, out(v4, icmp4Echo), nil, no},
		{"port cut off is a plain no", Rule{Type: MatchIPSourcePortRange, Start: 0, End: 65535}, out(v4, tcp4Short), nil, no},
		{"ipv6 tcp dport", Rule{Type: MatchIPDestPortRange, Start: 443, End: 443}, out(v6, tcp6), nil, yes},
		{"ipv6 tcp sport through extension headers", Rule{Type: MatchIPSourcePortRange, Start: 1234, End: 1234}, out(v6, tcp6Ext), nil, yes},
		{"ipv6 udp dport", Rule{Type: MatchIPDestPortRange, Start: 53, End: 53}, out(v6, udp6), nil, yes},
		{"ipv6 udp sport", Rule{Type: MatchIPSourcePortRange, Start: 5000, End: 6000}, out(v6, udp6), nil, yes},
		{"ipv6 udp sport miss", Rule{Type: MatchIPSourcePortRange, Start: 53, End: 53}, out(v6, udp6), nil, no},
		{"ipv6 udp port 0 never matches", Rule{Type: MatchIPDestPortRange, Start: 0, End: 100}, out(v6, udp6Port0), nil, no},
		{"ipv6 port broken walk", Rule{Type: MatchIPDestPortRange, Start: 0, End: 65535}, out(v6, v6Broken), nil, hardNo},
		{"port on arp", Rule{Type: MatchIPDestPortRange, Start: 0, End: 65535}, out(arpET, arp), nil, hardNo},

		{"chr tcp_syn", Rule{Type: MatchCharacteristics, Mask: CharTCPSYN}, out(v4, tcp4), nil, yes},
		{"chr tcp_ack on syn", Rule{Type: MatchCharacteristics, Mask: CharTCPACK}, out(v4, tcp4), nil, no},
		{"chr ipv6 tcp_psh", Rule{Type: MatchCharacteristics, Mask: CharTCPPSH}, out(v6, tcp6), nil, yes},
		{"chr ipv6 tcp_ns", Rule{Type: MatchCharacteristics, Mask: CharTCPNS}, out(v6, tcp6), nil, yes},
		{"chr ipv6 tcp_fin through extension headers", Rule{Type: MatchCharacteristics, Mask: CharTCPFIN}, out(v6, tcp6Ext), nil, yes},
		{"chr no tcp flags on udp", Rule{Type: MatchCharacteristics, Mask: 0xfff}, out(v4, udp4), nil, no},
		{"chr inbound", Rule{Type: MatchCharacteristics, Mask: CharInbound}, in(v4, tcp4), nil, yes},
		{"chr outbound", Rule{Type: MatchCharacteristics, Mask: CharInbound}, out(v4, tcp4), nil, no},
		{"chr multicast", Rule{Type: MatchCharacteristics, Mask: CharMulticast},
			with(out(v6, tcp6), func(p *Packet) { p.DstMAC = mcastMAC }), nil, yes},
		{"chr broadcast is multicast too", Rule{Type: MatchCharacteristics, Mask: CharMulticast | CharBroadcast},
			with(out(arpET, arp), func(p *Packet) { p.DstMAC = bcastMAC }), nil, yes},
		{"chr broadcast", Rule{Type: MatchCharacteristics, Mask: CharBroadcast},
			with(out(v4, udp4), func(p *Packet) { p.DstMAC = mcastMAC }), nil, no},
		{"chr ipauth ipv4", Rule{Type: MatchCharacteristics, Mask: CharSenderIPAuthenticated}, in(v4, tcp4),
			withEnv(func(e *testEnv) { e.ipAuth = map[netip.Addr]bool{netip.MustParseAddr("10.1.2.3"): true} }), yes},
		{"chr ipauth ipv4 not owned", Rule{Type: MatchCharacteristics, Mask: CharSenderIPAuthenticated}, in(v4, tcp4),
			withEnv(func(e *testEnv) { e.ipAuth = map[netip.Addr]bool{netip.MustParseAddr("10.1.2.4"): true} }), no},
		{"chr ipauth ipv6", Rule{Type: MatchCharacteristics, Mask: CharSenderIPAuthenticated}, in(v6, tcp6),
			withEnv(func(e *testEnv) { e.ipAuth = map[netip.Addr]bool{netip.MustParseAddr("fd00::1"): true} }), yes},
		{"chr ipauth arp sender", Rule{Type: MatchCharacteristics, Mask: CharSenderIPAuthenticated}, in(arpET, arp),
			withEnv(func(e *testEnv) { e.ipAuth = map[netip.Addr]bool{netip.MustParseAddr("10.9.9.9"): true} }), yes},
		{"chr ipauth neighbor solicitation always", Rule{Type: MatchCharacteristics, Mask: CharSenderIPAuthenticated}, in(v6, ndpNS), nil, yes},
		{"chr ipauth neighbor advertisement target", Rule{Type: MatchCharacteristics, Mask: CharSenderIPAuthenticated}, in(v6, ndpNA),
			withEnv(func(e *testEnv) { e.ipAuth = map[netip.Addr]bool{netip.MustParseAddr("fd00::99"): true} }), yes},
		{"chr ipauth neighbor advertisement source ignored", Rule{Type: MatchCharacteristics, Mask: CharSenderIPAuthenticated}, in(v6, ndpNA),
			withEnv(func(e *testEnv) { e.ipAuth = map[netip.Addr]bool{netip.MustParseAddr("fe80::1"): true} }), no},
		{"chr macauth", Rule{Type: MatchCharacteristics, Mask: CharSenderMACAuthenticated}, in(v4, tcp4),
			withEnv(func(e *testEnv) { e.macAuth = map[uint64]bool{peerMAC: true} }), yes},
		{"chr macauth outbound uses our source", Rule{Type: MatchCharacteristics, Mask: CharSenderMACAuthenticated}, out(v4, tcp4),
			withEnv(func(e *testEnv) { e.macAuth = map[uint64]bool{peerMAC: true} }), no},

		{"frame size", Rule{Type: MatchFrameSizeRange, Start: 40, End: 40}, out(v4, tcp4), nil, yes},
		{"frame size miss", Rule{Type: MatchFrameSizeRange, Start: 41, End: 1500}, out(v4, tcp4), nil, no},
		{"random under", Rule{Type: MatchRandom, Probability: 5}, out(v4, tcp4), withEnv(func(e *testEnv) { e.random = 5 }), yes},
		{"random over", Rule{Type: MatchRandom, Probability: 4}, out(v4, tcp4), withEnv(func(e *testEnv) { e.random = 5 }), no},

		{"tags difference", Rule{Type: MatchTagsDifference, TagID: 1, TagValue: 3}, out(v4, tcp4), tagEnv, yes},
		{"tags difference too far", Rule{Type: MatchTagsDifference, TagID: 1, TagValue: 2}, out(v4, tcp4), tagEnv, no},
		{"tags and", Rule{Type: MatchTagsBitwiseAnd, TagID: 2, TagValue: 0x0c}, out(v4, tcp4), tagEnv, yes},
		{"tags or", Rule{Type: MatchTagsBitwiseOr, TagID: 2, TagValue: 0x3f}, out(v4, tcp4), tagEnv, yes},
		{"tags xor", Rule{Type: MatchTagsBitwiseXor, TagID: 2, TagValue: 0x33}, out(v4, tcp4), tagEnv, yes},
		{"tags xor miss", Rule{Type: MatchTagsBitwiseXor, TagID: 2, TagValue: 0x30}, out(v4, tcp4), tagEnv, no},
		{"tags equal needs both", Rule{Type: MatchTagsEqual, TagID: 1, TagValue: 10}, out(v4, tcp4), tagEnv, no},
		{"tags without our tag", Rule{Type: MatchTagsEqual, TagID: 9, TagValue: 0}, out(v4, tcp4), tagEnv, hardNo},
		{"tags peer unknown outbound", Rule{Type: MatchTagsEqual, TagID: 3, TagValue: 7}, out(v4, tcp4), tagEnv, hardYes},
		{"tags peer unknown inbound", Rule{Type: MatchTagsEqual, TagID: 3, TagValue: 7}, in(v4, tcp4), tagEnv, hardNo},
		{"tag sender inbound is the peer's", Rule{Type: MatchTagSender, TagID: 1, TagValue: 13}, in(v4, tcp4), tagEnv, yes},
		{"tag sender inbound peer unknown", Rule{Type: MatchTagSender, TagID: 3, TagValue: 7}, in(v4, tcp4), tagEnv, hardNo},
		{"tag sender outbound is ours", Rule{Type: MatchTagSender, TagID: 1, TagValue: 10}, out(v4, tcp4), tagEnv, yes},
		{"tag sender outbound without ours", Rule{Type: MatchTagSender, TagID: 9, TagValue: 0}, out(v4, tcp4), tagEnv, hardNo},
		{"tag receiver outbound is the peer's", Rule{Type: MatchTagReceiver, TagID: 2, TagValue: 0x3c}, out(v4, tcp4), tagEnv, yes},
		{"tag receiver outbound peer unknown", Rule{Type: MatchTagReceiver, TagID: 3, TagValue: 0}, out(v4, tcp4), tagEnv, hardYes},
		{"tag receiver inbound is ours", Rule{Type: MatchTagReceiver, TagID: 2, TagValue: 0x0f}, in(v4, tcp4), tagEnv, yes},
		{"tag receiver inbound mismatch", Rule{Type: MatchTagReceiver, TagID: 2, TagValue: 0x3c}, in(v4, tcp4), tagEnv, no},

		{"integer big-endian 16 bits reads at idx+6", Rule{Type: MatchIntegerRange, Start: 0x0607, Format: 15}, out(0x88b5, counting), nil, yes},
		{"integer big-endian 4 bits", Rule{Type: MatchIntegerRange, Start: 7, Idx: 0, Format: 3}, out(0x88b5, counting), nil, yes},
		{"integer little-endian 16 bits", Rule{Type: MatchIntegerRange, Start: 0x0300, End: 2, Idx: 2, Format: 0x80 | 15}, out(0x88b5, counting), nil, yes},
		{"integer little-endian 24 bits", Rule{Type: MatchIntegerRange, Start: 0x070605, Idx: 5, Format: 0x80 | 23}, out(0x88b5, counting), nil, yes},
		{"integer range miss", Rule{Type: MatchIntegerRange, Start: 0x0608, End: 10, Format: 15}, out(0x88b5, counting), nil, no},
		{"integer out of frame is 0", Rule{Type: MatchIntegerRange, Idx: 100, Format: 63}, out(0x88b5, counting), nil, yes},

		{"unknown match, flag clear", Rule{Type: 20}, out(v4, tcp4), nil, no},
		{"unknown match, flag set", Rule{Type: 63}, out(v4, tcp4), withEnv(func(e *testEnv) { e.flags = 0x08 }), yes},
	}
	for _, tt := range tests {
		e := tt.env
		if e == nil {
			e = env()
		}
		for _, not := range []bool{false, true} {
			r := tt.rule
			r.Not = not
			p := tt.pkt
			got := Evaluate([]Rule{r, {Type: ActionAccept}}, &p, e).Action
			want := NoMatch
			if tt.want.apply(not) {
				want = Accept
			}
			if got != want {
				t.Errorf("%s (not=%v): %v, want %v", tt.name, not, got, want)
			}
		}
	}
}

func TestActions(t *testing.T) {
	const v4 = etherTypeIPv4
	match := Rule{Type: MatchEtherType, Value16: v4}
	miss := Rule{Type: MatchEtherType, Value16: 0x1234}
	tee := func(to uint64, length uint16) Rule { return Rule{Type: ActionTee, Address: to, Length: length} }
	accept, drop := Rule{Type: ActionAccept}, Rule{Type: ActionDrop}
	tagEnv := withEnv(func(e *testEnv) {
		e.local = map[uint32]uint32{1: 5}
		e.remote = map[uint32]uint32{}
	})
	tests := []struct {
		name  string
		table []Rule
		pkt   Packet
		env   *testEnv
		want  Result // ZTDest defaults to the packet's
	}{
		{"empty table", nil, out(v4, tcp4), nil, Result{Action: NoMatch}},
		{"accept", []Rule{accept}, out(v4, tcp4), nil, Result{Action: Accept}},
		{"drop", []Rule{drop}, out(v4, tcp4), nil, Result{Action: Drop}},
		{"break", []Rule{{Type: ActionBreak}, accept}, out(v4, tcp4), nil, Result{Action: NoMatch}},
		{"break skipped when its set fails", []Rule{miss, {Type: ActionBreak}, accept}, out(v4, tcp4), nil, Result{Action: Accept}},
		{"priority", []Rule{{Type: ActionPriority, Value8: 3}, drop}, out(v4, tcp4), nil, Result{Action: Accept, QoS: 3}},
		{"priority out of range", []Rule{{Type: ActionPriority, Value8: 9}}, out(v4, tcp4), nil, Result{Action: Accept, QoS: 4}},
		{"unknown action is a no-op", []Rule{{Type: 9}, drop}, out(v4, tcp4), nil, Result{Action: Drop}},
		{"failed set skips its action", []Rule{miss, drop, accept}, out(v4, tcp4), nil, Result{Action: Accept}},
		{"matching set takes its action", []Rule{match, drop, accept}, out(v4, tcp4), nil, Result{Action: Drop}},
		{"end without action", []Rule{match}, out(v4, tcp4), nil, Result{Action: NoMatch}},

		{"not: drop what is not ipv6", []Rule{{Type: MatchEtherType, Not: true, Value16: etherTypeIPv6}, drop, accept},
			out(v4, tcp4), nil, Result{Action: Drop}},
		{"not: ipv6 passes", []Rule{{Type: MatchEtherType, Not: true, Value16: etherTypeIPv6}, drop, accept},
			out(etherTypeIPv6, tcp6), nil, Result{Action: Accept}},
		{"or: second alternative", []Rule{miss, {Type: MatchEtherType, Or: true, Value16: v4}, accept, drop},
			out(v4, tcp4), nil, Result{Action: Accept}},
		{"or: neither", []Rule{miss, {Type: MatchEtherType, Or: true, Value16: 0x4321}, accept, drop},
			out(v4, tcp4), nil, Result{Action: Drop}},
		{"or revives a failed and", []Rule{miss, match, {Type: MatchIPProtocol, Or: true, Value8: 6}, accept, drop},
			out(v4, tcp4), nil, Result{Action: Accept}},
		{"and after or", []Rule{match, {Type: MatchIPProtocol, Or: true, Value8: 99}, miss, accept, drop},
			out(v4, tcp4), nil, Result{Action: Drop}},
		{"hardNo survives not: NOT ipsrc on arp", []Rule{{Type: MatchIPv4Source, Not: true, IP: pfx("10.0.0.0/8")}, drop, accept},
			out(etherTypeARP, arp), nil, Result{Action: Accept}},
		{"plain no flips: NOT dport 22 on icmp", []Rule{{Type: MatchIPDestPortRange, Not: true, Start: 22, End: 22}, drop, accept},
			out(v4, icmp4Echo), nil, Result{Action: Drop}},
		{"hardYes survives not: NOT icmp 8", []Rule{{Type: MatchICMP, Not: true, ICMP: [3]uint8{8, 0, 0}}, drop, accept},
			out(v4, icmp4Echo), nil, Result{Action: Drop}},

		{"tee", []Rule{tee(other, 16), accept}, out(v4, tcp4), nil, Result{Action: Accept, CC: other, CCLength: 16}},
		{"tee whole frame", []Rule{tee(other, 0), accept}, out(v4, tcp4), nil, Result{Action: Accept, CC: other, CCLength: len(tcp4)}},
		{"tee longer than the frame", []Rule{tee(other, 9000), accept}, out(v4, tcp4), nil, Result{Action: Accept, CC: other, CCLength: len(tcp4)}},
		{"tee target above 40 bits", []Rule{tee(0xff<<40|other, 0), accept}, out(v4, tcp4), nil, Result{Action: Accept, CC: other, CCLength: len(tcp4)}},
		{"watch", []Rule{{Type: ActionWatch, Address: other, Length: 8}, accept}, out(v4, tcp4), nil,
			Result{Action: Accept, CC: other, CCLength: 8, CCWatch: true}},
		{"tee stays set on no match", []Rule{tee(other, 0)}, out(v4, tcp4), nil, Result{Action: NoMatch, CC: other, CCLength: len(tcp4)}},
		{"tee only when its set matches", []Rule{miss, tee(other, 0), accept}, out(v4, tcp4), nil, Result{Action: Accept}},
		{"tee to the source is a no-op", []Rule{tee(me, 0), accept}, out(v4, tcp4), nil, Result{Action: Accept}},
		{"tee to the destination is a no-op", []Rule{tee(peer, 0), accept}, out(v4, tcp4), nil, Result{Action: Accept}},
		{"tee to us inbound super-accepts", []Rule{tee(me, 0), drop}, in(v4, tcp4), nil, Result{Action: SuperAccept}},
		{"tee to us inbound from a third party", []Rule{tee(me, 0), drop},
			with(in(v4, tcp4), func(p *Packet) { p.ZTDest = other }), nil, Result{Action: SuperAccept}},
		{"tee to us outbound is a no-op", []Rule{tee(me, 0), drop},
			with(out(v4, tcp4), func(p *Packet) { p.ZTSource = other }), nil, Result{Action: Drop}},
		{"being a tee target makes accept super", []Rule{miss, tee(me, 0), accept}, in(v4, tcp4), nil, Result{Action: SuperAccept}},
		{"being a watch target makes accept super", []Rule{miss, {Type: ActionWatch, Address: me}, accept}, in(v4, tcp4), nil, Result{Action: SuperAccept}},
		{"being a redirect target makes accept super", []Rule{miss, {Type: ActionRedirect, Address: me}, accept}, in(v4, tcp4), nil, Result{Action: SuperAccept}},
		{"tee target outbound is not super", []Rule{miss, tee(me, 0), accept}, out(v4, tcp4), nil, Result{Action: Accept}},
		{"redirect", []Rule{{Type: ActionRedirect, Address: other}, accept}, out(v4, tcp4), nil, Result{Action: Redirect, ZTDest: other}},
		{"redirect to the destination is a no-op", []Rule{{Type: ActionRedirect, Address: peer}, drop}, out(v4, tcp4), nil, Result{Action: Drop}},
		{"redirect to us outbound is a no-op", []Rule{{Type: ActionRedirect, Address: me}, drop},
			with(out(v4, tcp4), func(p *Packet) { p.ZTSource = other }), nil, Result{Action: Drop}},
		{"redirect to us inbound super-accepts", []Rule{{Type: ActionRedirect, Address: me}, drop}, in(v4, tcp4), nil, Result{Action: SuperAccept}},

		{"skipDrop: peer tag unknown outbound skips one drop",
			[]Rule{{Type: MatchTagsEqual, TagID: 1, TagValue: 5}, drop, accept}, out(v4, tcp4), tagEnv, Result{Action: Accept}},
		{"skipDrop: only one drop",
			[]Rule{{Type: MatchTagsEqual, TagID: 1, TagValue: 5}, drop, drop}, out(v4, tcp4), tagEnv, Result{Action: Drop}},
		{"skipDrop: not an accept",
			[]Rule{{Type: MatchTagsEqual, TagID: 1, TagValue: 5}, accept, drop}, out(v4, tcp4), tagEnv, Result{Action: Accept}},
		{"skipDrop: inbound is strict",
			[]Rule{{Type: MatchTagsEqual, Not: true, TagID: 1, TagValue: 5}, drop, accept}, in(v4, tcp4), tagEnv, Result{Action: Accept}},
		{"skipDrop: inbound strict the other way",
			[]Rule{{Type: MatchTagsEqual, TagID: 1, TagValue: 5}, accept, drop}, in(v4, tcp4), tagEnv, Result{Action: Drop}},
		{"skipDrop: inbound tee target is lenient",
			[]Rule{miss, tee(me, 0), {Type: MatchTagsEqual, TagID: 1, TagValue: 5}, drop, accept}, in(v4, tcp4), tagEnv, Result{Action: SuperAccept}},
		{"skipDrop: receiver tag unknown outbound",
			[]Rule{{Type: MatchTagReceiver, Not: true, TagID: 1, TagValue: 5}, drop, accept}, out(v4, tcp4), tagEnv, Result{Action: Accept}},
		{"skipDrop: sender tag while super-accepting",
			[]Rule{miss, tee(me, 0), {Type: MatchTagSender, TagID: 1, TagValue: 99}, drop, accept}, in(v4, tcp4), tagEnv, Result{Action: SuperAccept}},
	}
	for _, tt := range tests {
		e := tt.env
		if e == nil {
			e = env()
		}
		p := tt.pkt
		want := tt.want
		if want.ZTDest == 0 {
			want.ZTDest = p.ZTDest
		}
		if got := Evaluate(tt.table, &p, e); got != want {
			t.Errorf("%s:\n got %+v\nwant %+v", tt.name, got, want)
		}
	}
}

// The spec's example table: drop non-IPv6, TEE SSH and 10/8 to an observer.
func TestEvaluateSpecExample(t *testing.T) {
	e := env()
	p := out(etherTypeIPv6, tcp6)
	if got := Evaluate(specExample, &p, e); got.Action != Accept || got.CC != 0 {
		t.Errorf("ipv6: %+v", got)
	}
	p = out(etherTypeIPv4, tcp4)
	if got := Evaluate(specExample, &p, e); got.Action != Drop {
		t.Errorf("ipv4: %+v", got)
	}
	table := specExample[2:] // without the IPv6-only part
	if got := Evaluate(table, &p, e); got.Action != Accept || got.CC != 0x89e92ceee5 || got.CCLength != len(tcp4) {
		t.Errorf("ssh: %+v", got)
	}
}

func TestEvaluateNilEnv(t *testing.T) {
	p := out(etherTypeIPv4, tcp4)
	table := []Rule{{Type: MatchCharacteristics, Mask: CharSenderIPAuthenticated}, {Type: ActionDrop},
		{Type: MatchTagsEqual, TagID: 1}, {Type: ActionDrop}, {Type: MatchRandom}, {Type: ActionAccept}}
	if got := Evaluate(table, &p, nil); got.Action != Accept {
		t.Errorf("got %+v", got)
	}
}

func TestEvaluateDoesNotAllocate(t *testing.T) {
	table, p, e := benchSetup()
	if n := testing.AllocsPerRun(100, func() { Evaluate(table, p, e) }); n != 0 {
		t.Errorf("Evaluate allocates %v times per run", n)
	}
}

// benchSetup is a realistic table (Central's default plus SSH, tags and
// characteristics) and an IPv6 TCP packet that reaches its end.
func benchSetup() ([]Rule, *Packet, Env) {
	table := []Rule{
		{Type: MatchEtherType, Not: true, Value16: etherTypeIPv4},
		{Type: MatchEtherType, Not: true, Value16: etherTypeARP},
		{Type: MatchEtherType, Not: true, Value16: etherTypeIPv6},
		{Type: ActionDrop},
		{Type: MatchIPProtocol, Value8: 6},
		{Type: MatchIPDestPortRange, Start: 22, End: 22},
		{Type: ActionDrop},
		{Type: MatchTagsDifference, Not: true, TagID: 1, TagValue: 0},
		{Type: MatchCharacteristics, Mask: CharSenderIPAuthenticated | CharTCPSYN},
		{Type: ActionBreak},
		{Type: MatchIPv6Source, IP: pfx("fd00::/8")},
		{Type: MatchICMP, Or: true, ICMP: [3]uint8{128, 0, 0}},
		{Type: ActionTee, Address: other, Length: 64},
		{Type: ActionAccept},
	}
	p := in(etherTypeIPv6, tcp6Ext)
	e := withEnv(func(e *testEnv) {
		e.local = map[uint32]uint32{1: 5}
		e.remote = map[uint32]uint32{1: 5}
		e.ipAuth = map[netip.Addr]bool{netip.MustParseAddr("fd00::1"): true}
	})
	return table, &p, e
}

func BenchmarkEvaluate(b *testing.B) {
	table, p, e := benchSetup()
	b.ReportAllocs()
	for b.Loop() {
		Evaluate(table, p, e)
	}
}
