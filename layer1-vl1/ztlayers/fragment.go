package ztlayers

import (
	"encoding/binary"
	"fmt"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/ztgo/ztgo/layer1-vl1/identity"
	"github.com/ztgo/ztgo/layer1-vl1/wire"
)

// fragmentIndicator is byte 13 of every fragment, a reserved address prefix
// that no packet's source address can start with (vl1.md §5.1).
const fragmentIndicator = 0xff

// Fragment is a non-head piece of a fragmented packet (vl1.md §5.1):
//
//	0   8  packet ID (as on the wire; the head's bytes 0..7)
//	8   5  destination address
//	13  1  0xff
//	14  1  total pieces (high nibble) | fragment number (low nibble)
//	15  1  hops (low 3 bits)
//	16  …  the chunk (the payload; next layer gopacket.LayerTypeFragment)
//
// Decoding checks only the shape (length and the 0xff indicator), not the
// numbering, so a capture shows even fragments a node would refuse; see
// Valid.
type Fragment struct {
	layers.BaseLayer
	PacketID    uint64
	Destination identity.Address
	Total       uint8 // pieces including the head, 0..15
	Number      uint8 // 1 for the first piece after the head, 0..15
	// Hops is byte 15 as sent. Relays count in its low 3 bits; 1.14.1
	// writes zero in the others and ignores them.
	Hops uint8
}

// LayerType is LayerTypeZeroTierFragment.
func (*Fragment) LayerType() gopacket.LayerType { return LayerTypeZeroTierFragment }

// CanDecode is LayerTypeZeroTierFragment.
func (*Fragment) CanDecode() gopacket.LayerClass { return LayerTypeZeroTierFragment }

// NextLayerType is gopacket.LayerTypeFragment: a chunk means nothing until
// the packet is reassembled (wire.Reassembler).
func (*Fragment) NextLayerType() gopacket.LayerType { return gopacket.LayerTypeFragment }

// DecodeFromBytes decodes a fragment datagram.
func (f *Fragment) DecodeFromBytes(data []byte, df gopacket.DecodeFeedback) error {
	if len(data) <= wire.FragmentHeaderLength {
		df.SetTruncated()
		return fmt.Errorf("decode ZeroTier fragment: %d bytes, not more than the %d-byte header",
			len(data), wire.FragmentHeaderLength)
	}
	if data[13] != fragmentIndicator {
		return fmt.Errorf("decode ZeroTier fragment: byte 13 is %#02x, not the 0xff indicator", data[13])
	}
	f.PacketID = binary.BigEndian.Uint64(data[0:])
	f.Destination = identity.AddressFromBytes(data[8:])
	f.Total = data[14] >> 4
	f.Number = data[14] & 0x0f
	f.Hops = data[15]
	f.Contents = data[:wire.FragmentHeaderLength]
	f.Payload = data[wire.FragmentHeaderLength:]
	return nil
}

// Valid reports whether a receiver would accept the fragment's numbering:
// 2 ≤ total ≤ 7 and 1 ≤ number < total (vl1.md §5.2, with the check on
// number < total that 1.14.1 omits).
func (f *Fragment) Valid() bool {
	return f.Total >= 2 && f.Total <= wire.MaxPacketFragments && f.Number >= 1 && f.Number < f.Total
}

// SerializeTo prepends the 16-byte fragment header to the chunk already in
// b (serialize the chunk as gopacket.Payload or gopacket.Fragment after
// this layer).
func (f *Fragment) SerializeTo(b gopacket.SerializeBuffer, _ gopacket.SerializeOptions) error {
	if f.Total > 0x0f || f.Number > 0x0f {
		return fmt.Errorf("serialize ZeroTier fragment: total %d / number %d do not fit a nibble", f.Total, f.Number)
	}
	if f.Destination>>40 != 0 {
		return fmt.Errorf("serialize ZeroTier fragment: destination %#x is not a 40-bit address", uint64(f.Destination))
	}
	h, err := b.PrependBytes(wire.FragmentHeaderLength)
	if err != nil {
		return err
	}
	binary.BigEndian.PutUint64(h[0:], f.PacketID)
	f.Destination.Put(h[8:])
	h[13] = fragmentIndicator
	h[14] = f.Total<<4 | f.Number
	h[15] = f.Hops
	return nil
}

func decodeFragment(data []byte, p gopacket.PacketBuilder) error {
	return decodeWith(&Fragment{}, data, p)
}
