package vl2wire

import (
	"github.com/ztgo/ztgo/layer1-vl1/identity"
	"github.com/ztgo/ztgo/layer1-vl1/wire"
)

// Credential limits that affect how far a credential extends on the wire
// (vl2.md §4.2–4.5).
const (
	MaxCapabilityRules        = 64
	MaxCustodyChainLength     = 7
	MaxCOOThings              = 16
	cooThingValueLength       = 16
	credentialSignatureTypeV1 = 1
)

// NetworkCredentials is NETWORK_CREDENTIALS (0x0a): COMs up to a 0x00
// terminator, then up to four u16-counted lists of capabilities, tags,
// revocations and certificates of ownership (vl2.md §2.6).
//
// COMs are decoded; the other credentials are kept as their exact encoded
// bytes, one slice per credential (their semantics live elsewhere).
//
// Everything after the COMs is optional on receipt. NoTerminator records a
// payload that ends right after its COMs; Lists records how many of the four
// counted lists were present (1.14.1 writes all four, older nodes none).
// AppendPayload writes at least as many lists as hold credentials.
type NetworkCredentials struct {
	COMs         []*COM
	NoTerminator bool
	Lists        int
	Capabilities [][]byte
	Tags         [][]byte
	Revocations  [][]byte
	COOs         [][]byte
	Trailing     []byte // after the fourth list; ignored by receivers
}

func (*NetworkCredentials) Verb() wire.Verb { return wire.VerbNETWORK_CREDENTIALS }

// credentialList names one counted list and how to measure its entries.
type credentialList struct {
	name    string
	measure func(r *reader, what string)
	field   func(m *NetworkCredentials) *[][]byte
}

var credentialLists = [4]credentialList{
	{"capability", readCapability, func(m *NetworkCredentials) *[][]byte { return &m.Capabilities }},
	{"tag", readTag, func(m *NetworkCredentials) *[][]byte { return &m.Tags }},
	{"revocation", readRevocation, func(m *NetworkCredentials) *[][]byte { return &m.Revocations }},
	{"certificate of ownership", readCOO, func(m *NetworkCredentials) *[][]byte { return &m.COOs }},
}

// ParseNetworkCredentials decodes a NETWORK_CREDENTIALS payload. The raw
// credential slices alias the input.
func ParseNetworkCredentials(payload []byte) (*NetworkCredentials, error) {
	r := newReader(payload, "NETWORK_CREDENTIALS")
	m := &NetworkCredentials{}
	for r.Err() == nil && r.Left() > 0 && r.Buf()[r.Off()] != 0 {
		if c := parseCOM(r, "COM "); c != nil {
			m.COMs = append(m.COMs, c)
		}
	}
	if r.Err() != nil {
		return nil, r.Err()
	}
	if r.Left() == 0 {
		m.NoTerminator = true
		return m, nil
	}
	r.Skip(1, "COM terminator") // the 0x00 after the COMs
	for _, l := range credentialLists {
		if r.Left() == 0 {
			break
		}
		n := int(r.U16(l.name + " count"))
		m.Lists++
		var list [][]byte
		for i := 0; i < n && r.Err() == nil; i++ {
			start := r.Off()
			l.measure(r, l.name)
			if r.Err() == nil {
				list = append(list, r.Buf()[start:r.Off():r.Off()])
			}
		}
		*l.field(m) = list
		if r.Err() != nil {
			return nil, r.Err()
		}
	}
	m.Trailing = r.Rest()
	return m, nil
}

func (m *NetworkCredentials) AppendPayload(b []byte) []byte {
	for _, c := range m.COMs {
		b = c.Append(b)
	}
	if m.NoTerminator && m.Lists == 0 && m.lastUsedList() == 0 {
		return b
	}
	b = append(b, 0)
	lists := max(m.Lists, m.lastUsedList())
	for i := range min(lists, len(credentialLists)) {
		creds := *credentialLists[i].field(m)
		b = appendU16(b, uint16(len(creds)))
		for _, c := range creds {
			b = append(b, c...)
		}
	}
	if lists >= len(credentialLists) {
		b = append(b, m.Trailing...)
	}
	return b
}

// lastUsedList is 1 + the index of the last non-empty counted list, or 0.
func (m *NetworkCredentials) lastUsedList() int {
	for i := len(credentialLists) - 1; i >= 0; i-- {
		if len(*credentialLists[i].field(m)) > 0 {
			return i + 1
		}
	}
	return 0
}

// readSignature skips a credential signature: type 1 must carry exactly 96
// bytes; other types carry a u16 length and are skipped.
func readSignature(r *reader, what string) {
	t := r.U8(what + " signature type")
	at := r.Off()
	n := int(r.U16(what + " signature length"))
	if r.Err() == nil && t == credentialSignatureTypeV1 && n != identity.SignatureLength {
		r.Fail("%s signature length %d at offset %d (want %d)", what, n, at, identity.SignatureLength)
	}
	r.Skip(n, what+" signature")
}

// readExtra skips the u16-counted additional fields every credential ends
// with.
func readExtra(r *reader, what string) {
	r.Skip(int(r.U16(what+" additional fields length")), what+" additional fields")
}

// readCapability measures a capability (vl2.md §4.2).
func readCapability(r *reader, what string) {
	r.Skip(8+8+4, what+" header")
	at := r.Off()
	n := int(r.U16(what + " rule count"))
	if r.Err() == nil && n > MaxCapabilityRules {
		r.Fail("%s rule count %d at offset %d exceeds %d", what, n, at, MaxCapabilityRules)
	}
	for i := 0; i < n && r.Err() == nil; i++ {
		r.Skip(1, what+" rule type")
		r.Skip(int(r.U8(what+" rule length")), what+" rule value")
	}
	at = r.Off()
	chain := int(r.U8(what + " max custody chain length"))
	if r.Err() == nil && (chain < 1 || chain > MaxCustodyChainLength) {
		r.Fail("%s max custody chain length %d at offset %d (want 1..%d)", what, chain, at, MaxCustodyChainLength)
	}
	for i := 0; r.Err() == nil; i++ {
		at = r.Off()
		if r.Address(what+" custody recipient") == 0 {
			break
		}
		if i >= chain {
			r.Fail("%s custody entry %d at offset %d exceeds the chain length %d", what, i, at, chain)
			break
		}
		r.Skip(identity.AddressLength, what+" custody issuer")
		readSignature(r, what+" custody")
	}
	readExtra(r, what)
}

// readTag measures a tag (vl2.md §4.3).
func readTag(r *reader, what string) {
	r.Skip(8+8+4+4+2*identity.AddressLength, what+" fields")
	readSignature(r, what)
	readExtra(r, what)
}

// readRevocation measures a revocation (vl2.md §4.4).
func readRevocation(r *reader, what string) {
	r.Skip(4+4+8+4+4+8+8+2*identity.AddressLength+1, what+" fields")
	readSignature(r, what)
	readExtra(r, what)
}

// readCOO measures a certificate of ownership (vl2.md §4.5). As in the
// reference, things beyond the 16th are counted but not consumed.
func readCOO(r *reader, what string) {
	r.Skip(8+8+8+4, what+" header")
	n := int(r.U16(what + " thing count"))
	r.Skip(min(n, MaxCOOThings)*(1+cooThingValueLength), what+" things")
	r.Skip(2*identity.AddressLength, what+" addresses")
	readSignature(r, what)
	readExtra(r, what)
}
