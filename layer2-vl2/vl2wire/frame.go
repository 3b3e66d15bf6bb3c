package vl2wire

import (
	"github.com/ztgo/ztgo/layer1-vl1/wire"
)

// Frame is FRAME (0x06): a unicast frame between two members. The source
// MAC is MACFor(sender, NetworkID), the destination the receiver's own MAC
// (vl2.md §2.1).
type Frame struct {
	NetworkID uint64
	EtherType uint16
	Payload   []byte // Ethernet payload, no header
}

func (*Frame) Verb() wire.Verb { return wire.VerbFRAME }

// ParseFrame decodes a FRAME payload. Payload aliases the input.
func ParseFrame(payload []byte) (*Frame, error) {
	f := new(Frame)
	if err := f.DecodeFromBytes(payload); err != nil {
		return nil, err
	}
	return f, nil
}

// DecodeFromBytes decodes a FRAME payload into f without allocating, for
// the data path. Payload aliases the input.
func (f *Frame) DecodeFromBytes(payload []byte) error {
	r := reader{wire.NewReader(payload, "FRAME")}
	*f = Frame{NetworkID: r.U64("network ID"), EtherType: r.U16("ethertype")}
	f.Payload = r.Rest()
	return r.Err()
}

func (f *Frame) AppendPayload(b []byte) []byte {
	return append(appendU16(appendU64(b, f.NetworkID), f.EtherType), f.Payload...)
}

// EXT_FRAME flag bits (vl2.md §2.2).
const (
	ExtFrameFlagCOM         = 0x01 // a COM follows the flags byte
	ExtFrameFlagSubtypeMask = 0x0e // subtype << 1
	ExtFrameFlagOKRequested = 0x10 // the receiver answers OK(EXT_FRAME)
	extFrameSubtypeShift    = 1
)

// ExtFrameSubtype is bits 1–3 of the EXT_FRAME flags, (flags>>1)&7.
// Receivers ignore it.
type ExtFrameSubtype uint8

// EXT_FRAME subtypes and the flag bytes 1.14.1 sends with them.
const (
	SubtypeNormal           ExtFrameSubtype = 0 // flags 0x00
	SubtypeTeeOutbound      ExtFrameSubtype = 1 // flags 0x02
	SubtypeRedirectOutbound ExtFrameSubtype = 2 // flags 0x04
	SubtypeWatchOutbound    ExtFrameSubtype = 3 // flags 0x16
	SubtypeTeeInbound       ExtFrameSubtype = 4 // flags 0x08
	SubtypeRedirectInbound  ExtFrameSubtype = 5 // flags 0x0a
	SubtypeWatchInbound     ExtFrameSubtype = 6 // flags 0x1c
)

// ExtFrameFlags returns the flags byte 1.14.1 sends for a subtype: the WATCH
// subtypes also request an OK.
func ExtFrameFlags(s ExtFrameSubtype) uint8 {
	f := uint8(s&7) << extFrameSubtypeShift
	if s == SubtypeWatchOutbound || s == SubtypeWatchInbound {
		f |= ExtFrameFlagOKRequested
	}
	return f
}

// ExtFrame is EXT_FRAME (0x07): a frame with explicit MACs, used for
// bridging and for rule-generated TEE/REDIRECT/WATCH copies (vl2.md §2.2).
//
// Flags is written as given: set ExtFrameFlagCOM together with COM. A
// payload that ends right after the flags byte (and COM) carries no frame;
// NoFrame marks that form, in which Dest, Source, EtherType and Payload are
// unused.
type ExtFrame struct {
	NetworkID uint64
	Flags     uint8
	COM       *COM // present iff Flags&ExtFrameFlagCOM
	NoFrame   bool
	Dest      MAC
	Source    MAC
	EtherType uint16
	Payload   []byte
}

func (*ExtFrame) Verb() wire.Verb { return wire.VerbEXT_FRAME }

// Subtype is (Flags>>1)&7.
func (f *ExtFrame) Subtype() ExtFrameSubtype {
	return ExtFrameSubtype(f.Flags&ExtFrameFlagSubtypeMask) >> extFrameSubtypeShift
}

// OKRequested reports whether the sender asks for OK(EXT_FRAME).
func (f *ExtFrame) OKRequested() bool { return f.Flags&ExtFrameFlagOKRequested != 0 }

// ParseExtFrame decodes an EXT_FRAME payload. Payload aliases the input.
func ParseExtFrame(payload []byte) (*ExtFrame, error) {
	f := new(ExtFrame)
	if err := f.DecodeFromBytes(payload); err != nil {
		return nil, err
	}
	return f, nil
}

// DecodeFromBytes decodes an EXT_FRAME payload into f; it allocates only
// for an inlined COM. Payload aliases the input.
func (f *ExtFrame) DecodeFromBytes(payload []byte) error {
	r := reader{wire.NewReader(payload, "EXT_FRAME")}
	*f = ExtFrame{NetworkID: r.U64("network ID"), Flags: r.U8("flags")}
	if r.Err() == nil && f.Flags&ExtFrameFlagCOM != 0 {
		f.COM = parseCOM(&r, "COM ")
	}
	if r.Err() == nil && r.Left() == 0 {
		f.NoFrame = true
		return nil
	}
	f.Dest = r.mac("destination MAC")
	f.Source = r.mac("source MAC")
	f.EtherType = r.U16("ethertype")
	f.Payload = r.Rest()
	return r.Err()
}

func (f *ExtFrame) AppendPayload(b []byte) []byte {
	b = append(appendU64(b, f.NetworkID), f.Flags)
	if f.Flags&ExtFrameFlagCOM != 0 && f.COM != nil {
		b = f.COM.Append(b)
	}
	if f.NoFrame {
		return b
	}
	b = f.Source.Append(f.Dest.Append(b))
	return append(appendU16(b, f.EtherType), f.Payload...)
}

// OKExtFrame is the body of OK(EXT_FRAME): the network ID. Nothing acts on
// it.
type OKExtFrame struct {
	NetworkID uint64
	Trailing  []byte // ignored by receivers, kept for exact re-encoding
}

func (*OKExtFrame) Verb() wire.Verb { return wire.VerbEXT_FRAME }

// ParseOKExtFrame decodes an OK(EXT_FRAME) body.
func ParseOKExtFrame(body []byte) (*OKExtFrame, error) {
	r := newReader(body, "OK(EXT_FRAME)")
	o := &OKExtFrame{NetworkID: r.U64("network ID")}
	o.Trailing = r.Rest()
	if r.Err() != nil {
		return nil, r.Err()
	}
	return o, nil
}

func (o *OKExtFrame) AppendPayload(b []byte) []byte {
	return append(appendU64(b, o.NetworkID), o.Trailing...)
}
