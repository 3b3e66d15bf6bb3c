package ztlayers

import (
	"encoding/binary"
	"fmt"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/ztgo/ztgo/layer1-vl1/identity"
	"github.com/ztgo/ztgo/layer1-vl1/wire"
)

// Flag byte bits (vl1.md §4.2).
const (
	// FlagEncryptedLegacy is set by senders iff the cipher suite is 1.
	FlagEncryptedLegacy = 0x80
	flagCipherShift     = 3
	flagCipherMask      = 0x38
	flagHopsMask        = 0x07
)

// Packet is the 27-byte header of a ZeroTier packet, or of the head of a
// fragmented one (vl1.md §4.1):
//
//	0   8  packet ID
//	8   5  destination address
//	13  5  source address
//	18  1  flags: 0x80 legacy encrypted, 0x40 fragmented, 0x38 cipher, 0x07 hops
//	19  8  MAC (the trusted-path ID under suite 2)
//	27  …  envelope: verb byte and verb payload, encrypted unless the
//	       cipher suite is 0 or 2 (the layer's payload)
//
// The envelope decodes on as LayerTypeZeroTierVerb when it is in clear text
// and whole; otherwise it is gopacket.LayerTypePayload (see NextLayerType).
type Packet struct {
	layers.BaseLayer
	PacketID    uint64
	Destination identity.Address
	Source      identity.Address
	// Flags is byte 18 as decoded. SerializeTo takes only its 0x80 bit (the
	// legacy encrypted flag) from here; Fragmented, Cipher and Hops give the
	// rest, so change those fields rather than Flags.
	Flags      uint8
	Hops       uint8 // 0..7
	Cipher     wire.CipherSuite
	Fragmented bool
	MAC        uint64
}

// LayerType is LayerTypeZeroTierPacket.
func (*Packet) LayerType() gopacket.LayerType { return LayerTypeZeroTierPacket }

// CanDecode is LayerTypeZeroTierPacket.
func (*Packet) CanDecode() gopacket.LayerClass { return LayerTypeZeroTierPacket }

// Cleartext reports whether the cipher suite leaves the envelope readable:
// suite 0 (Poly1305 MAC only, used for HELLO) and suite 2 (trusted path).
// The envelope still has to be whole to decode (see NextLayerType).
func (p *Packet) Cleartext() bool {
	return p.Cipher == wire.SuitePoly1305None || p.Cipher == wire.SuiteTrustedPath
}

// NextLayerType is LayerTypeZeroTierVerb for a clear-text packet that is
// not the head of a fragmented one, and gopacket.LayerTypePayload
// otherwise: an encrypted envelope must be dearmored first (wire.Dearmor on
// a copy, then DearmoredDecoder), and a head's envelope is cut short until
// the fragments are added (wire.Reassembler).
func (p *Packet) NextLayerType() gopacket.LayerType {
	if p.Cleartext() && !p.Fragmented {
		return LayerTypeZeroTierVerb
	}
	return gopacket.LayerTypePayload
}

// DecodeFromBytes decodes a packet header; the rest is the payload.
func (p *Packet) DecodeFromBytes(data []byte, df gopacket.DecodeFeedback) error {
	if len(data) < wire.MinPacketLength {
		df.SetTruncated()
		return fmt.Errorf("decode ZeroTier packet: %d bytes, shorter than the %d-byte minimum",
			len(data), wire.MinPacketLength)
	}
	flags := data[wire.IdxFlags]
	*p = Packet{
		BaseLayer:   layers.BaseLayer{Contents: data[:wire.HeaderLength], Payload: data[wire.HeaderLength:]},
		PacketID:    binary.BigEndian.Uint64(data[wire.IdxPacketID:]),
		Destination: identity.AddressFromBytes(data[wire.IdxDestination:]),
		Source:      identity.AddressFromBytes(data[wire.IdxSource:]),
		Flags:       flags,
		Hops:        flags & flagHopsMask,
		Cipher:      wire.CipherSuite(flags & flagCipherMask >> flagCipherShift),
		Fragmented:  flags&wire.FlagFragmented != 0,
		MAC:         binary.BigEndian.Uint64(data[wire.IdxMAC:]),
	}
	return nil
}

// SerializeTo prepends the 27-byte header to the envelope already in b:
// serialize a Verb layer after this one for a clear-text envelope, or
// gopacket.Payload for an armored one. Armoring is not done here; it needs
// keys and the whole packet (wire.Armor).
func (p *Packet) SerializeTo(b gopacket.SerializeBuffer, _ gopacket.SerializeOptions) error {
	if p.Hops > flagHopsMask {
		return fmt.Errorf("serialize ZeroTier packet: %d hops do not fit 3 bits", p.Hops)
	}
	if p.Cipher > flagCipherMask>>flagCipherShift {
		return fmt.Errorf("serialize ZeroTier packet: cipher suite %d does not fit 3 bits", p.Cipher)
	}
	if p.Destination>>40 != 0 || p.Source>>40 != 0 {
		return fmt.Errorf("serialize ZeroTier packet: address %#x or %#x is not 40 bits",
			uint64(p.Destination), uint64(p.Source))
	}
	h, err := b.PrependBytes(wire.HeaderLength)
	if err != nil {
		return err
	}
	binary.BigEndian.PutUint64(h[wire.IdxPacketID:], p.PacketID)
	p.Destination.Put(h[wire.IdxDestination:])
	p.Source.Put(h[wire.IdxSource:])
	flags := p.Flags&FlagEncryptedLegacy | byte(p.Cipher)<<flagCipherShift | p.Hops
	if p.Fragmented {
		flags |= wire.FlagFragmented
	}
	h[wire.IdxFlags] = flags
	binary.BigEndian.PutUint64(h[wire.IdxMAC:], p.MAC)
	return nil
}

func decodePacket(data []byte, p gopacket.PacketBuilder) error {
	return decodeWith(&Packet{}, data, p)
}

// DearmoredDecoder decodes a whole packet that has been reassembled and
// dearmored (wire.Reassembler, wire.Dearmor): the Packet layer, then its
// envelope as LayerTypeZeroTierVerb whatever the header's cipher and
// fragmented bits say — they describe the packet as it was on the wire.
//
//	pkt := gopacket.NewPacket(plain, ztlayers.DearmoredDecoder, gopacket.Default)
var DearmoredDecoder gopacket.Decoder = gopacket.DecodeFunc(decodeDearmored)

func decodeDearmored(data []byte, p gopacket.PacketBuilder) error {
	pkt := &Packet{}
	if err := pkt.DecodeFromBytes(data, p); err != nil {
		return err
	}
	p.AddLayer(pkt)
	return p.NextDecoder(LayerTypeZeroTierVerb)
}
