package wire

import (
	"encoding/binary"

	"github.com/ztgo/ztgo/layer1-vl1/identity"
)

// Packet is a whole VL1 packet (header, verb byte, payload), armored or not.
// Accessors do not check the length: call Valid first on received bytes.
type Packet []byte

// Valid reports whether p is long enough to be a packet.
func (p Packet) Valid() bool { return len(p) >= MinPacketLength }

// ID is the 64-bit packet ID as it is on the wire (after suite-3 armoring,
// the first half of the synthetic IV), read big-endian.
func (p Packet) ID() uint64 { return binary.BigEndian.Uint64(p[IdxPacketID:]) }

// SetID writes the packet ID.
func (p Packet) SetID(id uint64) { binary.BigEndian.PutUint64(p[IdxPacketID:], id) }

// Destination is the receiving node's address.
func (p Packet) Destination() identity.Address {
	return identity.AddressFromBytes(p[IdxDestination:])
}

// Source is the originating node's address (relays do not change it).
func (p Packet) Source() identity.Address { return identity.AddressFromBytes(p[IdxSource:]) }

// Flags is the raw flag byte.
func (p Packet) Flags() byte { return p[IdxFlags] }

// Hops is how many relays the packet has crossed.
func (p Packet) Hops() int { return int(p[IdxFlags] & flagHopsMask) }

// SetHops sets the hop count; it is outside the authenticated bytes.
func (p Packet) SetHops(h int) {
	p[IdxFlags] = p[IdxFlags]&^flagHopsMask | byte(h)&flagHopsMask
}

// Cipher is the packet's cipher suite.
func (p Packet) Cipher() CipherSuite { return CipherSuite(p[IdxFlags] & flagCipherMask >> 3) }

// Fragmented reports whether fragments follow this head.
func (p Packet) Fragmented() bool { return p[IdxFlags]&FlagFragmented != 0 }

// SetFragmented sets or clears the fragmented flag. It is authenticated, so
// it must be decided before armoring.
func (p Packet) SetFragmented(f bool) {
	if f {
		p[IdxFlags] |= FlagFragmented
	} else {
		p[IdxFlags] &^= FlagFragmented
	}
}

// MAC is the 8-byte MAC field (the trusted-path ID under suite 2).
func (p Packet) MAC() uint64 { return binary.BigEndian.Uint64(p[IdxMAC:]) }

// Verb is the verb number; meaningful only on a dearmored packet.
func (p Packet) Verb() Verb { return Verb(p[IdxVerb] & verbMask) }

// Compressed reports whether the payload is LZ4-compressed.
func (p Packet) Compressed() bool { return p[IdxVerb]&verbCompressed != 0 }

// Payload is everything after the verb byte.
func (p Packet) Payload() []byte { return p[IdxPayload:] }

// NewPacket starts a plaintext packet in buf (reusing its storage): header
// with the given ID, addresses and verb, flags clear, MAC zero.
func NewPacket(buf []byte, id uint64, dest, src identity.Address, verb Verb) Packet {
	p := Packet(append(buf[:0], make([]byte, MinPacketLength)...))
	p.SetID(id)
	dest.Put(p[IdxDestination:])
	src.Put(p[IdxSource:])
	p[IdxVerb] = byte(verb)
	return p
}

// IsFragment reports whether a datagram is a fragment rather than a packet
// head: longer than a fragment header with the reserved 0xff where a packet
// has its source address (vl1.md §5.2).
func IsFragment(datagram []byte) bool {
	return len(datagram) > MinFragmentLength && datagram[13] == 0xff
}
