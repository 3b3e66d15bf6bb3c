package ztlayers

import "github.com/gopacket/gopacket"

// Classifier is the DecodingLayer for LayerTypeZeroTier, for
// gopacket.DecodingLayerParser users.
//
// Why it exists: the UDP layer names one layer type per port
// (LayerTypeZeroTier for 9993), but a ZeroTier datagram is one of three
// things — a packet, a fragment or a short probe — and only its bytes say
// which. gopacket.NewPacket runs LayerTypeZeroTier's decoder func, which
// looks at the bytes and calls the right decoder without adding a layer. A
// DecodingLayerParser has no decoder funcs: it only looks up a
// DecodingLayer by the previous layer's NextLayerType. Classifier fills
// that slot: it consumes nothing (empty contents, the whole datagram as
// payload) and reports the real type as NextLayerType, so the parser moves
// on to the Packet, Fragment or gopacket.Payload layer you also registered.
// LayerTypeZeroTier therefore appears in the parser's decoded list before
// the real layer.
type Classifier struct {
	datagram []byte
	next     gopacket.LayerType
}

// LayerType is LayerTypeZeroTier.
func (*Classifier) LayerType() gopacket.LayerType { return LayerTypeZeroTier }

// CanDecode is LayerTypeZeroTier.
func (*Classifier) CanDecode() gopacket.LayerClass { return LayerTypeZeroTier }

// DecodeFromBytes classifies the datagram; it never fails.
func (c *Classifier) DecodeFromBytes(data []byte, _ gopacket.DecodeFeedback) error {
	c.datagram = data
	c.next = Classify(data)
	return nil
}

// NextLayerType is what Classify said about the datagram.
func (c *Classifier) NextLayerType() gopacket.LayerType { return c.next }

// LayerContents is empty: the classifier consumes no bytes.
func (*Classifier) LayerContents() []byte { return nil }

// LayerPayload is the whole datagram.
func (c *Classifier) LayerPayload() []byte { return c.datagram }
