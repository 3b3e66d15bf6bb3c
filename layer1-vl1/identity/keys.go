package identity

import (
	"crypto/ed25519"
	"crypto/sha512"
	"crypto/subtle"
	"fmt"

	"golang.org/x/crypto/curve25519"
)

// SharedKeyLength is ZT_SYMMETRIC_KEY_SIZE: the per-peer key both sides derive.
const SharedKeyLength = 48

// SignatureLength is the size of a ZeroTier signature: Ed25519 R‖S followed by
// the 32-byte digest that was signed.
const SignatureLength = 96

// Agree derives the 48-byte key this identity shares with peer: SHA-512 of the
// X25519 result, truncated (vl1-crypto.md §4.2).
func (id *Identity) Agree(peer *Identity) ([SharedKeyLength]byte, error) {
	var key [SharedKeyLength]byte
	if id.secret == nil {
		return key, ErrNoSecret
	}
	raw, err := curve25519.X25519(id.secret[:32], peer.public[:32])
	if err != nil {
		return key, fmt.Errorf("agree with %s: %w", peer.address, ErrBadAgreement)
	}
	sum := sha512.Sum512(raw)
	copy(key[:], sum[:SharedKeyLength])
	return key, nil
}

// AgreeExtended returns n bytes of agreement key, extending past 64 bytes by
// re-hashing the previous 64 (the rule 1.14.1 uses for longer keys).
func (id *Identity) AgreeExtended(peer *Identity, n int) ([]byte, error) {
	if id.secret == nil {
		return nil, ErrNoSecret
	}
	raw, err := curve25519.X25519(id.secret[:32], peer.public[:32])
	if err != nil {
		return nil, fmt.Errorf("agree with %s: %w", peer.address, ErrBadAgreement)
	}
	out := make([]byte, 0, n+64)
	block := sha512.Sum512(raw)
	for len(out) < n {
		out = append(out, block[:]...)
		block = sha512.Sum512(block[:])
	}
	return out[:n], nil
}

// Sign returns the 96-byte signature of msg: Ed25519 over the first 32 bytes
// of SHA-512(msg), followed by those 32 bytes (vl1-crypto.md §4.3).
func (id *Identity) Sign(msg []byte) ([SignatureLength]byte, error) {
	var sig [SignatureLength]byte
	if id.secret == nil {
		return sig, ErrNoSecret
	}
	return SignWithSecret(id.secret, msg), nil
}

// SignWithSecret signs with a raw 64-byte C25519 secret (X25519 ‖ Ed25519
// seed), as world signing keys are stored.
func SignWithSecret(secret *[SecretKeyLength]byte, msg []byte) [SignatureLength]byte {
	var sig [SignatureLength]byte
	h := sha512.Sum512(msg)
	priv := ed25519.NewKeyFromSeed(secret[32:])
	copy(sig[:64], ed25519.Sign(priv, h[:32]))
	copy(sig[64:], h[:32])
	return sig
}

// Verify checks a 96-byte signature of msg against this identity.
func (id *Identity) Verify(msg, sig []byte) bool {
	return VerifyWithPublic(&id.public, msg, sig)
}

// VerifyWithPublic checks a signature against a raw 64-byte C25519 public key.
func VerifyWithPublic(public *[PublicKeyLength]byte, msg, sig []byte) bool {
	if len(sig) != SignatureLength {
		return false
	}
	h := sha512.Sum512(msg)
	if subtle.ConstantTimeCompare(h[:32], sig[64:]) != 1 {
		return false
	}
	return ed25519.Verify(ed25519.PublicKey(public[32:]), h[:32], sig[:64])
}
