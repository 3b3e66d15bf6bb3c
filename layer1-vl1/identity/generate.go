package identity

import (
	"crypto/ed25519"
	"encoding/binary"
	"fmt"
	"io"

	"golang.org/x/crypto/curve25519"
)

// Generate makes a new identity from rand: it searches for a Curve25519 key
// whose proof-of-work digest meets the bound and names a non-reserved address
// (about 15 digest evaluations on average).
func Generate(rand io.Reader) (*Identity, error) {
	scratch := newPowScratch()
	defer scratch.free()
	for {
		var secret [SecretKeyLength]byte
		if _, err := io.ReadFull(rand, secret[:]); err != nil {
			return nil, fmt.Errorf("generate identity: %w", err)
		}
		edPub := ed25519.NewKeyFromSeed(secret[32:]).Public().(ed25519.PublicKey)
		var public [PublicKeyLength]byte
		copy(public[32:], edPub)
		for {
			// Walk the X25519 secret as 1.14.1 does; any walk works, the
			// acceptance rule is what peers check.
			binary.LittleEndian.PutUint64(secret[8:], binary.LittleEndian.Uint64(secret[8:])+1)
			binary.LittleEndian.PutUint64(secret[16:], binary.LittleEndian.Uint64(secret[16:])-1)
			x, err := curve25519.X25519(secret[:32], curve25519.Basepoint)
			if err != nil {
				continue
			}
			copy(public[:32], x)
			d := scratch.digest(&public)
			if d[0] >= powFirstByteLessThan {
				continue
			}
			addr := AddressFromBytes(d[59:64])
			if addr.IsReserved() {
				break // new random secret
			}
			s := secret
			return &Identity{address: addr, public: public, secret: &s}, nil
		}
	}
}
