package l2adapter

import (
	"encoding/binary"
	"net/netip"
)

// handleARP answers requests for our addresses and learns senders.
func (a *Adapter) handleARP(p []byte) {
	if len(p) < 28 || binary.BigEndian.Uint16(p[2:4]) != etherIPv4 || p[4] != 6 || p[5] != 4 {
		return
	}
	var sha [6]byte
	copy(sha[:], p[8:14])
	spa := netip.AddrFrom4([4]byte(p[14:18]))
	tpa := netip.AddrFrom4([4]byte(p[24:28]))
	a.learn(spa, sha)
	if binary.BigEndian.Uint16(p[6:8]) != 1 {
		return
	}
	a.mu.Lock()
	_, ours := a.ownsLocked(tpa)
	a.mu.Unlock()
	if ours {
		a.emit(arpFrame(2, a.mac, sha, tpa, spa))
	}
}

// arpFrame builds an ARP request (op 1, to broadcast) or reply (op 2).
func arpFrame(op uint16, from, to [6]byte, spa, tpa netip.Addr) []byte {
	f := make([]byte, ethHeader+28)
	dst := to
	if op == 1 {
		dst = broadcast
		to = [6]byte{}
	}
	copy(f[0:6], dst[:])
	copy(f[6:12], from[:])
	binary.BigEndian.PutUint16(f[12:14], etherARP)
	p := f[ethHeader:]
	binary.BigEndian.PutUint16(p[0:2], 1)
	binary.BigEndian.PutUint16(p[2:4], etherIPv4)
	p[4], p[5] = 6, 4
	binary.BigEndian.PutUint16(p[6:8], op)
	copy(p[8:14], from[:])
	s4, t4 := spa.As4(), tpa.As4()
	copy(p[14:18], s4[:])
	copy(p[18:24], to[:])
	copy(p[24:28], t4[:])
	return f
}

// solicit builds the request that resolves ip: ARP for IPv4, a neighbour
// solicitation to the solicited-node group for IPv6.
func (a *Adapter) solicit(src, ip netip.Addr) []byte {
	if ip.Is4() {
		return arpFrame(1, a.mac, broadcast, src, ip)
	}
	t := ip.As16()
	group := netip.AddrFrom16([16]byte{0xff, 0x02, 11: 0x01, 12: 0xff, 13: t[13], 14: t[14], 15: t[15]})
	body := make([]byte, 32)
	body[0] = 135
	copy(body[8:24], t[:])
	body[24], body[25] = 1, 1 // source link-layer address option
	copy(body[26:32], a.mac[:])
	return a.icmp6Frame(multicastMAC(group), src, group, body)
}

// handleND answers neighbour solicitations for our addresses and learns
// from advertisements; it reports whether p was neighbour discovery.
func (a *Adapter) handleND(from [6]byte, p []byte) bool {
	if len(p) < 40+24 || p[0]>>4 != 6 || p[6] != 58 {
		return false
	}
	typ := p[40]
	if typ != 135 && typ != 136 {
		return false
	}
	target := netip.AddrFrom16([16]byte(p[48:64]))
	src := netip.AddrFrom16([16]byte(p[8:24]))
	if typ == 136 {
		a.learn(target, from)
		return true
	}
	if !src.IsUnspecified() {
		a.learn(src, from)
	}
	a.mu.Lock()
	_, ours := a.ownsLocked(target)
	a.mu.Unlock()
	if ours {
		body := make([]byte, 32)
		body[0] = 136
		body[4] = 0x60 // solicited, override
		t := target.As16()
		copy(body[8:24], t[:])
		body[24], body[25] = 2, 1 // target link-layer address option
		copy(body[26:32], a.mac[:])
		dst := src
		if src.IsUnspecified() {
			dst = netip.MustParseAddr("ff02::1")
		}
		a.emit(a.icmp6Frame(from, target, dst, body))
	}
	return true
}

// icmp6Frame wraps an ICMPv6 body (checksum filled in) in IPv6 and Ethernet.
func (a *Adapter) icmp6Frame(dstMAC [6]byte, src, dst netip.Addr, body []byte) []byte {
	f := make([]byte, ethHeader+40+len(body))
	copy(f[0:6], dstMAC[:])
	copy(f[6:12], a.mac[:])
	binary.BigEndian.PutUint16(f[12:14], etherIPv6)
	ip := f[ethHeader:]
	ip[0] = 0x60
	binary.BigEndian.PutUint16(ip[4:6], uint16(len(body)))
	ip[6], ip[7] = 58, 255
	s, d := src.As16(), dst.As16()
	copy(ip[8:24], s[:])
	copy(ip[24:40], d[:])
	copy(ip[40:], body)
	binary.BigEndian.PutUint16(ip[42:44], icmp6Checksum(s, d, ip[40:]))
	return f
}

func icmp6Checksum(src, dst [16]byte, msg []byte) uint16 {
	var sum uint32
	add := func(b []byte) {
		for i := 0; i+1 < len(b); i += 2 {
			sum += uint32(b[i])<<8 | uint32(b[i+1])
		}
		if len(b)%2 == 1 {
			sum += uint32(b[len(b)-1]) << 8
		}
	}
	add(src[:])
	add(dst[:])
	var l [8]byte
	binary.BigEndian.PutUint32(l[0:4], uint32(len(msg)))
	l[7] = 58
	add(l[:])
	m := append([]byte(nil), msg...)
	m[2], m[3] = 0, 0
	add(m)
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}
