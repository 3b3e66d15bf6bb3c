package ztlayers

import (
	"bytes"
	"errors"
	"fmt"
	"slices"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/ztgo/ztgo/layer1-vl1/wire"
)

// Verb byte bits (vl1.md §4.4).
const (
	verbFlagCompressed = 0x80
	verbUnusedMask     = 0x60
	verbNumberMask     = 0x1f
)

// Verb is a clear-text envelope: the verb byte at packet offset 27 and the
// verb's payload (vl1.md §4.4, §7). It is the payload of a Packet sent with
// cipher suite 0 or 2, or of any packet once dearmored: decode
// plain[wire.HeaderLength:] with LayerTypeZeroTierVerb, or the whole packet
// with DearmoredDecoder.
//
// Message is the payload decoded by wire.ParsePayload (after LZ4
// decompression when the flag is set). FRAME, EXT_FRAME and
// MULTICAST_FRAME also fill Frame and decode on: the layer's payload is the
// Ethernet payload (FRAME, MULTICAST_FRAME; next layer from the ethertype)
// or the whole Ethernet frame (EXT_FRAME; next layer Ethernet). Every other
// verb ends the packet (NextLayerType is gopacket.LayerTypeZero) and the
// layer's contents are the whole envelope.
//
// When the envelope is compressed, Contents is the whole envelope as on the
// wire and Payload, Message and Frame point into a decompressed copy held by
// the layer, which its next DecodeFromBytes reuses. Otherwise everything
// points into the decoded bytes, as gopacket layers do.
type Verb struct {
	layers.BaseLayer
	Verb       wire.Verb
	Compressed bool
	// Unused holds bits 0x60 of the verb byte, which senders leave zero and
	// receivers ignore; kept so that serializing reproduces the input.
	Unused  uint8
	Message wire.Message
	// Frame is set for FRAME, EXT_FRAME and MULTICAST_FRAME only.
	Frame FrameHeader

	// Decoding a compressed envelope keeps it and its decompressed payload,
	// so SerializeTo can write the original bytes back when nothing changed
	// (LZ4 encoders differ, so recompressing need not reproduce them).
	wireEnvelope []byte
	plain        []byte
	synth        []byte // zero header + envelope, what wire.Decompress takes
	decompressed []byte
	// Likewise for a Message whose encoding differs from the payload it was
	// decoded from (HELLO, whose moon list is encrypted on the wire but
	// re-encoded in clear): the payload and that re-encoding.
	raw       []byte
	reencoded []byte
	encodeBuf []byte
	// message is the whole verb payload Message was decoded from.
	message []byte
}

// LayerType is LayerTypeZeroTierVerb.
func (*Verb) LayerType() gopacket.LayerType { return LayerTypeZeroTierVerb }

// CanDecode is LayerTypeZeroTierVerb.
func (*Verb) CanDecode() gopacket.LayerClass { return LayerTypeZeroTierVerb }

// NextLayerType is where a frame verb's Ethernet data goes on to, and
// gopacket.LayerTypeZero for every other verb.
func (v *Verb) NextLayerType() gopacket.LayerType {
	if !isFrameVerb(v.Verb) {
		return gopacket.LayerTypeZero
	}
	return v.Frame.nextLayerType(v.Verb)
}

var zeroHeader [wire.HeaderLength]byte

// DecodeFromBytes decodes a clear-text envelope: verb byte and payload.
func (v *Verb) DecodeFromBytes(data []byte, df gopacket.DecodeFeedback) error {
	v.BaseLayer = layers.BaseLayer{}
	v.Message, v.Frame = nil, FrameHeader{}
	v.wireEnvelope, v.plain, v.raw, v.reencoded, v.message = nil, nil, nil, nil, nil
	if len(data) == 0 {
		df.SetTruncated()
		return fmt.Errorf("decode ZeroTier verb: empty envelope")
	}
	vb := data[0]
	v.Verb = wire.Verb(vb & verbNumberMask)
	v.Compressed = vb&verbFlagCompressed != 0
	v.Unused = vb & verbUnusedMask
	payload := data[1:]
	if v.Compressed {
		// wire.Decompress works on whole packets; give it a zero header.
		v.synth = append(append(v.synth[:0], zeroHeader[:]...), data...)
		p, err := wire.Decompress(v.decompressed[:0], wire.Packet(v.synth))
		if err != nil {
			return fmt.Errorf("decode ZeroTier verb %v: %w", v.Verb, err)
		}
		v.decompressed = p
		payload = p.Payload()
		v.wireEnvelope, v.plain = data, payload
	}
	m, err := wire.ParsePayload(v.Verb, payload)
	if err != nil {
		return fmt.Errorf("decode ZeroTier verb %v: %w", v.Verb, err)
	}
	v.Message, v.message = m, payload
	header := len(payload) // all of it, unless Ethernet data follows
	if isFrameVerb(v.Verb) {
		if header, err = v.Frame.decode(v.Verb, payload); err != nil {
			if errors.Is(err, errShortFrame) {
				df.SetTruncated()
			}
			return fmt.Errorf("decode ZeroTier %v: %w", v.Verb, err)
		}
	} else if v.encodeBuf = m.AppendPayload(v.encodeBuf[:0]); !bytes.Equal(v.encodeBuf, payload) {
		v.raw, v.reencoded = payload, v.encodeBuf
	}
	if v.Compressed {
		v.Contents, v.Payload = data, payload[header:]
	} else {
		v.Contents, v.Payload = data[:1+header], data[1+header:]
	}
	return nil
}

