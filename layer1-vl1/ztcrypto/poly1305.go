package ztcrypto

import (
	"crypto/subtle"

	//lint:ignore SA1019 ZeroTier's armor is raw Poly1305 keyed per packet, which is what this package is for
	"golang.org/x/crypto/poly1305"
)

// Poly1305TagLength is how much of the 16-byte Poly1305 tag ZeroTier puts on
// the wire.
const Poly1305TagLength = 8

// Poly1305Sum writes the first 8 bytes of Poly1305(key, msg) into tag.
func Poly1305Sum(tag *[Poly1305TagLength]byte, msg []byte, key *[32]byte) {
	var full [16]byte
	poly1305.Sum(&full, msg, key)
	copy(tag[:], full[:Poly1305TagLength])
}

// Poly1305Verify reports, in constant time, whether tag is the truncated
// Poly1305 tag of msg under key.
func Poly1305Verify(tag []byte, msg []byte, key *[32]byte) bool {
	var want [Poly1305TagLength]byte
	Poly1305Sum(&want, msg, key)
	return len(tag) == Poly1305TagLength && subtle.ConstantTimeCompare(tag, want[:]) == 1
}
