package offload

import (
	"encoding/binary"
	"math/bits"
)

// The Internet checksum (RFC 1071) is the ones' complement of the ones'
// complement sum of 16-bit words. Summing 64-bit words with end-around
// carry and folding at the end gives the same result, 4 words per add.

// sum adds b, as big-endian words, to a ones' complement accumulator.
// Only the last slice summed into one accumulator may have odd length.
func sum(acc uint64, b []byte) uint64 {
	var c uint64
	for len(b) >= 32 {
		acc, c = bits.Add64(acc, binary.BigEndian.Uint64(b), c)
		acc, c = bits.Add64(acc, binary.BigEndian.Uint64(b[8:]), c)
		acc, c = bits.Add64(acc, binary.BigEndian.Uint64(b[16:]), c)
		acc, c = bits.Add64(acc, binary.BigEndian.Uint64(b[24:]), c)
		b = b[32:]
	}
	for len(b) >= 8 {
		acc, c = bits.Add64(acc, binary.BigEndian.Uint64(b), c)
		b = b[8:]
	}
	if len(b) >= 4 {
		acc, c = bits.Add64(acc, uint64(binary.BigEndian.Uint32(b)), c)
		b = b[4:]
	}
	if len(b) >= 2 {
		acc, c = bits.Add64(acc, uint64(binary.BigEndian.Uint16(b)), c)
		b = b[2:]
	}
	if len(b) == 1 {
		acc, c = bits.Add64(acc, uint64(b[0])<<8, c)
	}
	// A carry out of this add leaves acc at 0, so adding it cannot carry.
	acc, c = bits.Add64(acc, 0, c)
	return acc + c
}

// addWord adds x to a ones' complement accumulator.
func addWord(acc, x uint64) uint64 {
	acc, c := bits.Add64(acc, x, 0)
	return acc + c
}

// fold reduces an accumulator to the 16-bit ones' complement sum.
func fold(acc uint64) uint16 {
	s := acc>>32 + acc&0xffffffff
	s = s>>16 + s&0xffff
	s = s>>16 + s&0xffff
	s = s>>16 + s&0xffff
	return uint16(s)
}

// pseudoHeaderSum is the sum of the TCP/UDP pseudo-header without its
// length: both addresses (4 or 16 bytes each) and the protocol.
func pseudoHeaderSum(src, dst []byte, proto uint8) uint64 {
	return addWord(sum(sum(0, src), dst), uint64(proto))
}

// ipv4HeaderChecksum fills in the checksum of the IPv4 header h.
func ipv4HeaderChecksum(h []byte) {
	h[10], h[11] = 0, 0
	binary.BigEndian.PutUint16(h[10:], ^fold(sum(0, h)))
}
