package ztcrypto

import (
	"encoding/binary"
	"math/bits"
)

// Salsa20 is a Salsa20 keystream with a configurable round count (ZeroTier uses
// 12 rounds for packets and 20 for the identity proof of work).
//
// ZeroTier's stream object works on whole 64-byte blocks: a call that uses only
// part of a block discards the rest, and the next call starts on a fresh block.
// Armoring depends on this (the payload keystream starts at offset 64, after
// the 32-byte Poly1305 key), so this type keeps the same rule.
type Salsa20 struct {
	state  [16]uint32
	rounds int
}

// NewSalsa20 returns a keystream for key and nonce with the block counter at 0.
// rounds must be even (12 or 20).
func NewSalsa20(key *[32]byte, nonce *[8]byte, rounds int) Salsa20 {
	var s Salsa20
	s.Init(key, nonce, rounds)
	return s
}

// Init resets s to key and nonce with the block counter at 0.
func (s *Salsa20) Init(key *[32]byte, nonce *[8]byte, rounds int) {
	// "expand 32-byte k" as little-endian words.
	s.state[0] = 0x61707865
	s.state[5] = 0x3320646e
	s.state[10] = 0x79622d32
	s.state[15] = 0x6b206574
	for i := 0; i < 4; i++ {
		s.state[1+i] = binary.LittleEndian.Uint32(key[4*i:])
		s.state[11+i] = binary.LittleEndian.Uint32(key[16+4*i:])
	}
	s.state[6] = binary.LittleEndian.Uint32(nonce[0:])
	s.state[7] = binary.LittleEndian.Uint32(nonce[4:])
	s.state[8] = 0
	s.state[9] = 0
	s.rounds = rounds
}

// XORKeyStream sets dst = src XOR keystream, consuming ceil(len(src)/64)
// blocks. dst and src may be the same slice; dst must be at least as long as
// src.
func (s *Salsa20) XORKeyStream(dst, src []byte) {
	dst = dst[:len(src)]
	var block [64]byte
	for len(src) >= 64 {
		s.nextBlock(&block)
		for i := 0; i < 64; i += 8 {
			v := binary.LittleEndian.Uint64(src[i:]) ^ binary.LittleEndian.Uint64(block[i:])
			binary.LittleEndian.PutUint64(dst[i:], v)
		}
		src, dst = src[64:], dst[64:]
	}
	if len(src) > 0 {
		s.nextBlock(&block)
		for i := range src {
			dst[i] = src[i] ^ block[i]
		}
	}
}

// KeyStream fills dst with keystream, consuming ceil(len(dst)/64) blocks.
func (s *Salsa20) KeyStream(dst []byte) {
	var block [64]byte
	for len(dst) > 0 {
		s.nextBlock(&block)
		n := copy(dst, block[:])
		dst = dst[n:]
	}
}

// nextBlock writes the current block's keystream into out and advances the
// 64-bit block counter.
func (s *Salsa20) nextBlock(out *[64]byte) {
	x := &s.state
	y0, y1, y2, y3 := x[0], x[1], x[2], x[3]
	y4, y5, y6, y7 := x[4], x[5], x[6], x[7]
	y8, y9, y10, y11 := x[8], x[9], x[10], x[11]
	y12, y13, y14, y15 := x[12], x[13], x[14], x[15]

	for i := 0; i < s.rounds; i += 2 {
		// Column round.
		y4 ^= bits.RotateLeft32(y0+y12, 7)
		y8 ^= bits.RotateLeft32(y4+y0, 9)
		y12 ^= bits.RotateLeft32(y8+y4, 13)
		y0 ^= bits.RotateLeft32(y12+y8, 18)

		y9 ^= bits.RotateLeft32(y5+y1, 7)
		y13 ^= bits.RotateLeft32(y9+y5, 9)
		y1 ^= bits.RotateLeft32(y13+y9, 13)
		y5 ^= bits.RotateLeft32(y1+y13, 18)

		y14 ^= bits.RotateLeft32(y10+y6, 7)
		y2 ^= bits.RotateLeft32(y14+y10, 9)
		y6 ^= bits.RotateLeft32(y2+y14, 13)
		y10 ^= bits.RotateLeft32(y6+y2, 18)

		y3 ^= bits.RotateLeft32(y15+y11, 7)
		y7 ^= bits.RotateLeft32(y3+y15, 9)
		y11 ^= bits.RotateLeft32(y7+y3, 13)
		y15 ^= bits.RotateLeft32(y11+y7, 18)

		// Row round.
		y1 ^= bits.RotateLeft32(y0+y3, 7)
		y2 ^= bits.RotateLeft32(y1+y0, 9)
		y3 ^= bits.RotateLeft32(y2+y1, 13)
		y0 ^= bits.RotateLeft32(y3+y2, 18)

		y6 ^= bits.RotateLeft32(y5+y4, 7)
		y7 ^= bits.RotateLeft32(y6+y5, 9)
		y4 ^= bits.RotateLeft32(y7+y6, 13)
		y5 ^= bits.RotateLeft32(y4+y7, 18)

		y11 ^= bits.RotateLeft32(y10+y9, 7)
		y8 ^= bits.RotateLeft32(y11+y10, 9)
		y9 ^= bits.RotateLeft32(y8+y11, 13)
		y10 ^= bits.RotateLeft32(y9+y8, 18)

		y12 ^= bits.RotateLeft32(y15+y14, 7)
		y13 ^= bits.RotateLeft32(y12+y15, 9)
		y14 ^= bits.RotateLeft32(y13+y12, 13)
		y15 ^= bits.RotateLeft32(y14+y13, 18)
	}

	binary.LittleEndian.PutUint32(out[0:], y0+x[0])
	binary.LittleEndian.PutUint32(out[4:], y1+x[1])
	binary.LittleEndian.PutUint32(out[8:], y2+x[2])
	binary.LittleEndian.PutUint32(out[12:], y3+x[3])
	binary.LittleEndian.PutUint32(out[16:], y4+x[4])
	binary.LittleEndian.PutUint32(out[20:], y5+x[5])
	binary.LittleEndian.PutUint32(out[24:], y6+x[6])
	binary.LittleEndian.PutUint32(out[28:], y7+x[7])
	binary.LittleEndian.PutUint32(out[32:], y8+x[8])
	binary.LittleEndian.PutUint32(out[36:], y9+x[9])
	binary.LittleEndian.PutUint32(out[40:], y10+x[10])
	binary.LittleEndian.PutUint32(out[44:], y11+x[11])
	binary.LittleEndian.PutUint32(out[48:], y12+x[12])
	binary.LittleEndian.PutUint32(out[52:], y13+x[13])
	binary.LittleEndian.PutUint32(out[56:], y14+x[14])
	binary.LittleEndian.PutUint32(out[60:], y15+x[15])

	x[8]++
	if x[8] == 0 {
		x[9]++
	}
}
