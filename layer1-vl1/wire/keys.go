package wire

import (
	"github.com/ztgo/ztgo/layer1-vl1/identity"
	"github.com/ztgo/ztgo/layer1-vl1/ztcrypto"
)

// Keys are the symmetric keys of one peer relationship, derived once from the
// 48-byte agreement (vl1-crypto.md §4.2, §4.4). Safe for concurrent use.
type Keys struct {
	salsa [32]byte          // suites 0/1 and HELLO cryptField: agreement[0:32]
	siv   *ztcrypto.GMACSIV // suite 3: K0, K1 from the KBKDF
}

// NewKeys derives the packet keys from a shared key.
func NewKeys(shared *[identity.SharedKeyLength]byte) (*Keys, error) {
	k0 := ztcrypto.KBKDF(shared[:], '0')
	k1 := ztcrypto.KBKDF(shared[:], '1')
	siv, err := ztcrypto.NewGMACSIV(k0[:32], k1[:32])
	if err != nil {
		return nil, err
	}
	k := &Keys{siv: siv}
	copy(k.salsa[:], shared[:32])
	return k, nil
}

// KeysBetween agrees on a key between a local identity (with secret) and a
// peer and derives the packet keys.
func KeysBetween(local, peer *identity.Identity) (*Keys, error) {
	shared, err := local.Agree(peer)
	if err != nil {
		return nil, err
	}
	return NewKeys(&shared)
}
