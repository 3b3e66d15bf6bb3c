// Package offload turns the super-frames of a Linux TAP opened with
// IFF_VNET_HDR into plain Ethernet frames and back: Segmenter cuts a TSO
// or USO super-frame into frames no larger than the network's MTU, with
// their checksums filled in, and Coalescer merges consecutive TCP segments
// of one flow into one super-frame for the kernel (GRO). Other ZeroTier
// nodes only ever see plain frames. Nothing here makes system calls, so it
// builds and is tested on every OS.
package offload

import (
	"encoding/binary"
	"errors"
)

// HeaderLen is the size of struct virtio_net_hdr, which a TAP opened with
// IFF_VNET_HDR puts before every frame it hands over or takes.
const HeaderLen = 10

// Header is struct virtio_net_hdr (include/uapi/linux/virtio_net.h).
// Offsets are counted from the start of the Ethernet header.
type Header struct {
	Flags      uint8
	GSOType    uint8
	HdrLen     uint16 // headers before the payload; the kernel's value is only a hint
	GSOSize    uint16 // payload bytes per segment
	CsumStart  uint16 // where the checksummed data starts
	CsumOffset uint16 // where, from CsumStart, the checksum goes
}

// Header flags and GSO types, as virtio_net.h numbers them.
const (
	FlagNeedsCsum = 1 // the checksum field holds only the pseudo-header sum
	FlagDataValid = 2

	GSONone  = 0
	GSOTCPv4 = 1
	GSOUDP   = 3 // IP fragmentation offload (UFO): never enabled, refused
	GSOTCPv6 = 4
	GSOUDPL4 = 5
	GSOECN   = 0x80 // a TCP super-frame whose first segment carries CWR
)

// Errors of Segmenter.Reset and Segmenter.Next.
var (
	ErrShortHeader = errors.New("offload: frame shorter than a virtio_net_hdr")
	ErrMalformed   = errors.New("offload: malformed super-frame")
	ErrUnsupported = errors.New("offload: unsupported GSO type")
	ErrTooLarge    = errors.New("offload: segment larger than the MTU")
	ErrShortBuffer = errors.New("offload: output buffer too small")
)

// DecodeHeader reads a virtio_net_hdr. Legacy virtio headers, the kind a
// TAP uses unless told otherwise, are in the host's byte order.
func DecodeHeader(b []byte) (Header, error) {
	if len(b) < HeaderLen {
		return Header{}, ErrShortHeader
	}
	e := binary.NativeEndian
	return Header{
		Flags:      b[0],
		GSOType:    b[1],
		HdrLen:     e.Uint16(b[2:]),
		GSOSize:    e.Uint16(b[4:]),
		CsumStart:  e.Uint16(b[6:]),
		CsumOffset: e.Uint16(b[8:]),
	}, nil
}

// Encode writes h into b[:HeaderLen].
func (h Header) Encode(b []byte) {
	_ = b[HeaderLen-1]
	e := binary.NativeEndian
	b[0] = h.Flags
	b[1] = h.GSOType
	e.PutUint16(b[2:], h.HdrLen)
	e.PutUint16(b[4:], h.GSOSize)
	e.PutUint16(b[6:], h.CsumStart)
	e.PutUint16(b[8:], h.CsumOffset)
}
