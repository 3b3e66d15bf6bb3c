package vl2wire

import (
	"github.com/ztgo/ztgo/layer1-vl1/identity"
)

// COM wire constants (vl2.md §4.1).
const (
	comType          = 0x01
	MaxCOMQualifiers = 8
	qualifierLength  = 24
)

// Qualifier IDs the 1.14.1 controller issues (vl2.md §4.1).
const (
	QualifierTimestamp = 0 // issue time, maxDelta = credential time max delta
	QualifierNetworkID = 1
	QualifierIssuedTo  = 2
	// 3..6: bytes 0–7, 8–15, 16–23, 24–31 of SHA-384(address ‖ public key)
	// of the member, each as a big-endian u64.
	QualifierPublicKeyHash0 = 3
	QualifierPublicKeyHash1 = 4
	QualifierPublicKeyHash2 = 5
	QualifierPublicKeyHash3 = 6
)

// Qualifier is one (id, value, maxDelta) triple of a COM.
type Qualifier struct {
	ID, Value, MaxDelta uint64
}

// COM is a certificate of membership. Signature is present on the wire iff
// SignedBy is non-zero.
type COM struct {
	Qualifiers []Qualifier
	SignedBy   identity.Address
	Signature  [identity.SignatureLength]byte
}

// ParseCOM decodes a COM at the start of b and returns how many bytes it
// used. IDs must not decrease and there may be at most 8 qualifiers.
func ParseCOM(b []byte) (*COM, int, error) {
	r := newReader(b, "COM")
	c := parseCOM(r, "")
	if r.Err() != nil {
		return nil, 0, r.Err()
	}
	return c, r.Off(), nil
}

// parseCOM reads a COM from r; prefix names it in errors inside a verb.
func parseCOM(r *reader, prefix string) *COM {
	start := r.Off()
	if t := r.U8(prefix + "type"); r.Err() == nil && t != comType {
		r.Fail("%stype 0x%02x at offset %d (want 0x01)", prefix, t, start)
	}
	n := int(r.U16(prefix + "qualifier count"))
	if r.Err() == nil && n > MaxCOMQualifiers {
		r.Fail("%squalifier count %d exceeds %d", prefix, n, MaxCOMQualifiers)
	}
	if r.Err() != nil {
		return nil
	}
	c := &COM{}
	if n > 0 {
		c.Qualifiers = make([]Qualifier, 0, n)
	}
	var last uint64
	for i := range n {
		at := r.Off()
		q := Qualifier{ID: r.U64(prefix + "qualifier ID"), Value: r.U64(prefix + "qualifier value"),
			MaxDelta: r.U64(prefix + "qualifier max delta")}
		if r.Err() != nil {
			return nil
		}
		if q.ID < last {
			r.Fail("%squalifier %d ID %d at offset %d is below the previous ID %d", prefix, i, q.ID, at, last)
			return nil
		}
		last = q.ID
		c.Qualifiers = append(c.Qualifiers, q)
	}
	c.SignedBy = r.Address(prefix + "signer")
	if c.SignedBy != 0 {
		copy(c.Signature[:], r.Take(identity.SignatureLength, prefix+"signature"))
	}
	if r.Err() != nil {
		return nil
	}
	return c
}

// Len is the COM's encoded size.
func (c *COM) Len() int {
	n := 1 + 2 + qualifierLength*len(c.Qualifiers) + identity.AddressLength
	if c.SignedBy != 0 {
		n += identity.SignatureLength
	}
	return n
}

// Append appends the encoded COM.
func (c *COM) Append(b []byte) []byte {
	b = append(b, comType)
	b = appendU16(b, uint16(len(c.Qualifiers)))
	for _, q := range c.Qualifiers {
		b = appendU64(appendU64(appendU64(b, q.ID), q.Value), q.MaxDelta)
	}
	b = c.SignedBy.Append(b)
	if c.SignedBy != 0 {
		b = append(b, c.Signature[:]...)
	}
	return b
}

// SigningMessage is what the controller signs: every qualifier as
// big-endian id ‖ value ‖ maxDelta, nothing else.
func (c *COM) SigningMessage() []byte {
	b := make([]byte, 0, qualifierLength*len(c.Qualifiers))
	for _, q := range c.Qualifiers {
		b = appendU64(appendU64(appendU64(b, q.ID), q.Value), q.MaxDelta)
	}
	return b
}

// Qualifier returns the value of the first qualifier with the given ID.
func (c *COM) Qualifier(id uint64) (uint64, bool) {
	for _, q := range c.Qualifiers {
		if q.ID == id {
			return q.Value, true
		}
	}
	return 0, false
}

// NetworkID is qualifier 1's value, or 0.
func (c *COM) NetworkID() uint64 {
	v, _ := c.Qualifier(QualifierNetworkID)
	return v
}

// IssuedTo is qualifier 2's value as an address, or 0.
func (c *COM) IssuedTo() identity.Address {
	v, _ := c.Qualifier(QualifierIssuedTo)
	return identity.Address(v & 0xffffffffff)
}

// Timestamp is qualifier 0's value (milliseconds), or 0.
func (c *COM) Timestamp() int64 {
	v, _ := c.Qualifier(QualifierTimestamp)
	return int64(v)
}

// Sign signs the qualifiers with the controller's identity and sets
// SignedBy.
func (c *COM) Sign(controller *identity.Identity) error {
	sig, err := controller.Sign(c.SigningMessage())
	if err != nil {
		return err
	}
	c.Signature = sig
	c.SignedBy = controller.Address()
	return nil
}

// Verify reports whether the COM is signed by the controller of the network
// it names (qualifier 1) and the signature checks out with that controller's
// identity, as CertificateOfMembership::verify does (vl2.md §4.1).
func (c *COM) Verify(controller *identity.Identity) bool {
	if c.SignedBy == 0 || len(c.Qualifiers) > MaxCOMQualifiers || controller == nil ||
		c.SignedBy != ControllerOf(c.NetworkID()) || controller.Address() != c.SignedBy {
		return false
	}
	return controller.Verify(c.SigningMessage(), c.Signature[:])
}
