package vl2wire

import (
	"encoding/binary"

	"github.com/ztgo/ztgo/layer1-vl1/identity"
)

// NewCOM returns the unsigned certificate a 1.14.1 controller issues to
// member: timestamp (with maxDelta as its tolerance), network ID, issued-to
// and the four words of the member's public key hash that bind the COM to
// its full identity, not just its 40-bit address (vl2.md §4.1). The caller
// signs it with Sign.
func NewCOM(timestamp, maxDelta int64, nwid uint64, member *identity.Identity) *COM {
	h := member.PublicKeyHash()
	c := &COM{Qualifiers: make([]Qualifier, 0, 7)}
	c.Qualifiers = append(c.Qualifiers,
		Qualifier{QualifierTimestamp, uint64(timestamp), uint64(maxDelta)},
		Qualifier{QualifierNetworkID, nwid, 0},
		Qualifier{QualifierIssuedTo, uint64(member.Address()), ^uint64(0)})
	for i := range 4 {
		c.Qualifiers = append(c.Qualifiers, Qualifier{uint64(QualifierPublicKeyHash0 + i), binary.BigEndian.Uint64(h[8*i:]), ^uint64(0)})
	}
	return c
}

// AgreesWith reports whether a peer holding theirs may talk to us holding c
// (our own COM), as CertificateOfMembership::agreesWith decides (vl2.md
// §4.1): every qualifier of ours must be present in theirs and within our
// maxDelta of it, and if ours carries the identity-hash qualifiers, theirs
// must carry the hash of theirID, so a peer cannot present a COM issued to
// another identity with a colliding address.
//
// Only the two certificates are compared, never the local clock: two
// members agree while their controller-issued timestamps are close.
// Signatures are not checked here; the caller verifies theirs first.
func (c *COM) AgreesWith(theirs *COM, theirID *identity.Identity) bool {
	if c == nil || theirs == nil || len(c.Qualifiers) == 0 || len(theirs.Qualifiers) == 0 {
		return false
	}
	needHash := false
	for _, q := range c.Qualifiers {
		v, ok := theirs.Qualifier(q.ID)
		if !ok {
			return false
		}
		diff := q.Value - v
		if v > q.Value {
			diff = v - q.Value
		}
		if diff > q.MaxDelta {
			return false
		}
		if q.ID >= QualifierPublicKeyHash0 && q.ID <= QualifierPublicKeyHash3 {
			needHash = true
		}
	}
	if !needHash {
		return true
	}
	if theirID == nil {
		return false
	}
	h := theirID.PublicKeyHash()
	for i := range 4 {
		v, ok := theirs.Qualifier(uint64(QualifierPublicKeyHash0 + i))
		if !ok || v != binary.BigEndian.Uint64(h[8*i:]) {
			return false
		}
	}
	return true
}
