package vl2wire

import (
	"bytes"
	"net/netip"

	"github.com/ztgo/ztgo/layer1-vl1/identity"
)

// Thing types of a certificate of ownership (vl2.md §4.5).
const (
	ThingNull = 0
	ThingMAC  = 1 // 6 bytes used
	ThingIPv4 = 2 // 4 bytes used
	ThingIPv6 = 3 // 16 bytes
)

// Thing is one owned address: its type and its bytes, zero padded to 16.
type Thing struct {
	Type  uint8
	Value [16]byte
}

// COO is a certificate of ownership: the controller's statement that a
// member owns some IP or MAC addresses, which the rules engine consults to
// tell spoofed sources from real ones (vl2.md §4.5). At most MaxCOOThings
// things are carried.
type COO struct {
	NetworkID          uint64
	Timestamp          int64
	Flags              uint64
	ID                 uint32
	Things             []Thing
	IssuedTo, SignedBy identity.Address
	Signature          [identity.SignatureLength]byte
}

// ParseCOO decodes a certificate of ownership at the start of b and returns
// how many bytes it used. As in the reference, a thing count above 16 keeps
// the first 16 and does not consume the rest, so what follows is misread;
// senders never exceed 16. A signature of a type other than 1 is skipped and
// leaves Signature zero; additional fields are skipped.
func ParseCOO(b []byte) (*COO, int, error) {
	return parseCredential(b, "certificate of ownership", parseCOO)
}

func parseCOO(r *reader) *COO {
	c := &COO{NetworkID: r.U64("network ID"), Timestamp: int64(r.U64("timestamp")), Flags: r.U64("flags"), ID: r.U32("COO ID")}
	n := min(int(r.U16("thing count")), MaxCOOThings)
	raw := r.Take(n*(1+cooThingValueLength), "things")
	if r.Err() == nil && n > 0 {
		c.Things = make([]Thing, n)
		for i := range c.Things {
			e := raw[i*(1+cooThingValueLength):]
			c.Things[i].Type = e[0]
			copy(c.Things[i].Value[:], e[1:1+cooThingValueLength])
		}
	}
	c.IssuedTo, c.SignedBy = r.Address("issued to"), r.Address("signer")
	c.Signature = readCredentialSig(r, "COO")
	r.Skip(int(r.U16("additional fields length")), "additional fields")
	if r.Err() != nil {
		return nil
	}
	return c
}

func (c *COO) appendFields(b []byte) []byte {
	b = appendU32(appendU64(appendU64(appendU64(b, c.NetworkID), uint64(c.Timestamp)), c.Flags), c.ID)
	b = appendU16(b, uint16(len(c.Things)))
	for _, t := range c.Things {
		b = append(append(b, t.Type), t.Value[:]...)
	}
	return c.SignedBy.Append(c.IssuedTo.Append(b))
}

// Append appends the certificate as 1.14.1 writes it (158 bytes with one
// thing, 17 more per further thing).
func (c *COO) Append(b []byte) []byte {
	return appendU16(appendCredentialSig(c.appendFields(b), &c.Signature), 0)
}

// SigningMessage is what the controller signs.
func (c *COO) SigningMessage() []byte { return signedCredential(c.appendFields) }

// Sign sets SignedBy to the controller and signs.
func (c *COO) Sign(controller *identity.Identity) error {
	c.SignedBy = controller.Address()
	sig, err := controller.Sign(c.SigningMessage())
	if err != nil {
		return err
	}
	c.Signature = sig
	return nil
}

// Verify reports whether the certificate is signed by its network's
// controller, whose identity is given.
func (c *COO) Verify(controller *identity.Identity) bool {
	return verifyControllerSigned(c.NetworkID, c.SignedBy, controller, c.SigningMessage(), &c.Signature)
}

// ipThing is the thing an IP is stored as. IPv4-mapped IPv6 addresses count
// as IPv4, the form InetAddress records carry them in.
func ipThing(ip netip.Addr) (Thing, bool) {
	ip = ip.Unmap()
	var t Thing
	switch {
	case ip.Is4():
		a := ip.As4()
		t.Type = ThingIPv4
		copy(t.Value[:], a[:])
	case ip.Is6():
		t.Type, t.Value = ThingIPv6, ip.As16()
	default:
		return t, false
	}
	return t, true
}

// AddIP adds an IP address (without prefix length, which ownership
// ignores). Beyond MaxCOOThings things nothing is added, as in the
// reference.
func (c *COO) AddIP(ip netip.Addr) {
	if t, ok := ipThing(ip); ok {
		c.add(t)
	}
}

// AddMAC adds a MAC address.
func (c *COO) AddMAC(m MAC) {
	t := Thing{Type: ThingMAC}
	m.Append(t.Value[:0])
	c.add(t)
}

func (c *COO) add(t Thing) {
	if len(c.Things) < MaxCOOThings {
		c.Things = append(c.Things, t)
	}
}

// OwnsIP reports whether a thing of the IP's family holds exactly its
// bytes.
func (c *COO) OwnsIP(ip netip.Addr) bool {
	t, ok := ipThing(ip)
	if !ok {
		return false
	}
	n := 4
	if t.Type == ThingIPv6 {
		n = 16
	}
	return c.owns(t, n)
}

// OwnsMAC reports whether a MAC thing holds m.
func (c *COO) OwnsMAC(m MAC) bool {
	t := Thing{Type: ThingMAC}
	m.Append(t.Value[:0])
	return c.owns(t, MACLength)
}

// owns compares only the n bytes the type uses, as the reference does, so
// padding is never significant.
func (c *COO) owns(want Thing, n int) bool {
	for _, t := range c.Things {
		if t.Type == want.Type && bytes.Equal(t.Value[:n], want.Value[:n]) {
			return true
		}
	}
	return false
}
