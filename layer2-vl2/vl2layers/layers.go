package vl2layers

import (
	"fmt"
	"reflect"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/ztgo/ztgo/layer1-vl1/wire"
	"github.com/ztgo/ztgo/layer2-vl2/vl2wire"
)

// Codec is what a layer needs of a vl2wire message: a pointer to one of
// vl2wire's payload types.
type Codec[M any] interface {
	*M
	wire.Message
}

// PayloadLayer is what every layer of the package is.
type PayloadLayer interface {
	gopacket.Layer
	gopacket.DecodingLayer
	gopacket.SerializableLayer
	// WireMessage is the decoded vl2wire value (nil before decoding).
	WireMessage() wire.Message
}

// Layer is a VL2 payload decoded by its vl2wire codec. Message points to
// the decoded value; its byte slices alias the decoded bytes.
type Layer[M any, PM Codec[M]] struct {
	layers.BaseLayer
	Message PM
}

// The layers, one per vl2wire payload type.
type (
	Frame                  = Layer[vl2wire.Frame, *vl2wire.Frame]
	ExtFrame               = Layer[vl2wire.ExtFrame, *vl2wire.ExtFrame]
	MulticastFrame         = Layer[vl2wire.MulticastFrame, *vl2wire.MulticastFrame]
	MulticastLike          = Layer[vl2wire.MulticastLike, *vl2wire.MulticastLike]
	MulticastGather        = Layer[vl2wire.MulticastGather, *vl2wire.MulticastGather]
	NetworkCredentials     = Layer[vl2wire.NetworkCredentials, *vl2wire.NetworkCredentials]
	NetworkConfigRequest   = Layer[vl2wire.NetworkConfigRequest, *vl2wire.NetworkConfigRequest]
	NetworkConfig          = Layer[vl2wire.ConfigChunk, *vl2wire.ConfigChunk]
	OKExtFrame             = Layer[vl2wire.OKExtFrame, *vl2wire.OKExtFrame]
	OKNetworkConfigRequest = Layer[vl2wire.OKNetworkConfigRequest, *vl2wire.OKNetworkConfigRequest]
	OKNetworkConfig        = Layer[vl2wire.OKNetworkConfig, *vl2wire.OKNetworkConfig]
	OKMulticastGather      = Layer[vl2wire.OKMulticastGather, *vl2wire.OKMulticastGather]
	OKMulticastFrame       = Layer[vl2wire.OKMulticastFrame, *vl2wire.OKMulticastFrame]
)

// kind is what the package knows of one layer type.
type kind struct {
	layerType gopacket.LayerType
	parse     func([]byte) (wire.Message, error)
	new       func() PayloadLayer
}

var (
	kinds   = map[reflect.Type]*kind{}
	byVerb  = map[wire.Verb]gopacket.LayerType{}
	byOK    = map[wire.Verb]gopacket.LayerType{}
	byLayer = map[gopacket.LayerType]*kind{}
)

// register registers M's layer type, decoded by parse.
func register[M any, PM Codec[M]](num int, name string, ok bool) gopacket.LayerType {
	v := PM(nil).Verb() // the codecs' Verb methods do not read their receiver
	k := &kind{new: func() PayloadLayer { return &Layer[M, PM]{} }}
	k.parse = func(b []byte) (wire.Message, error) { return vl2wire.Parse(v, b) }
	table := byVerb
	if ok {
		k.parse = func(b []byte) (wire.Message, error) { return vl2wire.ParseOKBody(v, b) }
		table = byOK
	}
	k.layerType = gopacket.RegisterLayerType(num, gopacket.LayerTypeMetadata{Name: name,
		Decoder: gopacket.DecodeFunc(func(data []byte, p gopacket.PacketBuilder) error { return decodeWith(k.new(), data, p) })})
	kinds[reflect.TypeFor[M]()], table[v], byLayer[k.layerType] = k, k.layerType, k
	return k.layerType
}

// The layer types of this package.
var (
	LayerTypeFrame                  = register[vl2wire.Frame](4997, "ZeroTierFrame", false)
	LayerTypeExtFrame               = register[vl2wire.ExtFrame](4998, "ZeroTierExtFrame", false)
	LayerTypeMulticastFrame         = register[vl2wire.MulticastFrame](4999, "ZeroTierMulticastFrame", false)
	LayerTypeMulticastLike          = register[vl2wire.MulticastLike](5000, "ZeroTierMulticastLike", false)
	LayerTypeMulticastGather        = register[vl2wire.MulticastGather](5001, "ZeroTierMulticastGather", false)
	LayerTypeNetworkCredentials     = register[vl2wire.NetworkCredentials](5002, "ZeroTierNetworkCredentials", false)
	LayerTypeNetworkConfigRequest   = register[vl2wire.NetworkConfigRequest](5003, "ZeroTierNetworkConfigRequest", false)
	LayerTypeNetworkConfig          = register[vl2wire.ConfigChunk](5004, "ZeroTierNetworkConfig", false)
	LayerTypeOKExtFrame             = register[vl2wire.OKExtFrame](5005, "ZeroTierOKExtFrame", true)
	LayerTypeOKNetworkConfigRequest = register[vl2wire.OKNetworkConfigRequest](5006, "ZeroTierOKNetworkConfigRequest", true)
	LayerTypeOKNetworkConfig        = register[vl2wire.OKNetworkConfig](5007, "ZeroTierOKNetworkConfig", true)
	LayerTypeOKMulticastGather      = register[vl2wire.OKMulticastGather](5008, "ZeroTierOKMulticastGather", true)
	LayerTypeOKMulticastFrame       = register[vl2wire.OKMulticastFrame](5009, "ZeroTierOKMulticastFrame", true)
)

