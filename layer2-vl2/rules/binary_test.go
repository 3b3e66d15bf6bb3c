package rules

import (
	"bytes"
	"encoding/hex"
	"errors"
	"net/netip"
	"reflect"
	"strings"
	"testing"
)

// unhex decodes hex with spaces and newlines ignored.
func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

// specExample is the table of the worked example in vl2.md §5.2 and the
// bytes the reference serializer produces for it.
var specExample = []Rule{
	{Type: MatchEtherType, Not: true, Value16: 0x86dd},
	{Type: ActionDrop},
	{Type: MatchIPv4Dest, IP: netip.MustParsePrefix("10.0.0.0/8")},
	{Type: MatchIPDestPortRange, Or: true, Start: 22, End: 22},
	{Type: ActionTee, Address: 0x89e92ceee5, Length: 128},
	{Type: ActionAccept},
}

const specExampleHex = `
a5 02 86 dd
00 00
20 05 0a 00 00 00 08
68 04 00 16 00 16
02 0e 00 00 00 89 e9 2c ee e5 00 00 00 00 00 80
01 00`

func TestSpecExample(t *testing.T) {
	want := unhex(t, specExampleHex)
	if got := AppendTable(nil, specExample); !bytes.Equal(got, want) {
		t.Fatalf("AppendTable:\n got %x\nwant %x", got, want)
	}
	rs, err := ParseTable(want)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(rs, specExample) {
		t.Fatalf("ParseTable:\n got %+v\nwant %+v", rs, specExample)
	}
}

// everyType has one rule of each known type with distinctive values.
var everyType = []Rule{
	{Type: ActionDrop},
	{Type: ActionAccept},
	{Type: ActionTee, Address: 0x0102030405, Flags: 0xdeadbeef, Length: 1500},
	{Type: ActionWatch, Address: 0xfffffffffff, Flags: 1, Length: 64}, // > 40 bits survives on the wire
	{Type: ActionRedirect, Address: 0xabcdef0123, Flags: 7},
	{Type: ActionBreak},
	{Type: ActionPriority},
	{Type: MatchSourceZeroTierAddress, Address: 0x89e92ceee5},
	{Type: MatchDestZeroTierAddress, Not: true, Address: 0x0000000001},
	{Type: MatchVlanID, Value16: 4095},
	{Type: MatchVlanPCP, Value8: 5},
	{Type: MatchVlanDEI, Or: true, Value8: 1},
	{Type: MatchMACSource, MAC: 0x0a1b2c3d4e5f},
	{Type: MatchMACDest, MAC: 0xffffffffffff},
	{Type: MatchIPv4Source, IP: netip.MustParsePrefix("192.168.1.77/24")},
	{Type: MatchIPv4Dest, Not: true, Or: true, IP: netip.MustParsePrefix("0.0.0.0/0")},
	{Type: MatchIPv6Source, IP: netip.MustParsePrefix("fd00:1234::/64")},
	{Type: MatchIPv6Dest, IP: netip.MustParsePrefix("2001:db8::1/128")},
	{Type: MatchIPTOS, TOS: [3]uint8{0xfc, 0x20, 0x40}},
	{Type: MatchIPProtocol, Value8: 17},
	{Type: MatchEtherType, Value16: 0x0806},
	{Type: MatchICMP, ICMP: [3]uint8{3, 4, 1}},
	{Type: MatchIPSourcePortRange, Start: 1, End: 1024},
	{Type: MatchIPDestPortRange, Start: 443, End: 443},
	{Type: MatchCharacteristics, Mask: CharInbound | CharTCPSYN},
	{Type: MatchFrameSizeRange, Start: 0, End: 65535},
	{Type: MatchRandom, Probability: 0x7fffffff},
	{Type: MatchTagsDifference, TagID: 1, TagValue: 2},
	{Type: MatchTagsBitwiseAnd, TagID: 3, TagValue: 4},
	{Type: MatchTagsBitwiseOr, TagID: 5, TagValue: 6},
	{Type: MatchTagsBitwiseXor, TagID: 7, TagValue: 8},
	{Type: MatchTagsEqual, TagID: 9, TagValue: 10},
	{Type: MatchTagSender, TagID: 0xffffffff, TagValue: 0},
	{Type: MatchTagReceiver, TagID: 1000, TagValue: 100},
	{Type: MatchIntegerRange, Start: 1 << 40, End: 0xffffffff, Idx: 12, Format: 0x80 | 15},
}

