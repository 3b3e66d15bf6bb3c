package vl2wire

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"strconv"

	"github.com/ztgo/ztgo/layer1-vl1/identity"
)

// MACLength is the size of a MAC on the wire.
const MACLength = 6

// MAC is a 48-bit Ethernet address held in the low bits of a uint64, most
// significant byte first on the wire (vl2.md §1.2).
type MAC uint64

// BroadcastMAC is ff:ff:ff:ff:ff:ff.
const BroadcastMAC MAC = 0xffffffffffff

const macMask = 0xffffffffffff

// MACFromBytes reads a MAC from the first 6 bytes of b.
func MACFromBytes(b []byte) MAC {
	_ = b[5]
	return MAC(uint64(binary.BigEndian.Uint16(b))<<32 | uint64(binary.BigEndian.Uint32(b[2:])))
}

// Append appends the MAC's 6 bytes to b.
func (m MAC) Append(b []byte) []byte {
	return append(b, byte(m>>40), byte(m>>32), byte(m>>24), byte(m>>16), byte(m>>8), byte(m))
}

// IsMulticast reports whether the group bit (0x01 of the first octet) is set;
// broadcast is multicast too.
func (m MAC) IsMulticast() bool { return (m>>40)&0x01 != 0 }

// IsBroadcast reports whether m is ff:ff:ff:ff:ff:ff.
func (m MAC) IsBroadcast() bool { return m&macMask == BroadcastMAC }

// String is the colon-separated lower-case form, e.g. 82:83:d7:b6:d1:bc.
func (m MAC) String() string {
	const digits = "0123456789abcdef"
	var buf [17]byte
	for i := range 6 {
		o := byte(m >> (40 - 8*i))
		if i > 0 {
			buf[3*i-1] = ':'
		}
		buf[3*i] = digits[o>>4]
		buf[3*i+1] = digits[o&0xf]
	}
	return string(buf[:])
}

// ParseMAC parses six colon-separated two-digit hex octets, either case.
func ParseMAC(s string) (MAC, error) {
	if len(s) != 17 {
		return 0, fmt.Errorf("MAC %q: want xx:xx:xx:xx:xx:xx", s)
	}
	var m MAC
	for i := range 6 {
		if i > 0 && s[3*i-1] != ':' {
			return 0, fmt.Errorf("MAC %q: want ':' at position %d", s, 3*i-1)
		}
		o, err := strconv.ParseUint(s[3*i:3*i+2], 16, 8)
		if err != nil {
			return 0, fmt.Errorf("MAC %q: octet %d is not hex", s, i+1)
		}
		m = m<<8 | MAC(o)
	}
	return m, nil
}

// MarshalText implements encoding.TextMarshaler.
func (m MAC) MarshalText() ([]byte, error) { return []byte(m.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (m *MAC) UnmarshalText(b []byte) error {
	v, err := ParseMAC(string(b))
	if err != nil {
		return err
	}
	*m = v
	return nil
}

// MulticastGroup is a multicast MAC plus the 32-bit "additional
// distinguishing information"; on the wire MAC(6) ADI(4) (vl2.md §1.3).
type MulticastGroup struct {
	MAC MAC
	ADI uint32
}

// BroadcastGroup is ff:ff:ff:ff:ff:ff/0, subscribed to only when the network
// enables broadcast.
var BroadcastGroup = MulticastGroup{MAC: BroadcastMAC}

// GroupLength is the size of a multicast group on the wire.
const GroupLength = MACLength + 4

// Append appends MAC(6) ADI(4).
func (g MulticastGroup) Append(b []byte) []byte {
	return appendU32(g.MAC.Append(b), g.ADI)
}

// String is mac/adi with the ADI as 8 hex digits, e.g.
// ff:ff:ff:ff:ff:ff/0a9314f9.
func (g MulticastGroup) String() string {
	return fmt.Sprintf("%v/%08x", g.MAC, g.ADI)
}

// Compare orders groups by MAC, then ADI, as the reference sorts them.
func (g MulticastGroup) Compare(o MulticastGroup) int {
	switch {
	case g.MAC < o.MAC:
		return -1
	case g.MAC > o.MAC:
		return 1
	case g.ADI < o.ADI:
		return -1
	case g.ADI > o.ADI:
		return 1
	}
	return 0
}

// AddressResolutionGroup is the group an ARP request or IPv6 neighbour
// solicitation for ip is sent to: ff:ff:ff:ff:ff:ff with the IPv4 address as
// ADI, or the solicited-node MAC 33:33:ff:xx:xx:xx with ADI 0 (vl2.md §1.3).
// Other addresses give the zero group.
func AddressResolutionGroup(ip netip.Addr) MulticastGroup {
	switch {
	case ip.Is4():
		a := ip.As4()
		return MulticastGroup{MAC: BroadcastMAC, ADI: binary.BigEndian.Uint32(a[:])}
	case ip.Is6():
		a := ip.As16()
		return MulticastGroup{MAC: 0x3333ff<<24 | MAC(a[13])<<16 | MAC(a[14])<<8 | MAC(a[15])}
	}
	return MulticastGroup{}
}

// NetworkIDString is the 16-digit lower-case hex form of a network ID.
func NetworkIDString(nwid uint64) string { return fmt.Sprintf("%016x", nwid) }

// ParseNetworkID parses exactly 16 hex digits.
func ParseNetworkID(s string) (uint64, error) {
	if len(s) != 16 {
		return 0, fmt.Errorf("network ID %q: want 16 hex digits, got %d characters", s, len(s))
	}
	v, err := strconv.ParseUint(s, 16, 64)
	if err != nil {
		return 0, fmt.Errorf("network ID %q: not hexadecimal", s)
	}
	return v, nil
}

// ControllerOf is the address of a network's controller: the top 40 bits of
// the network ID (vl2.md §1.1).
func ControllerOf(nwid uint64) identity.Address { return identity.Address(nwid >> 24) }

// MACFirstOctet is the first octet of every member MAC on network nwid: the
// low byte of the ID with the multicast bit cleared and the locally
// administered bit set, 0x52 replaced by 0x32 (vl2.md §1.2).
func MACFirstOctet(nwid uint64) byte {
	b := byte(nwid&0xfe) | 0x02
	if b == 0x52 {
		return 0x32
	}
	return b
}

// nwidMask is the 40-bit value a member address is XORed with to form the
// low five bytes of its MAC: network ID bytes 6,5,4,3,2 (big-endian
// numbering) placed in MAC bytes 1..5.
func nwidMask(nwid uint64) uint64 {
	return (nwid>>8&0xff)<<32 | (nwid>>16&0xff)<<24 | (nwid>>24&0xff)<<16 |
		(nwid>>32&0xff)<<8 | nwid>>40&0xff
}

// MACFor is the MAC of member addr on network nwid.
func MACFor(addr identity.Address, nwid uint64) MAC {
	return MAC(uint64(MACFirstOctet(nwid))<<40 | (uint64(addr)&0xffffffffff ^ nwidMask(nwid)))
}

// AddressFromMAC inverts MACFor. It is meaningful only for MACs that pass
// IsMemberMAC; any other MAC belongs to something behind a bridge.
func AddressFromMAC(mac MAC, nwid uint64) identity.Address {
	return identity.Address(uint64(mac)&0xffffffffff ^ nwidMask(nwid))
}

// IsMemberMAC reports whether mac has the first octet of member MACs on
// nwid, which is how a unicast destination is recognised as a ZeroTier
// member rather than a bridged host.
func IsMemberMAC(mac MAC, nwid uint64) bool {
	return byte(mac>>40) == MACFirstOctet(nwid)
}
