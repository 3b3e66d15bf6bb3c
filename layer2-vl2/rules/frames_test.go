package rules

import (
	"encoding/binary"
	"net/netip"
)

// Test frames: Ethernet payloads built field by field.

const (
	tcpFIN = 0x01
	tcpSYN = 0x02
	tcpPSH = 0x08
	tcpACK = 0x10
)

func ipv4Frame(proto, tos byte, src, dst string, l4 []byte) []byte {
	h := make([]byte, 20, 20+len(l4))
	h[0], h[1] = 0x45, tos
	binary.BigEndian.PutUint16(h[2:], uint16(20+len(l4)))
	h[8], h[9] = 64, proto
	s, d := netip.MustParseAddr(src).As4(), netip.MustParseAddr(dst).As4()
	copy(h[12:], s[:])
	copy(h[16:], d[:])
	return append(h, l4...)
}

// ipv6Frame has traffic class tc and first next-header next.
func ipv6Frame(next, tc byte, src, dst string, rest []byte) []byte {
	h := make([]byte, 40, 40+len(rest))
	h[0], h[1] = 0x60|tc>>4, tc<<4
	binary.BigEndian.PutUint16(h[4:], uint16(len(rest)))
	h[6], h[7] = next, 64
	s, d := netip.MustParseAddr(src).As16(), netip.MustParseAddr(dst).As16()
	copy(h[8:], s[:])
	copy(h[24:], d[:])
	return append(h, rest...)
}

// extHeader is an 8-byte IPv6 extension header followed by rest.
func extHeader(next byte, rest []byte) []byte {
	return append([]byte{next, 0, 1, 4, 0, 0, 0, 0}, rest...)
}

// tcpHeader is 20 bytes; ns is the low nibble of byte 12 (reserved bits and NS).
func tcpHeader(sport, dport uint16, flags, ns byte) []byte {
	h := make([]byte, 20)
	binary.BigEndian.PutUint16(h, sport)
	binary.BigEndian.PutUint16(h[2:], dport)
	h[12], h[13] = 0x50|ns, flags
	return h
}

func udpHeader(sport, dport uint16) []byte {
	h := make([]byte, 8)
	binary.BigEndian.PutUint16(h, sport)
	binary.BigEndian.PutUint16(h[2:], dport)
	return h
}

func icmpHeader(typ, code byte) []byte { return []byte{typ, code, 0, 0, 0, 0, 0, 0} }

// arpFrame is an IPv4-over-Ethernet ARP request from spa.
func arpFrame(spa string) []byte {
	f := []byte{0, 1, 8, 0, 6, 4, 0, 1}
	f = append(f, 0x02, 0, 0, 0, 0, 1) // sender hardware address
	a := netip.MustParseAddr(spa).As4()
	f = append(f, a[:]...)
	return append(f, make([]byte, 10)...) // target hardware and protocol addresses
}

// ndpFrame is an ICMPv6 neighbor solicitation (135) or advertisement (136)
// for target.
func ndpFrame(typ byte, src, target string) []byte {
	body := []byte{typ, 0, 0, 0, 0, 0, 0, 0}
	t := netip.MustParseAddr(target).As16()
	return ipv6Frame(58, 0, src, "ff02::1:ff00:99", append(body, t[:]...))
}

var (
	tcp4      = ipv4Frame(6, 0x28, "10.1.2.3", "192.168.7.9", tcpHeader(40000, 22, tcpSYN, 0))
	tcp4Short = ipv4Frame(6, 0, "10.1.2.3", "192.168.7.9", []byte{0x9c, 0x40, 0, 22}) // ports cut off at exactly 4 bytes
	udp4      = ipv4Frame(17, 0, "10.1.2.3", "8.8.8.8", udpHeader(5353, 53))
	udp4Port0 = ipv4Frame(17, 0, "10.1.2.3", "8.8.8.8", udpHeader(0, 0))
	icmp4Echo = ipv4Frame(1, 0, "10.1.2.3", "10.1.2.4", icmpHeader(8, 0))
	icmp4Unr  = ipv4Frame(1, 0, "10.1.2.3", "10.1.2.4", icmpHeader(3, 4))
	arp       = arpFrame("10.9.9.9")
	tcp6      = ipv6Frame(6, 0xb8, "fd00::1", "fd00::2", tcpHeader(40000, 443, tcpACK|tcpPSH, 1))
	// hop-by-hop → destination options → TCP
	tcp6Ext   = ipv6Frame(0, 0, "fd00::1", "fd00::2", extHeader(60, extHeader(6, tcpHeader(1234, 443, tcpFIN, 0))))
	udp6      = ipv6Frame(17, 0, "fd00::1", "fd00::2", udpHeader(5353, 53))
	udp6Port0 = ipv6Frame(17, 0, "fd00::1", "fd00::2", udpHeader(0, 0))
	icmp6Ext  = ipv6Frame(60, 0, "fd00::1", "fd00::2", extHeader(58, icmpHeader(128, 0)))
	v6Frag    = ipv6Frame(44, 0, "fd00::1", "fd00::2", extHeader(17, udpHeader(1, 2)))
	// a hop-by-hop header claiming 48 bytes in a 48-byte frame: the walk runs off the end
	v6Broken = ipv6Frame(0, 0, "fd00::1", "fd00::2", []byte{6, 5, 0, 0, 0, 0, 0, 0})
	ndpNS    = ndpFrame(135, "::", "fd00::99")
	ndpNA    = ndpFrame(136, "fe80::1", "fd00::99")
	counting = []byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}
)