func TestRoundTripEveryType(t *testing.T) {
	for _, r := range everyType {
		t.Run(r.Type.String(), func(t *testing.T) {
			b := AppendTable(nil, []Rule{r})
			if want := valueLen(r.Type); int(b[1]) != want || len(b) != 2+want {
				t.Fatalf("%x: L=%d, %d bytes; want L=%d", b, b[1], len(b), want)
			}
			rs, err := ParseTable(b)
			if err != nil {
				t.Fatal(err)
			}
			if len(rs) != 1 || !reflect.DeepEqual(rs[0], r) {
				t.Fatalf("%x decodes as %+v, want %+v", b, rs, r)
			}
		})
	}
	all := AppendTable(nil, everyType)
	rs, err := ParseTable(all)
	if err != nil || !reflect.DeepEqual(rs, everyType) {
		t.Fatalf("whole table: %v\n got %+v", err, rs)
	}
}

func TestWireQuirks(t *testing.T) {
	tests := []struct {
		name string
		rule Rule
		wire string
		back Rule // what ParseTable gives for wire
	}{
		{"priority bucket is not serialized",
			Rule{Type: ActionPriority, Value8: 7}, "06 00", Rule{Type: ActionPriority}},
		{"integer range carries the absolute end",
			Rule{Type: MatchIntegerRange, Start: 100, End: 50, Idx: 2, Format: 7},
			"33 13 0000000000000064 0000000000000096 0002 07",
			Rule{Type: MatchIntegerRange, Start: 100, End: 50, Idx: 2, Format: 7}},
		{"integer range relative end is 32 bits",
			Rule{Type: MatchIntegerRange, Start: 0xfffffffffffffff0, End: 0x20},
			"33 13 fffffffffffffff0 0000000000000010 0000 00",
			Rule{Type: MatchIntegerRange, Start: 0xfffffffffffffff0, End: 0x20}},
		{"zt address is 5 bytes",
			Rule{Type: MatchSourceZeroTierAddress, Address: 0x1122334455},
			"18 05 1122334455", Rule{Type: MatchSourceZeroTierAddress, Address: 0x1122334455}},
		{"ipv6 keeps host bits",
			Rule{Type: MatchIPv6Source, IP: netip.MustParsePrefix("fd00::1/8")},
			"21 11 fd000000000000000000000000000001 08",
			Rule{Type: MatchIPv6Source, IP: netip.MustParsePrefix("fd00::1/8")}},
		{"wrong-family ipv4 rule writes zeros",
			Rule{Type: MatchIPv4Source, IP: netip.MustParsePrefix("::1/24")},
			"1f 05 00000000 18", Rule{Type: MatchIPv4Source, IP: netip.MustParsePrefix("0.0.0.0/24")}},
		{"NOT and OR on an action are kept",
			Rule{Type: ActionAccept, Not: true, Or: true}, "c1 00", Rule{Type: ActionAccept, Not: true, Or: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := unhex(t, tt.wire)
			if got := AppendTable(nil, []Rule{tt.rule}); !bytes.Equal(got, want) {
				t.Fatalf("encodes as %x, want %x", got, want)
			}
			rs, err := ParseTable(want)
			if err != nil || len(rs) != 1 || !reflect.DeepEqual(rs[0], tt.back) {
				t.Fatalf("decodes as %+v (%v), want %+v", rs, err, tt.back)
			}
		})
	}
}

