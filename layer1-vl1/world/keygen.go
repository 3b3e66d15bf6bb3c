package world

import (
	"crypto/ed25519"
	"fmt"
	"io"

	"golang.org/x/crypto/curve25519"
)

// GenerateKeyPair makes a new world signing key (the 128-byte C25519 pair
// `zerotier-idtool initmoon` and mkworld create), from rand.
func GenerateKeyPair(rand io.Reader) (*KeyPair, error) {
	var kp KeyPair
	if _, err := io.ReadFull(rand, kp.Secret[:]); err != nil {
		return nil, fmt.Errorf("generate signing key: %w", err)
	}
	x, err := curve25519.X25519(kp.Secret[:32], curve25519.Basepoint)
	if err != nil {
		return nil, fmt.Errorf("generate signing key: %w", err)
	}
	copy(kp.Public[:32], x)
	copy(kp.Public[32:], ed25519.NewKeyFromSeed(kp.Secret[32:]).Public().(ed25519.PublicKey))
	return &kp, nil
}
