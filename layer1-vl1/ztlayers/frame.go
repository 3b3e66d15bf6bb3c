package ztlayers

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/ztgo/ztgo/layer1-vl1/wire"
)

// EXT_FRAME flag bits (vl2.md §2.2). Bits 0x0e are the TEE/REDIRECT/WATCH
// subtype, which receivers ignore.
const (
	ExtFrameFlagCOM    = 0x01 // a certificate of membership follows the flags
	ExtFrameFlagWantOK = 0x10 // the sender asks for OK(EXT_FRAME)
)

// MULTICAST_FRAME flag bits (vl2.md §2.5).
const (
	MulticastFrameFlagCOM         = 0x01 // a certificate of membership follows the flags
	MulticastFrameFlagGatherLimit = 0x02 // a 4-byte gather limit follows
	MulticastFrameFlagSource      = 0x04 // an explicit source MAC follows
	MulticastFrameFlagReplicate   = 0x08 // "please replicate" to a multicast replicator
)

// COM layout (vl2.md §4.1): type byte, qualifier count, 24-byte qualifiers,
// 5-byte signer, and a 96-byte signature when the signer is not zero.
const (
	comType          = 0x01
	comMaxQualifiers = 8
	comQualifierLen  = 24
	comSignerLen     = 5
	comSignatureLen  = 96
)

const macLength = 6

// FrameHeader is what FRAME, EXT_FRAME and MULTICAST_FRAME carry in front
// of their Ethernet data (vl2.md §2.1, §2.2, §2.5). Byte slices point into
// the decoded envelope.
//
//	FRAME            network ID (8), ethertype (2), Ethernet payload
//	EXT_FRAME        network ID (8), flags (1), [COM], whole Ethernet frame
//	MULTICAST_FRAME  network ID (8), flags (1), [COM], [gather limit (4)],
//	                 [source MAC (6)], group MAC (6), group ADI (4),
//	                 ethertype (2), Ethernet payload
type FrameHeader struct {
	NetworkID uint64
	// Flags is EXT_FRAME's or MULTICAST_FRAME's flag byte; FRAME has none.
	Flags uint8
	// COM is the inline certificate of membership, exactly as on the wire,
	// present iff Flags has 0x01. Decoding finds its length but does not
	// check its qualifiers or signature (layer2-vl2 does).
	COM []byte
	// GatherLimit is MULTICAST_FRAME's gather limit (flag 0x02).
	GatherLimit uint32
	// Source is MULTICAST_FRAME's explicit source MAC (flag 0x04); without
	// it the source is the MAC derived from the sender and network.
	Source net.HardwareAddr
	// Group and GroupADI are MULTICAST_FRAME's destination multicast group.
	Group    net.HardwareAddr
	GroupADI uint32
	// EtherType is the Ethernet payload's type for FRAME and
	// MULTICAST_FRAME. EXT_FRAME carries a whole Ethernet frame, whose
	// header has it.
	EtherType layers.EthernetType
}

// isFrameVerb reports whether v carries Ethernet data this package decodes
// further.
func isFrameVerb(v wire.Verb) bool {
	return v == wire.VerbFRAME || v == wire.VerbEXT_FRAME || v == wire.VerbMULTICAST_FRAME
}

var errShortFrame = errors.New("short")

// decode reads the header of a frame verb's payload and returns its length.
func (f *FrameHeader) decode(v wire.Verb, b []byte) (int, error) {
	*f = FrameHeader{}
	r := wire.NewReader(b, v)
	f.NetworkID = r.U64("network ID")
	if v == wire.VerbFRAME {
		f.EtherType = layers.EthernetType(r.U16("ethertype"))
		return frameEnd(&r)
	}
	f.Flags = r.U8("flags")
	if f.Flags&ExtFrameFlagCOM != 0 && r.Err() == nil { // 0x01 means the same in both verbs
		n, err := comLength(b[r.Off():])
		if err != nil {
			return 0, err
		}
		f.COM = r.Take(n, "certificate of membership")
	}
	if v == wire.VerbEXT_FRAME {
		return frameEnd(&r)
	}
	if f.Flags&MulticastFrameFlagGatherLimit != 0 {
		f.GatherLimit = r.U32("gather limit")
	}
	if f.Flags&MulticastFrameFlagSource != 0 {
		f.Source = net.HardwareAddr(r.Take(macLength, "source MAC"))
	}
	f.Group = net.HardwareAddr(r.Take(macLength, "group MAC"))
	f.GroupADI = r.U32("group ADI")
	f.EtherType = layers.EthernetType(r.U16("ethertype"))
	return frameEnd(&r)
}

