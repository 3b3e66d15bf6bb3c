package vl2wire

import (
	"github.com/ztgo/ztgo/layer1-vl1/identity"
)

// Tag is a signed (ID, value) pair the controller attaches to a member,
// matched by the TAGS_* rules (vl2.md §4.3).
type Tag struct {
	NetworkID          uint64
	Timestamp          int64
	ID, Value          uint32
	IssuedTo, SignedBy identity.Address
	Signature          [identity.SignatureLength]byte
}

// ParseTag decodes a tag at the start of b and returns how many bytes it
// used. A signature of a type other than 1 is skipped and leaves Signature
// zero; additional fields are skipped.
func ParseTag(b []byte) (*Tag, int, error) { return parseCredential(b, "tag", parseTag) }

func parseTag(r *reader) *Tag {
	t := &Tag{NetworkID: r.U64("network ID"), Timestamp: int64(r.U64("timestamp")), ID: r.U32("tag ID"), Value: r.U32("tag value")}
	t.IssuedTo, t.SignedBy = r.Address("issued to"), r.Address("signer")
	t.Signature = readCredentialSig(r, "tag")
	r.Skip(int(r.U16("additional fields length")), "additional fields")
	if r.Err() != nil {
		return nil
	}
	return t
}

func (t *Tag) appendFields(b []byte) []byte {
	b = appendU32(appendU32(appendU64(appendU64(b, t.NetworkID), uint64(t.Timestamp)), t.ID), t.Value)
	return t.SignedBy.Append(t.IssuedTo.Append(b))
}

// Append appends the tag as 1.14.1 writes it (135 bytes).
func (t *Tag) Append(b []byte) []byte {
	return appendU16(appendCredentialSig(t.appendFields(b), &t.Signature), 0)
}

// SigningMessage is what the controller signs.
func (t *Tag) SigningMessage() []byte { return signedCredential(t.appendFields) }

// Sign sets SignedBy to the controller and signs.
func (t *Tag) Sign(controller *identity.Identity) error {
	t.SignedBy = controller.Address()
	sig, err := controller.Sign(t.SigningMessage())
	if err != nil {
		return err
	}
	t.Signature = sig
	return nil
}

// Verify reports whether the tag is signed by its network's controller,
// whose identity is given.
func (t *Tag) Verify(controller *identity.Identity) bool {
	return verifyControllerSigned(t.NetworkID, t.SignedBy, controller, t.SigningMessage(), &t.Signature)
}
