// Package ztcrypto holds the cryptographic primitives ZeroTier's VL1 is built
// on that the standard library and golang.org/x/crypto do not provide in the
// exact form the protocol needs: Salsa20 with 12 rounds (and ZeroTier's
// whole-block stream semantics), truncated Poly1305, AES-GMAC-SIV and the
// HMAC-SHA-384 key derivation for its keys.
//
// It knows nothing about packets or identities and imports nothing from this
// module; see the spec's vl1-crypto.md for the constructions.
package ztcrypto
