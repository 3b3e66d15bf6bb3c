package vl2wire

import (
	"github.com/ztgo/ztgo/layer1-vl1/identity"
)

// RevocationFastPropagate asks every member that accepts a new revocation
// to forward it to the peers it knows on the network, so a deauthorized
// member is cut off within a round trip rather than by COM aging (vl2.md
// §4.8).
const RevocationFastPropagate = 0x1

// Revocation withdraws a member's credentials of one type (and ID) issued
// at or before Threshold (vl2.md §4.4). Target is the member concerned;
// CredentialID is 0 for COMs.
type Revocation struct {
	ID               uint32
	NetworkID        uint64
	CredentialID     uint32
	Threshold        int64
	Flags            uint64
	Target, SignedBy identity.Address
	Type             uint8
	Signature        [identity.SignatureLength]byte
}

// ParseRevocation decodes a revocation at the start of b and returns how
// many bytes it used. The two reserved words are skipped (and written back
// as zero); a signature of a type other than 1 is skipped and leaves
// Signature zero; additional fields are skipped.
func ParseRevocation(b []byte) (*Revocation, int, error) {
	return parseCredential(b, "revocation", parseRevocation)
}

func parseRevocation(r *reader) *Revocation {
	r.Skip(4, "reserved")
	v := &Revocation{ID: r.U32("revocation ID"), NetworkID: r.U64("network ID")}
	r.Skip(4, "reserved")
	v.CredentialID, v.Threshold, v.Flags = r.U32("credential ID"), int64(r.U64("threshold")), r.U64("flags")
	v.Target, v.SignedBy = r.Address("target"), r.Address("signer")
	v.Type = r.U8("credential type")
	v.Signature = readCredentialSig(r, "revocation")
	r.Skip(int(r.U16("additional fields length")), "additional fields")
	if r.Err() != nil {
		return nil
	}
	return v
}

func (v *Revocation) appendFields(b []byte) []byte {
	b = appendU64(appendU32(appendU32(b, 0), v.ID), v.NetworkID)
	b = appendU64(appendU32(appendU32(b, 0), v.CredentialID), uint64(v.Threshold))
	b = v.SignedBy.Append(v.Target.Append(appendU64(b, v.Flags)))
	return append(b, v.Type)
}

// Append appends the revocation as 1.14.1 writes it (152 bytes).
func (v *Revocation) Append(b []byte) []byte {
	return appendU16(appendCredentialSig(v.appendFields(b), &v.Signature), 0)
}

// SigningMessage is what the controller signs.
func (v *Revocation) SigningMessage() []byte { return signedCredential(v.appendFields) }

// Sign sets SignedBy to the controller and signs.
func (v *Revocation) Sign(controller *identity.Identity) error {
	v.SignedBy = controller.Address()
	sig, err := controller.Sign(v.SigningMessage())
	if err != nil {
		return err
	}
	v.Signature = sig
	return nil
}

// Verify reports whether the revocation is signed by its network's
// controller, whose identity is given.
func (v *Revocation) Verify(controller *identity.Identity) bool {
	return verifyControllerSigned(v.NetworkID, v.SignedBy, controller, v.SigningMessage(), &v.Signature)
}
