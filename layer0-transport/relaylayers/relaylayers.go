// Package relaylayers decodes and builds ZeroTier's TCP relay framing
// (the TCP fallback, vl1-peers.md §11.2) as gopacket layers:
//
//   - LayerTypeRecord (Record): the 5-byte header of one record, a fake
//     TLS 1.2 application-data record 17 03 03 <u16 length>, with the
//     message as payload;
//   - LayerTypeHello (Hello): the 4-byte message a client sends first,
//     its version (major, minor, u16 revision);
//   - LayerTypeAddressed (Addressed): an addressed datagram, a type byte
//     (0 none, 4 IPv4, 6 IPv6), the address and port, then the datagram
//     as payload, which decodes on as DatagramLayerType.
//
// A TCP stream holds records back to back: decode one, then go on after
// its Length (RecordLength). Loading the package registers the three layer
// types, numbered 4990–4992 below ztlayers' 4993. The layers decode with
// layer0-transport's ParseAddressed; the relay client and server read
// streams with ReadRecord.
package relaylayers

import (
	"encoding/binary"
	"fmt"
	"net/netip"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	transport "github.com/ztgo/ztgo/layer0-transport"
)

// The layer types of this package.
var (
	LayerTypeRecord = gopacket.RegisterLayerType(4990, gopacket.LayerTypeMetadata{
		Name: "ZeroTierRelayRecord", Decoder: decoder(func() decodingLayer { return &Record{} })})
	LayerTypeHello = gopacket.RegisterLayerType(4991, gopacket.LayerTypeMetadata{
		Name: "ZeroTierRelayHello", Decoder: decoder(func() decodingLayer { return &Hello{} })})
	LayerTypeAddressed = gopacket.RegisterLayerType(4992, gopacket.LayerTypeMetadata{
		Name: "ZeroTierRelayAddressed", Decoder: decoder(func() decodingLayer { return &Addressed{} })})
)

// DatagramLayerType is what an addressed message's datagram decodes as:
// gopacket.LayerTypePayload unless a program that knows the datagrams'
// format sets it (tools set ztlayers.LayerTypeZeroTier, which this layer
// may not import). Set it before decoding, like gopacket's own
// registrations.
var DatagramLayerType = gopacket.LayerTypePayload

// Record header fields as 1.14.1 writes them. Receivers read only the
// length.
const (
	RecordType    = 0x17   // TLS application data
	RecordVersion = 0x0303 // TLS 1.2
	// RecordHeaderLength is the type, version and length.
	RecordHeaderLength = 5
	// HelloLength is the length of a hello message; every other message is
	// addressed.
	HelloLength = 4
)

// Record is one record of a relay stream.
type Record struct {
	layers.BaseLayer
	Type    uint8
	Version uint16
	// Length is the message length as on the wire; SerializeTo writes it
	// as given unless SerializeOptions.FixLengths is set.
	Length uint16
}

// LayerType is LayerTypeRecord.
func (*Record) LayerType() gopacket.LayerType { return LayerTypeRecord }

// CanDecode is LayerTypeRecord.
func (*Record) CanDecode() gopacket.LayerClass { return LayerTypeRecord }

// RecordLength is how many bytes of the stream the record takes: where
// the next one starts.
func (r *Record) RecordLength() int { return RecordHeaderLength + int(r.Length) }

// NextLayerType is LayerTypeHello for a 4-byte message and
// LayerTypeAddressed for any other: after its hello a client sends, and a
// relay always sends, addressed messages. (A client that never says hello
// speaks the old format, bare datagrams; only the stream's start tells.)
func (r *Record) NextLayerType() gopacket.LayerType {
	if r.Length == HelloLength {
		return LayerTypeHello
	}
	return LayerTypeAddressed
}

// DecodeFromBytes decodes the record at the start of data; bytes after it
// belong to the next record.
func (r *Record) DecodeFromBytes(data []byte, df gopacket.DecodeFeedback) error {
	if len(data) < RecordHeaderLength {
		df.SetTruncated()
		return fmt.Errorf("decode relay record: %d bytes, shorter than its %d-byte header", len(data), RecordHeaderLength)
	}
	*r = Record{Type: data[0], Version: binary.BigEndian.Uint16(data[1:]), Length: binary.BigEndian.Uint16(data[3:])}
	if end := r.RecordLength(); end <= len(data) {
		r.Contents, r.Payload = data[:RecordHeaderLength], data[RecordHeaderLength:end]
		return nil
	}
	df.SetTruncated()
	return fmt.Errorf("decode relay record: %d-byte message, %d bytes left", r.Length, len(data)-RecordHeaderLength)
}

// SerializeTo prepends the header to the message already in b.
func (r *Record) SerializeTo(b gopacket.SerializeBuffer, opts gopacket.SerializeOptions) error {
	n := len(b.Bytes())
	if opts.FixLengths {
		if n > 0xffff {
			return fmt.Errorf("serialize relay record: a %d-byte message does not fit", n)
		}
		r.Length = uint16(n)
	}
	h, err := b.PrependBytes(RecordHeaderLength)
	if err != nil {
		return err
	}
	h[0] = r.Type
	binary.BigEndian.PutUint16(h[1:], r.Version)
	binary.BigEndian.PutUint16(h[3:], r.Length)
	return nil
}

