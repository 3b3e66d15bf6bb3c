package rules

import (
	"encoding/json"
	"net/netip"
	"reflect"
	"testing"
)

// marshal is json.Marshal for tests (map keys come out sorted).
func marshal(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// decodeJSON decodes s as encoding/json would for a stored network file.
func decodeJSON(t testing.TB, s string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("bad JSON %s: %v", s, err)
	}
	return v
}

func TestRenderJSON(t *testing.T) {
	tests := []struct {
		rule Rule
		want string
	}{
		{Rule{Type: ActionDrop}, `{"type":"ACTION_DROP"}`},
		{Rule{Type: ActionAccept, Not: true}, `{"type":"ACTION_ACCEPT"}`},
		{Rule{Type: ActionBreak}, `{"type":"ACTION_BREAK"}`},
		{Rule{Type: ActionTee, Address: 0x89e92ceee5, Length: 128, Flags: 3},
			`{"address":"89e92ceee5","flags":3,"length":128,"type":"ACTION_TEE"}`},
		{Rule{Type: ActionWatch, Address: 0x1ff00000001},
			`{"address":"ff00000001","flags":0,"length":0,"type":"ACTION_WATCH"}`},
		{Rule{Type: ActionRedirect, Address: 0xa, Length: 99},
			`{"address":"000000000a","flags":0,"type":"ACTION_REDIRECT"}`},
		{Rule{Type: ActionPriority, Value8: 3}, `{}`},
		{Rule{Type: 9}, `{}`},
		{Rule{Type: 60, Not: true}, `{}`},
		{Rule{Type: MatchSourceZeroTierAddress, Address: 0x89e92ceee5, Not: true},
			`{"not":true,"or":false,"type":"MATCH_SOURCE_ZEROTIER_ADDRESS","zt":"89e92ceee5"}`},
		{Rule{Type: MatchDestZeroTierAddress, Address: 1, Or: true},
			`{"not":false,"or":true,"type":"MATCH_DEST_ZEROTIER_ADDRESS","zt":"0000000001"}`},
		{Rule{Type: MatchVlanID, Value16: 7}, `{"not":false,"or":false,"type":"MATCH_VLAN_ID","vlanId":7}`},
		{Rule{Type: MatchVlanPCP, Value8: 2}, `{"not":false,"or":false,"type":"MATCH_VLAN_PCP","vlanPcp":2}`},
		{Rule{Type: MatchVlanDEI, Value8: 1}, `{"not":false,"or":false,"type":"MATCH_VLAN_DEI","vlanDei":1}`},
		{Rule{Type: MatchMACSource, MAC: 0x0a1b2c3d4e5f},
			`{"mac":"0a:1b:2c:3d:4e:5f","not":false,"or":false,"type":"MATCH_MAC_SOURCE"}`},
		{Rule{Type: MatchMACDest, MAC: 0xffffffffffff},
			`{"mac":"ff:ff:ff:ff:ff:ff","not":false,"or":false,"type":"MATCH_MAC_DEST"}`},
		{Rule{Type: MatchIPv4Source, IP: netip.MustParsePrefix("10.1.2.3/8")},
			`{"ip":"10.1.2.3/8","not":false,"or":false,"type":"MATCH_IPV4_SOURCE"}`},
		{Rule{Type: MatchIPv4Dest}, `{"ip":"0.0.0.0/0","not":false,"or":false,"type":"MATCH_IPV4_DEST"}`},
		{Rule{Type: MatchIPv6Source, IP: netip.MustParsePrefix("fd00:0:0:0:0:0:0:1/64")},
			`{"ip":"fd00::1/64","not":false,"or":false,"type":"MATCH_IPV6_SOURCE"}`},
		{Rule{Type: MatchIPv6Dest, IP: netip.MustParsePrefix("::102:304/96")},
			`{"ip":"::1.2.3.4/96","not":false,"or":false,"type":"MATCH_IPV6_DEST"}`},
		{Rule{Type: MatchIPTOS, TOS: [3]uint8{0xfc, 8, 16}},
			`{"end":16,"mask":252,"not":false,"or":false,"start":8,"type":"MATCH_IP_TOS"}`},
		{Rule{Type: MatchIPProtocol, Value8: 6}, `{"ipProtocol":6,"not":false,"or":false,"type":"MATCH_IP_PROTOCOL"}`},
		{Rule{Type: MatchEtherType, Value16: 0x86dd}, `{"etherType":34525,"not":false,"or":false,"type":"MATCH_ETHERTYPE"}`},
		{Rule{Type: MatchICMP, ICMP: [3]uint8{8, 5, 0}},
			`{"icmpCode":null,"icmpType":8,"not":false,"or":false,"type":"MATCH_ICMP"}`},
		{Rule{Type: MatchICMP, ICMP: [3]uint8{3, 4, 1}},
			`{"icmpCode":4,"icmpType":3,"not":false,"or":false,"type":"MATCH_ICMP"}`},
		{Rule{Type: MatchIPSourcePortRange, Start: 1, End: 1024},
			`{"end":1024,"not":false,"or":false,"start":1,"type":"MATCH_IP_SOURCE_PORT_RANGE"}`},
		{Rule{Type: MatchIPDestPortRange, Start: 22, End: 22},
			`{"end":22,"not":false,"or":false,"start":22,"type":"MATCH_IP_DEST_PORT_RANGE"}`},
		{Rule{Type: MatchCharacteristics, Mask: CharInbound | CharTCPSYN},
			`{"mask":"8000000000000002","not":false,"or":false,"type":"MATCH_CHARACTERISTICS"}`},
		{Rule{Type: MatchFrameSizeRange, Start: 64, End: 1500},
			`{"end":1500,"not":false,"or":false,"start":64,"type":"MATCH_FRAME_SIZE_RANGE"}`},
		{Rule{Type: MatchRandom, Probability: 0xffffffff},
			`{"not":false,"or":false,"probability":4294967295,"type":"MATCH_RANDOM"}`},
		{Rule{Type: MatchTagsDifference, TagID: 1000, TagValue: 4294967295},
			`{"id":1000,"not":false,"or":false,"type":"MATCH_TAGS_DIFFERENCE","value":4294967295}`},
		{Rule{Type: MatchTagSender, TagID: 1, TagValue: 2},
			`{"id":1,"not":false,"or":false,"type":"MATCH_TAG_SENDER","value":2}`},
		{Rule{Type: MatchTagReceiver, TagID: 1, TagValue: 2},
			`{"id":1,"not":false,"or":false,"type":"MATCH_TAG_RECEIVER","value":2}`},
		{Rule{Type: MatchIntegerRange, Start: 16, End: 16, Idx: 4, Format: 0x80 | 15},
			`{"bits":16,"end":"0000000000000020","idx":4,"little":true,"not":false,"or":false,"start":"0000000000000010","type":"INTEGER_RANGE"}`},
	}
	for _, tt := range tests {
		if got := marshal(t, tt.rule.JSON()); got != tt.want {
			t.Errorf("%v:\n got %s\nwant %s", tt.rule.Type, got, tt.want)
		}
	}
}

