package vl2wire

import (
	"net/netip"
	"testing"

	"github.com/ztgo/ztgo/layer1-vl1/identity"
)

func TestMACFor(t *testing.T) {
	tests := []struct {
		name string
		addr identity.Address
		nwid uint64
		mac  string
	}{
		// vl2.md §1.2 worked example.
		{"spec example", 0x89e92ceee5, 0x8056c2e21c000001, "02:89:e9:30:0c:27"},
		// Tap MACs of the lab (captures/basic/README.md).
		{"lab za", 0x203540ed5f, 0x6a65e33cf6e2a383, "82:83:d7:b6:d1:bc"},
		{"lab zb", 0xa9a35b19f2, 0x6a65e33cf6e2a383, "82:0a:41:ad:25:11"},
		// Low byte 0x50 would give first octet 0x52, which is replaced.
		{"0x52 avoided", 0x0102030405, 0x0000000000000050, "32:01:02:03:04:05"},
		{"0x53 avoided", 0x0102030405, 0x0000000000000053, "32:01:02:03:04:05"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := MACFor(tt.addr, tt.nwid)
			if m.String() != tt.mac {
				t.Fatalf("MACFor(%v, %016x) = %v, want %s", tt.addr, tt.nwid, m, tt.mac)
			}
			if a := AddressFromMAC(m, tt.nwid); a != tt.addr {
				t.Errorf("AddressFromMAC = %v, want %v", a, tt.addr)
			}
			if !IsMemberMAC(m, tt.nwid) || m.IsMulticast() {
				t.Errorf("%v: member=%v multicast=%v", m, IsMemberMAC(m, tt.nwid), m.IsMulticast())
			}
			p, err := ParseMAC(tt.mac)
			if err != nil || p != m {
				t.Errorf("ParseMAC(%q) = %v, %v", tt.mac, p, err)
			}
		})
	}
}

func TestMACText(t *testing.T) {
	for _, bad := range []string{"", "82:83:d7:b6:d1", "82-83-d7-b6-d1-bc", "82:83:d7:b6:d1:bg", "82:83:d7:b6:d1:bc:00"} {
		if _, err := ParseMAC(bad); err == nil {
			t.Errorf("ParseMAC(%q) accepted", bad)
		}
	}
	m, err := ParseMAC("FF:FF:FF:FF:FF:FF")
	if err != nil || !m.IsBroadcast() || !m.IsMulticast() || m != BroadcastMAC {
		t.Errorf("broadcast: %v %v", m, err)
	}
	if MAC(0x333300000001).IsBroadcast() || !MAC(0x333300000001).IsMulticast() {
		t.Error("33:33:00:00:00:01 flags")
	}
	b := MAC(0x8283d7b6d1bc).Append(nil)
	if MACFromBytes(b) != 0x8283d7b6d1bc || len(b) != 6 || b[0] != 0x82 || b[5] != 0xbc {
		t.Errorf("Append = %x", b)
	}
	var u MAC
	if err := u.UnmarshalText([]byte("82:0a:41:ad:25:11")); err != nil || u != 0x820a41ad2511 {
		t.Errorf("UnmarshalText = %v %v", u, err)
	}
}

func TestNetworkID(t *testing.T) {
	const nwid = 0x6a65e33cf6e2a383
	if s := NetworkIDString(nwid); s != "6a65e33cf6e2a383" {
		t.Errorf("NetworkIDString = %s", s)
	}
	if s := NetworkIDString(1); s != "0000000000000001" {
		t.Errorf("NetworkIDString(1) = %s", s)
	}
	if v, err := ParseNetworkID("6A65E33CF6E2A383"); err != nil || v != nwid {
		t.Errorf("ParseNetworkID = %x %v", v, err)
	}
	for _, bad := range []string{"6a65e33cf6e2a38", "6a65e33cf6e2a3833", "6a65e33cf6e2a38g", "+a65e33cf6e2a383"} {
		if _, err := ParseNetworkID(bad); err == nil {
			t.Errorf("ParseNetworkID(%q) accepted", bad)
		}
	}
	if c := ControllerOf(nwid); c != 0x6a65e33cf6 {
		t.Errorf("ControllerOf = %v", c)
	}
}

func TestAddressResolutionGroup(t *testing.T) {
	tests := []struct {
		ip   string
		want string
	}{
		// ARP group of za's and zb's IPv4 addresses (captures/basic).
		{"10.147.20.249", "ff:ff:ff:ff:ff:ff/0a9314f9"},
		{"10.147.20.156", "ff:ff:ff:ff:ff:ff/0a93149c"},
		// za's link-local address (EUI-64 of 82:83:d7:b6:d1:bc): the
		// capture shows za subscribing to 33:33:ff:b6:d1:bc.
		{"fe80::8083:d7ff:feb6:d1bc", "33:33:ff:b6:d1:bc/00000000"},
		{"fd6a:65e3:3cf6:e2a3:8399:9320:3540:ed5f", "33:33:ff:40:ed:5f/00000000"},
	}
	for _, tt := range tests {
		if g := AddressResolutionGroup(netip.MustParseAddr(tt.ip)); g.String() != tt.want {
			t.Errorf("%s: %v, want %s", tt.ip, g, tt.want)
		}
	}
	if g := AddressResolutionGroup(netip.Addr{}); g != (MulticastGroup{}) {
		t.Errorf("invalid address gave %v", g)
	}
}

func TestGroupCompare(t *testing.T) {
	a := MulticastGroup{MAC: 0x333300000001}
	b := MulticastGroup{MAC: 0x333300000001, ADI: 1}
	c := BroadcastGroup
	if a.Compare(b) >= 0 || b.Compare(c) >= 0 || c.Compare(a) <= 0 || a.Compare(a) != 0 {
		t.Error("group ordering is not MAC, then ADI")
	}
}
