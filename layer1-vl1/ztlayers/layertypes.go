package ztlayers

import (
	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/ztgo/ztgo/layer1-vl1/wire"
)

// Layer type numbers. gopacket keeps 0–999 for itself and suggests
// 1000–1999 for common application types; numbers outside 0–1999 cost a map
// lookup instead of an array index but cannot collide with other libraries
// that picked from the suggested range. 4993 echoes port 9993.
const (
	layerNumZeroTier         = 4993
	layerNumZeroTierPacket   = 4994
	layerNumZeroTierFragment = 4995
	layerNumZeroTierVerb     = 4996
)

// The layer types of this package.
var (
	// LayerTypeZeroTier is what UDP port 9993 maps to: a whole ZeroTier
	// datagram not yet classified. Its decoder adds no layer of its own; it
	// hands the datagram to the fragment, packet or payload decoder (see
	// Classify). DecodingLayerParser users add a Classifier for it.
	LayerTypeZeroTier = gopacket.RegisterLayerType(layerNumZeroTier, gopacket.LayerTypeMetadata{
		Name: "ZeroTier", Decoder: gopacket.DecodeFunc(decodeZeroTier)})

	// LayerTypeZeroTierPacket is a packet (or the head of a fragmented one):
	// the 27-byte header, with the possibly encrypted envelope as payload.
	LayerTypeZeroTierPacket = gopacket.RegisterLayerType(layerNumZeroTierPacket, gopacket.LayerTypeMetadata{
		Name: "ZeroTierPacket", Decoder: gopacket.DecodeFunc(decodePacket)})

	// LayerTypeZeroTierFragment is a non-head fragment: the 16-byte fragment
	// header, with the chunk as payload.
	LayerTypeZeroTierFragment = gopacket.RegisterLayerType(layerNumZeroTierFragment, gopacket.LayerTypeMetadata{
		Name: "ZeroTierFragment", Decoder: gopacket.DecodeFunc(decodeFragment)})

	// LayerTypeZeroTierVerb is a clear-text envelope: verb byte and payload.
	LayerTypeZeroTierVerb = gopacket.RegisterLayerType(layerNumZeroTierVerb, gopacket.LayerTypeMetadata{
		Name: "ZeroTierVerb", Decoder: gopacket.DecodeFunc(decodeVerb)})
)

// DefaultPort is ZeroTier's primary UDP port, registered with gopacket when
// the package is loaded.
const DefaultPort = wire.DefaultPort

func init() { RegisterPort(DefaultPort) }

// RegisterPort makes gopacket decode UDP datagrams to or from port as
// ZeroTier (the UDP layer tries the destination port first, then the
// source). Use it for nodes on secondary or configured ports. Like
// layers.RegisterUDPPortLayerType, which it calls, it must not run while
// packets are being decoded.
func RegisterPort(port uint16) {
	layers.RegisterUDPPortLayerType(layers.UDPPort(port), LayerTypeZeroTier)
}

// Classify says what a ZeroTier datagram is, as 1.14.1's
// Switch::onRemotePacket decides it (vl1.md §5.2): a fragment when it is
// longer than a fragment header and byte 13 (where a packet has its source
// address) is the reserved 0xff; otherwise a packet when it has at least a
// header and verb byte; anything else — the 4-byte hole-punch probes, the
// 13-byte legacy LAN beacon — is gopacket.LayerTypePayload.
func Classify(datagram []byte) gopacket.LayerType {
	switch {
	case wire.IsFragment(datagram):
		return LayerTypeZeroTierFragment
	case len(datagram) >= wire.MinPacketLength:
		return LayerTypeZeroTierPacket
	}
	return gopacket.LayerTypePayload
}

// decodeZeroTier dispatches on the datagram's shape. It calls the chosen
// decoder directly rather than through PacketBuilder.NextDecoder: with no
// layer added NextDecoder would fail when LayerTypeZeroTier is the first
// decoder (gopacket.NewPacket(datagram, LayerTypeZeroTier, ...)), and it
// would decode the previous layer's payload, which is the same bytes anyway.
func decodeZeroTier(data []byte, p gopacket.PacketBuilder) error {
	switch Classify(data) {
	case LayerTypeZeroTierFragment:
		return decodeFragment(data, p)
	case LayerTypeZeroTierPacket:
		return decodePacket(data, p)
	}
	return gopacket.LayerTypePayload.Decode(data, p)
}

// decodingLayer is what the decoder funcs need of a layer.
type decodingLayer interface {
	gopacket.Layer
	gopacket.DecodingLayer
}

// decodeWith decodes data into l, adds it and continues with its next
// layer, the usual shape of a gopacket decoder func.
func decodeWith(l decodingLayer, data []byte, p gopacket.PacketBuilder) error {
	if err := l.DecodeFromBytes(data, p); err != nil {
		return err
	}
	p.AddLayer(l)
	next := l.NextLayerType()
	if next == gopacket.LayerTypeZero {
		return nil
	}
	return p.NextDecoder(next)
}