// LayerTypeOf is the layer type of verb v's payload, and false for verbs
// that are not VL2's.
func LayerTypeOf(v wire.Verb) (gopacket.LayerType, bool) {
	t, ok := byVerb[v]
	return t, ok
}

// OKLayerTypeOf is the layer type of the body of an OK answering inRe, and
// false for verbs whose OK has no VL2 body.
func OKLayerTypeOf(inRe wire.Verb) (gopacket.LayerType, bool) {
	t, ok := byOK[inRe]
	return t, ok
}

// DecodingLayers returns a new layer of every type, for a
// gopacket.DecodingLayerParser.
func DecodingLayers() []gopacket.DecodingLayer {
	var out []gopacket.DecodingLayer
	for _, t := range append(typesOf(byVerb), typesOf(byOK)...) {
		out = append(out, byLayer[t].new())
	}
	return out
}

func typesOf(m map[wire.Verb]gopacket.LayerType) []gopacket.LayerType {
	var out []gopacket.LayerType
	for v := range wire.Verb(32) {
		if t, ok := m[v]; ok {
			out = append(out, t)
		}
	}
	return out
}

// Decode decodes data, the payload of a VL2 verb or of an OK body as t
// says, into a new layer of that type.
func Decode(t gopacket.LayerType, data []byte) (PayloadLayer, error) {
	k, ok := byLayer[t]
	if !ok {
		return nil, fmt.Errorf("decode VL2 payload: %v is not a layer type of vl2layers", t)
	}
	l := k.new()
	if err := l.DecodeFromBytes(data, gopacket.NilDecodeFeedback); err != nil {
		return nil, err
	}
	return l, nil
}

// WireMessage is Message, as a wire.Message.
func (l *Layer[M, PM]) WireMessage() wire.Message {
	if l.Message == nil {
		return nil
	}
	return l.Message
}

func (l *Layer[M, PM]) kind() *kind { return kinds[reflect.TypeFor[M]()] }

// LayerType is the layer type of M.
func (l *Layer[M, PM]) LayerType() gopacket.LayerType { return l.kind().layerType }

// CanDecode is the layer type of M.
func (l *Layer[M, PM]) CanDecode() gopacket.LayerClass { return l.kind().layerType }

// NextLayerType is where a frame's Ethernet data goes on to; every other
// payload ends the packet.
func (l *Layer[M, PM]) NextLayerType() gopacket.LayerType {
	_, next := ethernetData(l.Message)
	return next
}

// DecodeFromBytes decodes data with M's vl2wire codec.
func (l *Layer[M, PM]) DecodeFromBytes(data []byte, df gopacket.DecodeFeedback) error {
	m, err := l.kind().parse(data)
	if err != nil {
		l.Message, l.BaseLayer = nil, layers.BaseLayer{}
		return err
	}
	l.Message = m.(PM)
	n, _ := ethernetData(l.Message)
	l.Contents, l.Payload = data[:len(data)-n], data[len(data)-n:]
	return nil
}

// SerializeTo writes Message's encoding in front of what b holds. For a
// frame it writes the header only: the Ethernet data is what the layers
// after this one serialized (gopacket.Payload(l.Payload) puts decoded bytes
// back).
func (l *Layer[M, PM]) SerializeTo(b gopacket.SerializeBuffer, _ gopacket.SerializeOptions) error {
	if l.Message == nil {
		return fmt.Errorf("serialize %v: no Message", l.LayerType())
	}
	enc := l.Message.AppendPayload(nil)
	n, _ := ethernetData(l.Message)
	out, err := b.PrependBytes(len(enc) - n)
	if err != nil {
		return err
	}
	copy(out, enc)
	return nil
}

// ethernetHeader is the destination and source MAC and the ethertype.
const ethernetHeader = 14

// ethernetData says how many bytes at the end of a frame verb's payload
// are Ethernet data, and what they decode as.
func ethernetData(m wire.Message) (int, gopacket.LayerType) {
	switch f := m.(type) {
	case *vl2wire.Frame:
		return len(f.Payload), etherLayer(f.EtherType)
	case *vl2wire.MulticastFrame:
		return len(f.Payload), etherLayer(f.EtherType)
	case *vl2wire.ExtFrame:
		if !f.NoFrame {
			return ethernetHeader + len(f.Payload), layers.LayerTypeEthernet
		}
	}
	return 0, gopacket.LayerTypeZero
}

// etherLayer is the layer an ethertype's payload decodes as; gopacket's
// LayerTypeZero for types it does not know would hide the bytes, so those
// are a gopacket.Payload.
func etherLayer(t uint16) gopacket.LayerType {
	if lt := layers.EthernetType(t).LayerType(); lt != gopacket.LayerTypeZero {
		return lt
	}
	return gopacket.LayerTypePayload
}

// decodeWith decodes data into l, adds it and continues with its next
// layer.
func decodeWith(l PayloadLayer, data []byte, p gopacket.PacketBuilder) error {
	if err := l.DecodeFromBytes(data, p); err != nil {
		return err
	}
	p.AddLayer(l)
	if next := l.NextLayerType(); next != gopacket.LayerTypeZero {
		return p.NextDecoder(next)
	}
	return nil
}