// Hello is the message a client sends first: its version.
type Hello struct {
	layers.BaseLayer
	Major, Minor uint8
	Revision     uint16
}

// LayerType is LayerTypeHello.
func (*Hello) LayerType() gopacket.LayerType { return LayerTypeHello }

// CanDecode is LayerTypeHello.
func (*Hello) CanDecode() gopacket.LayerClass { return LayerTypeHello }

// NextLayerType is gopacket.LayerTypeZero: nothing follows a hello.
func (*Hello) NextLayerType() gopacket.LayerType { return gopacket.LayerTypeZero }

// DecodeFromBytes decodes a hello message.
func (h *Hello) DecodeFromBytes(data []byte, df gopacket.DecodeFeedback) error {
	if len(data) != HelloLength {
		if len(data) < HelloLength {
			df.SetTruncated()
		}
		return fmt.Errorf("decode relay hello: %d bytes, want %d", len(data), HelloLength)
	}
	*h = Hello{BaseLayer: layers.BaseLayer{Contents: data}, Major: data[0], Minor: data[1], Revision: binary.BigEndian.Uint16(data[2:])}
	return nil
}

// SerializeTo prepends the hello.
func (h *Hello) SerializeTo(b gopacket.SerializeBuffer, _ gopacket.SerializeOptions) error {
	out, err := b.PrependBytes(HelloLength)
	if err != nil {
		return err
	}
	out[0], out[1] = h.Major, h.Minor
	binary.BigEndian.PutUint16(out[2:], h.Revision)
	return nil
}

// Address types of an addressed message.
const (
	AddressNone = 0x00
	AddressIPv4 = 0x04
	AddressIPv6 = 0x06
)

// Addressed is an addressed message: where the datagram goes (from a
// client) or came from (from a relay), and the datagram as payload.
type Addressed struct {
	layers.BaseLayer
	// Type is the address type byte as sent: AddressIPv6 may carry an
	// IPv4-mapped address, which Addr keeps as it is.
	Type uint8
	Addr netip.AddrPort // invalid for AddressNone
}

// LayerType is LayerTypeAddressed.
func (*Addressed) LayerType() gopacket.LayerType { return LayerTypeAddressed }

// CanDecode is LayerTypeAddressed.
func (*Addressed) CanDecode() gopacket.LayerClass { return LayerTypeAddressed }

// NextLayerType is DatagramLayerType.
func (*Addressed) NextLayerType() gopacket.LayerType { return DatagramLayerType }

// DecodeFromBytes decodes an addressed message with transport.ParseAddressed.
func (a *Addressed) DecodeFromBytes(data []byte, df gopacket.DecodeFeedback) error {
	ap, datagram, err := transport.ParseAddressed(data)
	if err != nil {
		if len(data) > 0 && (data[0] == AddressIPv4 || data[0] == AddressIPv6) {
			df.SetTruncated()
		}
		return fmt.Errorf("decode relay message: %w", err)
	}
	n := len(data) - len(datagram)
	*a = Addressed{BaseLayer: layers.BaseLayer{Contents: data[:n], Payload: datagram}, Type: data[0], Addr: ap}
	return nil
}

// SerializeTo prepends the type byte and the address the type calls for.
func (a *Addressed) SerializeTo(b gopacket.SerializeBuffer, _ gopacket.SerializeOptions) error {
	ip := a.Addr.Addr()
	h := []byte{a.Type}
	switch {
	case a.Type == AddressNone:
	case a.Type == AddressIPv4 && ip.Unmap().Is4():
		v4 := ip.Unmap().As4()
		h = binary.BigEndian.AppendUint16(append(h, v4[:]...), a.Addr.Port())
	case a.Type == AddressIPv6 && ip.Is6():
		v6 := ip.As16()
		h = binary.BigEndian.AppendUint16(append(h, v6[:]...), a.Addr.Port())
	default:
		return fmt.Errorf("serialize relay message: address %v does not fit type %#x", a.Addr, a.Type)
	}
	out, err := b.PrependBytes(len(h))
	if err != nil {
		return err
	}
	copy(out, h)
	return nil
}

// decodingLayer is what the decoder funcs need of a layer.
type decodingLayer interface {
	gopacket.Layer
	gopacket.DecodingLayer
}

// decoder decodes into a new layer, adds it and goes on to its next layer.
func decoder(newLayer func() decodingLayer) gopacket.Decoder {
	return gopacket.DecodeFunc(func(data []byte, p gopacket.PacketBuilder) error {
		l := newLayer()
		if err := l.DecodeFromBytes(data, p); err != nil {
			return err
		}
		p.AddLayer(l)
		if next := l.NextLayerType(); next != gopacket.LayerTypeZero {
			return p.NextDecoder(next)
		}
		return nil
	})
}