// Every rule the controller can parse comes back from its rendering.
func TestJSONRoundTrip(t *testing.T) {
	for _, r := range everyType {
		if r.Type == ActionPriority || r.Type == MatchIntegerRange {
			if _, ok := FromJSON(r.JSON()); ok {
				t.Errorf("%v: FromJSON accepted what the controller cannot parse", r.Type)
			}
			continue
		}
		want := r
		want.Address &= addrMask
		switch r.Type {
		case ActionRedirect:
			want.Length = 0
		case ActionDrop, ActionAccept, ActionBreak, ActionTee, ActionWatch:
			want.Not, want.Or = false, false
		}
		// Through encoding/json too, as a stored file would be.
		js := decodeJSON(t, marshal(t, r.JSON())).(map[string]any)
		got, ok := FromJSON(js)
		if !ok || !reflect.DeepEqual(got, want) {
			t.Errorf("%v: %s parses as %+v (%v), want %+v", r.Type, marshal(t, js), got, ok, want)
		}
	}
}

func TestFromJSONLenient(t *testing.T) {
	tests := []struct {
		in   string
		want Rule
		ok   bool
	}{
		{`{"type":"ACTION_ACCEPT","not":false,"or":false}`, Rule{Type: ActionAccept}, true},
		{`{"type":"ACTION_DROP","not":"true","or":1}`, Rule{Type: ActionDrop, Not: true, Or: true}, true},
		{`{"type":"MATCH_ETHERTYPE","etherType":"2048","not":"false"}`, Rule{Type: MatchEtherType, Value16: 2048}, true},
		{`{"type":"MATCH_ETHERTYPE","etherType":true}`, Rule{Type: MatchEtherType, Value16: 1}, true},
		{`{"type":"MATCH_ETHERTYPE","etherType":2048.9}`, Rule{Type: MatchEtherType, Value16: 2048}, true},
		{`{"type":"MATCH_ETHERTYPE","etherType":-1}`, Rule{Type: MatchEtherType, Value16: 0xffff}, true},
		{`{"type":"MATCH_ETHERTYPE","etherType":" 12abc"}`, Rule{Type: MatchEtherType, Value16: 12}, true},
		{`{"type":"MATCH_ETHERTYPE"}`, Rule{Type: MatchEtherType}, true},
		{`{"type":"MATCH_IP_DEST_PORT_RANGE","start":22}`, Rule{Type: MatchIPDestPortRange, Start: 22, End: 22}, true},
		{`{"type":"MATCH_IP_DEST_PORT_RANGE","start":22,"end":null}`, Rule{Type: MatchIPDestPortRange, Start: 22, End: 22}, true},
		{`{"type":"MATCH_FRAME_SIZE_RANGE","start":70000,"end":"80"}`, Rule{Type: MatchFrameSizeRange, Start: 70000 & 0xffff, End: 80}, true},
		{`{"type":"ACTION_TEE","address":"0x89e92ceee5","length":-1}`, Rule{Type: ActionTee, Address: 0x89e92ceee5, Length: 0xffff}, true},
		{`{"type":"ACTION_TEE","address":"ff89e92ceee5zz"}`, Rule{Type: ActionTee, Address: 0x89e92ceee5}, true},
		{`{"type":"ACTION_REDIRECT","address":12,"length":5}`, Rule{Type: ActionRedirect, Address: 0x12}, true},
		{`{"type":"MATCH_SOURCE_ZEROTIER_ADDRESS"}`, Rule{Type: MatchSourceZeroTierAddress}, true},
		{`{"type":"MATCH_MAC_SOURCE","mac":"0A-1B-2C-3D-4E-5F"}`, Rule{Type: MatchMACSource, MAC: 0x0a1b2c3d4e5f}, true},
		{`{"type":"MATCH_MAC_DEST","mac":"0a1b2c"}`, Rule{Type: MatchMACDest, MAC: 0x0a1b2c000000}, true},
		{`{"type":"MATCH_MAC_DEST","mac":"0a:1g:2"}`, Rule{Type: MatchMACDest, MAC: 0x0a1000000000}, true},
		{`{"type":"MATCH_IPV4_SOURCE","ip":"10.0.0.0/8"}`, Rule{Type: MatchIPv4Source, IP: netip.MustParsePrefix("10.0.0.0/8")}, true},
		{`{"type":"MATCH_IPV4_SOURCE","ip":"10.1.2.3/40"}`, Rule{Type: MatchIPv4Source, IP: netip.MustParsePrefix("10.1.2.3/32")}, true},
		{`{"type":"MATCH_IPV4_SOURCE","ip":"10.1.2.3/264"}`, Rule{Type: MatchIPv4Source, IP: netip.MustParsePrefix("10.1.2.3/8")}, true},
		{`{"type":"MATCH_IPV4_SOURCE","ip":"10.1.2.3"}`, Rule{Type: MatchIPv4Source, IP: netip.MustParsePrefix("10.1.2.3/0")}, true},
		{`{"type":"MATCH_IPV4_SOURCE","ip":"10.1.2.300/24"}`, Rule{Type: MatchIPv4Source, IP: netip.MustParsePrefix("0.0.0.0/24")}, true},
		{`{"type":"MATCH_IPV4_DEST","ip":"fd00::1/24"}`, Rule{Type: MatchIPv4Dest, IP: netip.MustParsePrefix("0.0.0.0/24")}, true},
		{`{"type":"MATCH_IPV4_DEST","ip":"garbage/24"}`, Rule{Type: MatchIPv4Dest, IP: netip.MustParsePrefix("0.0.0.0/0")}, true},
		{`{"type":"MATCH_IPV4_DEST"}`, Rule{Type: MatchIPv4Dest, IP: netip.MustParsePrefix("0.0.0.0/0")}, true},
		{`{"type":"MATCH_IPV6_DEST","ip":"fd00::1/200"}`, Rule{Type: MatchIPv6Dest, IP: netip.MustParsePrefix("fd00::1/128")}, true},
		{`{"type":"MATCH_IPV6_DEST","ip":"10.0.0.1/16"}`, Rule{Type: MatchIPv6Dest, IP: netip.MustParsePrefix("::/16")}, true},
		{`{"type":"MATCH_IPV6_DEST"}`, Rule{Type: MatchIPv6Dest, IP: netip.MustParsePrefix("::/0")}, true},
		{`{"type":"MATCH_ICMP","icmpType":8}`, Rule{Type: MatchICMP, ICMP: [3]uint8{8, 0, 0}}, true},
		{`{"type":"MATCH_ICMP","icmpType":8,"icmpCode":null}`, Rule{Type: MatchICMP, ICMP: [3]uint8{8, 0, 0}}, true},
		{`{"type":"MATCH_ICMP","icmpType":3,"icmpCode":"1"}`, Rule{Type: MatchICMP, ICMP: [3]uint8{3, 1, 1}}, true},
		{`{"type":"MATCH_CHARACTERISTICS","mask":"8000000000000002"}`, Rule{Type: MatchCharacteristics, Mask: 0x8000000000000002}, true},
		{`{"type":"MATCH_CHARACTERISTICS","mask":2}`, Rule{Type: MatchCharacteristics, Mask: 2}, true},
		{`{"type":"MATCH_CHARACTERISTICS"}`, Rule{Type: MatchCharacteristics}, true},
		{`{"type":"MATCH_CHARACTERISTICS","mask":true}`, Rule{}, false},
		{`{"type":"MATCH_CHARACTERISTICS","mask":null}`, Rule{}, false},
		{`{"type":"MATCH_TAGS_EQUAL","id":"1000","value":5}`, Rule{Type: MatchTagsEqual, TagID: 1000, TagValue: 5}, true},
		{`{"type":"ACTION_PRIORITY"}`, Rule{}, false},
		{`{"type":"INTEGER_RANGE","start":"0","end":"10"}`, Rule{}, false},
		{`{"type":"MATCH_INTEGER_RANGE"}`, Rule{}, false},
		{`{"type":"action_accept"}`, Rule{}, false},
		{`{"type":1}`, Rule{}, false},
		{`{}`, Rule{}, false},
	}
	for _, tt := range tests {
		got, ok := FromJSON(decodeJSON(t, tt.in).(map[string]any))
		if ok != tt.ok || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s:\n got %+v %v\nwant %+v %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
	// Go values, not only what encoding/json produces.
	got, ok := FromJSON(map[string]any{"type": "MATCH_IP_PROTOCOL", "ipProtocol": uint8(17), "not": 1})
	if !ok || !reflect.DeepEqual(got, Rule{Type: MatchIPProtocol, Value8: 17, Not: true}) {
		t.Errorf("Go ints: %+v %v", got, ok)
	}
	got, ok = FromJSON(map[string]any{"type": "MATCH_RANDOM", "probability": json.Number("4294967295")})
	if !ok || got.Probability != 0xffffffff {
		t.Errorf("json.Number: %+v %v", got, ok)
	}
}

func TestNormalizeJSON(t *testing.T) {
	in := decodeJSON(t, `[
		{"not":false,"or":false,"type":"ACTION_ACCEPT"},
		"not an object",
		{"type":"ACTION_PRIORITY","qosBucket":3},
		{"type":"MATCH_ETHERTYPE","etherType":"2048","not":true,"extra":1},
		{"type":"MATCH_ICMP","icmpType":"8"},
		null,
		{"type":"ACTION_TEE","address":"89e92ceee5"},
		{"type":"ACTION_DROP"}
	]`).([]any)
	want := `[{"type":"ACTION_ACCEPT"},` +
		`{"etherType":2048,"not":true,"or":false,"type":"MATCH_ETHERTYPE"},` +
		`{"icmpCode":null,"icmpType":8,"not":false,"or":false,"type":"MATCH_ICMP"},` +
		`{"address":"89e92ceee5","flags":0,"length":0,"type":"ACTION_TEE"},` +
		`{"type":"ACTION_DROP"}]`
	out := NormalizeJSON(in)
	if got := marshal(t, out); got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	// Normalized rules are a fixed point, and equal to themselves read back.
	if again := NormalizeJSON(out); !reflect.DeepEqual(again, out) {
		t.Errorf("not idempotent: %s", marshal(t, again))
	}
	if back := decodeJSON(t, want).([]any); !reflect.DeepEqual(back, out) {
		t.Errorf("normalized rules differ from their JSON read back")
	}
	if got := marshal(t, NormalizeJSON(nil)); got != `[]` {
		t.Errorf("empty: %s", got)
	}
}

func TestFormatIP(t *testing.T) {
	for in, want := range map[string]string{
		"::":                 "::",
		"::1":                "::1",
		"::2":                "::2",
		"::1.2.3.4":          "::1.2.3.4",
		"::ffff:1.2.3.4":     "::ffff:1.2.3.4",
		"::1234:0":           "::18.52.0.0",
		"fd00:0:0:1:0:0:0:1": "fd00:0:0:1::1",
		"2001:db8::":         "2001:db8::",
		"1.2.3.4":            "1.2.3.4",
	} {
		if got := formatIP(netip.MustParseAddr(in)); got != want {
			t.Errorf("formatIP(%s) = %s, want %s", in, got, want)
		}
	}
}