// Tables the reference would not write still re-encode byte for byte.
func TestOddTablesReencode(t *testing.T) {
	tests := []struct {
		name, wire string
		check      func(t *testing.T, r Rule)
	}{
		{"unknown match with a value", "14 03 010203", func(t *testing.T, r Rule) {
			if r.Type != 20 || !bytes.Equal(r.Raw, []byte{1, 2, 3}) {
				t.Errorf("got %+v", r)
			}
		}},
		{"unknown match without a value", "bf 00", func(t *testing.T, r Rule) {
			if r.Type != 63 || !r.Not || r.Or || r.Raw != nil {
				t.Errorf("got %+v", r)
			}
		}},
		{"unknown action", "07 02 aabb", func(t *testing.T, r Rule) {
			if r.Type != 7 || !r.Type.IsAction() || r.Type.Known() {
				t.Errorf("got %+v", r)
			}
		}},
		{"ethertype with a long value", "25 03 0800ff", func(t *testing.T, r Rule) {
			if r.Value16 != 0x0800 || len(r.Raw) != 3 {
				t.Errorf("got %+v", r)
			}
		}},
		{"ethertype with a short value", "25 01 08", func(t *testing.T, r Rule) {
			if r.Value16 != 0x0800 || len(r.Raw) != 1 {
				t.Errorf("got %+v", r)
			}
		}},
		{"port range without a value", "28 00", func(t *testing.T, r Rule) {
			if r.Raw == nil || len(r.Raw) != 0 {
				t.Errorf("got %+v", r)
			}
		}},
		{"accept with a value", "01 01 00", nil},
		{"ipv4 mask beyond 32", "1f 05 0a000000 28", func(t *testing.T, r Rule) {
			if r.IP.Bits() != 32 || r.Raw == nil {
				t.Errorf("got %+v", r)
			}
		}},
		{"ipv6 mask beyond 128", "22 11 00000000000000000000000000000000 ff", nil},
		{"integer range wider than 32 bits", "33 13 0000000000000000 0000000100000000 0000 00", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := unhex(t, tt.wire)
			rs, err := ParseTable(b)
			if err != nil || len(rs) != 1 {
				t.Fatalf("ParseTable: %v %+v", err, rs)
			}
			if tt.check != nil {
				tt.check(t, rs[0])
			}
			if got := AppendTable(nil, rs); !bytes.Equal(got, b) {
				t.Fatalf("re-encodes as %x, want %x", got, b)
			}
		})
	}
}

func TestParseTruncated(t *testing.T) {
	full := unhex(t, specExampleHex)
	ends := map[int]bool{0: true, 4: true, 6: true, 13: true, 19: true, 35: true, 37: true}
	for n := 1; n < len(full); n++ {
		_, err := ParseTable(full[:n])
		if ends[n] {
			if err != nil {
				t.Errorf("%d bytes (a rule boundary): %v", n, err)
			}
			continue
		}
		if !errors.Is(err, ErrMalformed) {
			t.Errorf("%d bytes: err = %v, want ErrMalformed", n, err)
		}
	}
	if rs, err := ParseTable(nil); rs != nil || err != nil {
		t.Errorf("empty table: %v %v", rs, err)
	}
}

func TestParseRules(t *testing.T) {
	full := unhex(t, specExampleHex)
	withTail := append(append([]byte{}, full...), 0x07, 0xff, 0xff) // e.g. a capability's custody chain follows
	tests := []struct {
		count, used int
		err         bool
	}{
		{0, 0, false},
		{1, 4, false},
		{3, 13, false},
		{6, len(full), false},
		{7, 0, true}, // the tail is a rule header with L=255 and no value
		{100, 0, true},
		{-1, 0, true},
	}
	for _, tt := range tests {
		rs, used, err := ParseRules(withTail, tt.count)
		if tt.err {
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("count %d: err = %v, want ErrMalformed", tt.count, err)
			}
			continue
		}
		if err != nil || used != tt.used || len(rs) != tt.count {
			t.Errorf("count %d: %d rules, %d bytes, %v; want %d bytes", tt.count, len(rs), used, err, tt.used)
			continue
		}
		if tt.count > 0 && !reflect.DeepEqual(rs, specExample[:tt.count]) {
			t.Errorf("count %d: got %+v", tt.count, rs)
		}
	}
}

func TestTypeNames(t *testing.T) {
	for _, tt := range []struct {
		t    Type
		want string
	}{{ActionDrop, "ACTION_DROP"}, {MatchIntegerRange, "MATCH_INTEGER_RANGE"}, {7, "TYPE_7"}, {52, "TYPE_52"}} {
		if got := tt.t.String(); got != tt.want {
			t.Errorf("Type(%d).String() = %q, want %q", tt.t, got, tt.want)
		}
	}
}
