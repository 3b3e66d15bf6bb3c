package wire

import (
	"errors"
	"fmt"

	"github.com/ztgo/ztgo/layer1-vl1/lz4"
)

// ErrDecompress is wrapped by Decompress failures.
var ErrDecompress = errors.New("bad compressed payload")

// Compress LZ4-compresses p's payload in place when that makes it strictly
// shorter and the payload is over 64 bytes, as 1.14.1 does, and sets the
// compressed flag. scratch must have room for lz4.CompressBound of the
// payload (2×MaxPacketLength always does). It returns the possibly shorter
// packet.
func Compress(p Packet, scratch []byte) Packet {
	if !p.Valid() || p.Compressed() {
		return p
	}
	payload := p.Payload()
	if len(payload) <= compressMinPayload {
		return p
	}
	n := lz4.CompressBlock(scratch, payload)
	if n <= 0 || n >= len(payload) {
		return p
	}
	copy(payload, scratch[:n])
	p[IdxVerb] |= verbCompressed
	return p[:IdxPayload+n]
}

// Decompress expands a compressed payload into dst (which must not overlap
// p) and returns the packet in dst with the compressed flag clear. An
// uncompressed p is copied as it is. The result must be 1..MaxPacketLength-28
// payload bytes (vl1.md §4.5).
func Decompress(dst []byte, p Packet) (Packet, error) {
	if !p.Valid() {
		return nil, ErrShortPacket
	}
	if !p.Compressed() {
		return append(Packet(dst[:0]), p...), nil
	}
	dst = append(dst[:0], p[:IdxPayload]...)
	if cap(dst) < MaxPacketLength {
		grown := make([]byte, IdxPayload, MaxPacketLength)
		copy(grown, dst)
		dst = grown
	}
	out := dst[IdxPayload:MaxPacketLength]
	n, err := lz4.DecompressBlock(out, p.Payload())
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrDecompress, err)
	}
	if n == 0 {
		return nil, fmt.Errorf("%w: empty result", ErrDecompress)
	}
	q := Packet(dst[:IdxPayload+n])
	q[IdxVerb] &^= verbCompressed
	return q, nil
}
