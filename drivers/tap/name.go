// Package tap is the Linux TAP device of a network: an Ethernet interface
// named as zerotier-one names it, with the network's MAC and MTU, whose
// addresses and routes are managed through netlink and removed when the
// device closes. It satisfies vl2.FrameDevice with plain types. On Linux
// it trades TCP and UDP super-frames with the kernel (package offload;
// ZTGO_TAP_OFFLOAD=0 turns that off), while Read and Write still move
// frames no larger than the MTU.
package tap

// Name is zerotier-one's Linux interface name for a network: "zt" and the
// base32 (RFC 4648, lower case) of the low 40 bits of
// (nwid XOR nwid>>24) + trial (service-api.md §13.2).
func Name(nwid uint64, trial int) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz234567"
	x := (nwid ^ (nwid >> 24)) + uint64(trial)
	x &= 0xffffffffff
	b := make([]byte, 0, 10)
	b = append(b, 'z', 't')
	for shift := 35; shift >= 0; shift -= 5 {
		b = append(b, alphabet[(x>>uint(shift))&31])
	}
	return string(b)
}

// BSDName is zerotier-one's FreeBSD interface name: "zt" and the 64-bit
// network ID in 13 base32 digits (alphabet 0-9a-v), 5 bits at a time from
// bit 60 down (service-api.md §13.2).
func BSDName(nwid uint64) string {
	const alphabet = "0123456789abcdefghijklmnopqrstuv"
	b := []byte("zt")
	for shift := 60; shift >= 0; shift -= 5 {
		b = append(b, alphabet[(nwid>>uint(shift))&31])
	}
	return string(b)
}