// MessagePayload is the verb's whole payload, decompressed, as Message was
// decoded from it: for a frame verb the Frame header and the Ethernet data
// together. It points into the decoded bytes, or into the layer's
// decompressed copy (see Verb).
func (v *Verb) MessagePayload() []byte { return v.message }

// SerializeTo writes the envelope in front of whatever b holds.
//
// For FRAME, EXT_FRAME and MULTICAST_FRAME it writes the verb byte and the
// Frame header only (Message is ignored): the Ethernet data is what the
// layers after this one serialized (gopacket serializes from the innermost
// layer out), e.g. layers.IPv4 and layers.ICMPv4 for a FRAME, or
// gopacket.Payload(v.Payload) to put decoded bytes back. For every other
// verb it writes the verb byte and Message.AppendPayload; Message must be
// for the same verb. Where that encoding differs from the bytes the layer
// decoded — a HELLO's moon list is encrypted on the wire (wire.CryptField)
// but AppendPayload writes it in clear — and Message is unchanged, the
// decoded bytes are written instead.
//
// Compression: if Compressed is set and the payload is exactly the one this
// layer decoded, the original compressed bytes are written, so decoding and
// serializing reproduces any sender's envelope. A new or changed payload is
// compressed as 1.14.1 does (wire.Compress): only when over 64 bytes and
// only if that makes it shorter; otherwise the envelope goes out
// uncompressed with the flag clear. The Compressed field itself is left as
// it is. Without Compressed the payload is written as it is.
func (v *Verb) SerializeTo(b gopacket.SerializeBuffer, _ gopacket.SerializeOptions) error {
	if v.Verb > verbNumberMask {
		return fmt.Errorf("serialize ZeroTier verb: %#x is not a 5-bit verb number", uint8(v.Verb))
	}
	vb := byte(v.Verb) | v.Unused&verbUnusedMask
	var head []byte
	if isFrameVerb(v.Verb) {
		var err error
		if head, err = v.Frame.appendTo(nil, v.Verb); err != nil {
			return fmt.Errorf("serialize ZeroTier %v: %w", v.Verb, err)
		}
	} else {
		if v.Message == nil {
			return fmt.Errorf("serialize ZeroTier %v: no Message", v.Verb)
		}
		if mv := v.Message.Verb(); mv != v.Verb {
			return fmt.Errorf("serialize ZeroTier %v: Message is a %T for %v", v.Verb, v.Message, mv)
		}
		head = v.Message.AppendPayload(nil)
		if v.reencoded != nil && bytes.Equal(head, v.reencoded) {
			head = v.raw // unchanged since decoding: the bytes as they were
		}
	}
	if !v.Compressed {
		out, err := b.PrependBytes(1 + len(head))
		if err != nil {
			return err
		}
		out[0] = vb
		copy(out[1:], head)
		return nil
	}
	payload := slices.Concat(head, b.Bytes()) // head may alias decoded bytes
	var envelope []byte
	if v.wireEnvelope != nil && v.wireEnvelope[0] == vb|verbFlagCompressed && bytes.Equal(payload, v.plain) {
		envelope = v.wireEnvelope
	} else {
		envelope = compressEnvelope(vb, payload)
	}
	return replaceContents(b, envelope)
}

// compressEnvelope builds verb byte and payload, compressed when 1.14.1
// would keep the compression.
func compressEnvelope(vb byte, payload []byte) []byte {
	p := make([]byte, wire.MinPacketLength, wire.MinPacketLength+len(payload))
	p[wire.IdxVerb] = vb
	p = append(p, payload...)
	c := wire.Compress(wire.Packet(p), make([]byte, 2*len(payload)+64))
	return c[wire.HeaderLength:]
}

// replaceContents makes envelope the whole content of b. It is only called
// while b holds the layers after the verb, which envelope includes; the
// layer types already pushed are kept.
func replaceContents(b gopacket.SerializeBuffer, envelope []byte) error {
	pushed := append([]gopacket.LayerType(nil), b.Layers()...)
	if err := b.Clear(); err != nil {
		return err
	}
	for _, t := range pushed {
		b.PushLayer(t)
	}
	out, err := b.AppendBytes(len(envelope))
	if err != nil {
		return err
	}
	copy(out, envelope)
	return nil
}

func decodeVerb(data []byte, p gopacket.PacketBuilder) error {
	return decodeWith(&Verb{}, data, p)
}
