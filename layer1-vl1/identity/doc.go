// Package identity implements ZeroTier's type-0 identities: 40-bit addresses,
// the Curve25519/Ed25519 key pairs, the memory-hard proof of work that ties an
// address to its keys, key agreement and the 96-byte signatures.
//
// It imports only ztcrypto from this module (spec vl1.md §2–3,
// vl1-crypto.md §4).
package identity
