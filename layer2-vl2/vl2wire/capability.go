package vl2wire

import (
	"github.com/ztgo/ztgo/layer1-vl1/identity"
)

// CustodyLink is one step of a capability's custody chain: From handed the
// capability To, and signed it.
type CustodyLink struct {
	To, From  identity.Address
	Signature [identity.SignatureLength]byte
}

// Capability is a small signed rule table issued to one member (vl2.md
// §4.2). Rules are kept exactly as carried (t|L|value, RuleCount of them) so
// that this package does not depend on the rules engine; package rules
// decodes them. The holder is the last To of the custody chain.
type Capability struct {
	NetworkID  uint64
	Timestamp  int64
	ID         uint32
	RuleCount  int
	Rules      []byte
	MaxCustody uint8
	Custody    []CustodyLink
}

// ParseCapability decodes a capability at the start of b and returns how
// many bytes it used. Rules are walked by their length bytes, so unknown
// rule types pass. Signatures of a type other than 1 are skipped and leave
// the link's signature zero; additional fields are skipped. Rules aliases b.
func ParseCapability(b []byte) (*Capability, int, error) {
	return parseCredential(b, "capability", parseCapability)
}

func parseCapability(r *reader) *Capability {
	c := &Capability{NetworkID: r.U64("network ID"), Timestamp: int64(r.U64("timestamp")), ID: r.U32("capability ID")}
	at := r.Off()
	c.RuleCount = int(r.U16("rule count"))
	if r.Err() == nil && c.RuleCount > MaxCapabilityRules {
		r.Fail("rule count %d at offset %d exceeds %d", c.RuleCount, at, MaxCapabilityRules)
	}
	start := r.Off()
	for i := 0; i < c.RuleCount && r.Err() == nil; i++ {
		skipRule(r)
	}
	if r.Err() != nil {
		return nil
	}
	if r.Off() > start {
		c.Rules = r.Buf()[start:r.Off():r.Off()]
	}
	at = r.Off()
	c.MaxCustody = r.U8("max custody chain length")
	if r.Err() == nil && (c.MaxCustody < 1 || c.MaxCustody > MaxCustodyChainLength) {
		r.Fail("max custody chain length %d at offset %d (want 1..%d)", c.MaxCustody, at, MaxCustodyChainLength)
	}
	for i := 0; r.Err() == nil; i++ {
		at = r.Off()
		to := r.Address("custody recipient")
		if r.Err() != nil || to == 0 {
			break
		}
		if i >= int(c.MaxCustody) {
			r.Fail("custody entry %d at offset %d exceeds the chain length %d", i, at, c.MaxCustody)
			break
		}
		l := CustodyLink{To: to, From: r.Address("custody issuer")}
		l.Signature = readCredentialSig(r, "custody")
		c.Custody = append(c.Custody, l)
	}
	r.Skip(int(r.U16("additional fields length")), "additional fields")
	if r.Err() != nil {
		return nil
	}
	return c
}

// Append appends the capability as 1.14.1 writes it: type-1 signatures, the
// all-zero terminator after the chain (even a full one) and no additional
// fields.
func (c *Capability) Append(b []byte) []byte {
	b = c.appendHead(b)
	for _, l := range c.Custody {
		b = l.From.Append(l.To.Append(b))
		b = appendCredentialSig(b, &l.Signature)
	}
	b = identity.Address(0).Append(b)
	return appendU16(b, 0)
}

// appendHead writes the fields every custody signature covers.
func (c *Capability) appendHead(b []byte) []byte {
	b = appendU32(appendU64(appendU64(b, c.NetworkID), uint64(c.Timestamp)), c.ID)
	b = append(appendU16(b, uint16(c.RuleCount)), c.Rules...)
	return append(b, c.MaxCustody)
}

// SigningMessage is what every custody link signs; links are not chained
// into it, so each signer vouches for the same content. As in 1.14.1 no
// signature covers a link's To: the chain proves who issued the
// capability, not who holds it.
func (c *Capability) SigningMessage() []byte { return signedCredential(c.appendHead) }

// Sign makes the chain a controller issues: MaxCustody 1 and the single
// link {to, from: controller}.
func (c *Capability) Sign(controller *identity.Identity, to identity.Address) error {
	c.MaxCustody = 1
	sig, err := controller.Sign(c.SigningMessage())
	if err != nil {
		return err
	}
	c.Custody = []CustodyLink{{To: to, From: controller.Address(), Signature: sig}}
	return nil
}

// Verify checks the custody chain as Capability::verify does (vl2.md
// §4.2): a chain length bound of 1..7, a first link from the network's
// controller, each later link from the previous recipient, and every
// signature valid for its From identity. lookup returns nil for identities
// not known yet, in which case the capability does not verify (the caller
// may WHOIS and retry).
func (c *Capability) Verify(lookup func(identity.Address) *identity.Identity) bool {
	if c.MaxCustody < 1 || c.MaxCustody > MaxCustodyChainLength || len(c.Custody) == 0 ||
		len(c.Custody) > int(c.MaxCustody) || lookup == nil {
		return false
	}
	msg := c.SigningMessage()
	for i, l := range c.Custody {
		want := ControllerOf(c.NetworkID)
		if i > 0 {
			want = c.Custody[i-1].To
		}
		if l.To == 0 || l.From == 0 || l.From != want {
			return false
		}
		id := lookup(l.From)
		if id == nil || id.Address() != l.From || !id.Verify(msg, l.Signature[:]) {
			return false
		}
	}
	return true
}

// IssuedTo is the holder: the last recipient of the custody chain, or 0.
func (c *Capability) IssuedTo() identity.Address {
	if len(c.Custody) == 0 {
		return 0
	}
	return c.Custody[len(c.Custody)-1].To
}
