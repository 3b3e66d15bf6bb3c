package vl2wire

import (
	"github.com/ztgo/ztgo/layer1-vl1/identity"
)

// Credential type codes (vl2.md §4). Revocations name the type of what they
// revoke with these; 5 is unused.
const (
	CredentialNull       uint8 = 0
	CredentialCOM        uint8 = 1
	CredentialCapability uint8 = 2
	CredentialTag        uint8 = 3
	CredentialCOO        uint8 = 4
	CredentialRevocation uint8 = 6
)

// credentialSignatureMarker brackets the signed form of capabilities, tags,
// revocations and COOs, so that a signature over one kind of object can never
// be replayed as another's.
const credentialSignatureMarker = 0x7f7f7f7f7f7f7f7f

// signedCredential wraps the fields a credential signs in the marker and the
// (always empty) additional-fields length the reference includes.
func signedCredential(fields func([]byte) []byte) []byte {
	b := appendU64(make([]byte, 0, 256), credentialSignatureMarker)
	b = fields(b)
	b = appendU16(b, 0)
	return appendU64(b, credentialSignatureMarker)
}

// readCredentialSig reads a signature field: type 1 must carry exactly 96
// bytes, which are returned; any other type is skipped by its u16 length and
// leaves the signature zero, as in the reference (such a credential never
// verifies).
func readCredentialSig(r *reader, what string) (sig [identity.SignatureLength]byte) {
	t := r.U8(what + " signature type")
	at := r.Off()
	n := int(r.U16(what + " signature length"))
	if r.Err() == nil && t == credentialSignatureTypeV1 && n != identity.SignatureLength {
		r.Fail("%s signature length %d at offset %d (want %d)", what, n, at, identity.SignatureLength)
	}
	raw := r.Take(n, what+" signature")
	if r.Err() == nil && t == credentialSignatureTypeV1 {
		copy(sig[:], raw)
	}
	return sig
}

// appendCredentialSig writes a type-1 signature, the only kind 1.14.1 makes.
func appendCredentialSig(b []byte, sig *[identity.SignatureLength]byte) []byte {
	b = appendU16(append(b, credentialSignatureTypeV1), identity.SignatureLength)
	return append(b, sig[:]...)
}

// verifyControllerSigned is the check tags, revocations and COOs share: the
// signer must be the network's controller and the signature must verify with
// the identity given for it.
func verifyControllerSigned(nwid uint64, signedBy identity.Address, controller *identity.Identity, msg []byte, sig *[identity.SignatureLength]byte) bool {
	if signedBy == 0 || signedBy != ControllerOf(nwid) || controller == nil || controller.Address() != signedBy {
		return false
	}
	return controller.Verify(msg, sig[:])
}

// parseCredential runs one credential decoder over b as a standalone value
// and reports how many bytes it used.
func parseCredential[T any](b []byte, ctx string, parse func(*reader) *T) (*T, int, error) {
	r := newReader(b, ctx)
	v := parse(r)
	if r.Err() != nil {
		return nil, 0, r.Err()
	}
	return v, r.Off(), nil
}

// CountRules walks a serialized rule table (t|L|value per rule, vl2.md §5.2)
// by its length bytes and returns how many rules it holds. A rule cut short
// is ErrMalformed. Unknown rule types are counted like any other, because
// readers skip them by L.
func CountRules(rules []byte) (int, error) {
	r := newReader(rules, "rules")
	n := 0
	for r.Err() == nil && r.Left() > 0 {
		skipRule(r)
		n++
	}
	return n, r.Err()
}

func skipRule(r *reader) {
	r.Skip(1, "rule type")
	r.Skip(int(r.U8("rule length")), "rule value")
}