// frameEnd is the header's length, or the reader's error marked as a short
// frame (the only way the reader fails) so the decoder flags truncation.
func frameEnd(r *wire.Reader) (int, error) {
	if err := r.Err(); err != nil {
		return 0, fmt.Errorf("%w: %w", errShortFrame, err)
	}
	return r.Off(), nil
}

// appendTo appends the header of verb v.
func (f *FrameHeader) appendTo(b []byte, v wire.Verb) ([]byte, error) {
	b = binary.BigEndian.AppendUint64(b, f.NetworkID)
	if v == wire.VerbFRAME {
		return binary.BigEndian.AppendUint16(b, uint16(f.EtherType)), nil
	}
	b = append(b, f.Flags)
	hasCOM := f.Flags&ExtFrameFlagCOM != 0
	switch {
	case hasCOM:
		if n, err := comLength(f.COM); err != nil || n != len(f.COM) {
			return nil, fmt.Errorf("COM of %d bytes is malformed (%v)", len(f.COM), err)
		}
		b = append(b, f.COM...)
	case f.COM != nil:
		return nil, fmt.Errorf("COM given but flag 0x01 is clear")
	}
	if v == wire.VerbEXT_FRAME {
		return b, nil
	}
	if f.Flags&MulticastFrameFlagGatherLimit != 0 {
		b = binary.BigEndian.AppendUint32(b, f.GatherLimit)
	}
	if f.Flags&MulticastFrameFlagSource != 0 {
		if len(f.Source) != macLength {
			return nil, fmt.Errorf("source MAC %v is not %d bytes", f.Source, macLength)
		}
		b = append(b, f.Source...)
	}
	if len(f.Group) != macLength {
		return nil, fmt.Errorf("group MAC %v is not %d bytes", f.Group, macLength)
	}
	b = append(b, f.Group...)
	b = binary.BigEndian.AppendUint32(b, f.GroupADI)
	return binary.BigEndian.AppendUint16(b, uint16(f.EtherType)), nil
}

// nextLayerType is the layer the frame's Ethernet data decodes as.
func (f *FrameHeader) nextLayerType(v wire.Verb) gopacket.LayerType {
	if v == wire.VerbEXT_FRAME {
		return layers.LayerTypeEthernet
	}
	// EthernetType.LayerType is 0 (LayerTypeZero, "stop") for types
	// gopacket does not know; keep the bytes visible as a payload instead.
	if lt := f.EtherType.LayerType(); lt != gopacket.LayerTypeZero {
		return lt
	}
	return gopacket.LayerTypePayload
}

// comLength is the length of the certificate of membership at the start of
// b, as 1.14.1 parses it: a decode error for another type byte or more than
// eight qualifiers.
func comLength(b []byte) (int, error) {
	if len(b) < 3 {
		return 0, fmt.Errorf("certificate of membership: %w (%d bytes)", errShortFrame, len(b))
	}
	if b[0] != comType {
		return 0, fmt.Errorf("certificate of membership: type %#02x, want 0x01", b[0])
	}
	q := int(binary.BigEndian.Uint16(b[1:]))
	if q > comMaxQualifiers {
		return 0, fmt.Errorf("certificate of membership: %d qualifiers (at most %d)", q, comMaxQualifiers)
	}
	signer := 3 + q*comQualifierLen
	n := signer + comSignerLen
	if len(b) < n {
		return 0, fmt.Errorf("certificate of membership: %w (%d of %d bytes)", errShortFrame, len(b), n)
	}
	for _, c := range b[signer:n] {
		if c != 0 {
			return n + comSignatureLen, nil
		}
	}
	return n, nil
}
