package vl2wire

import (
	"bytes"
	"errors"
	"net/netip"
	"reflect"
	"testing"

	"github.com/ztgo/ztgo/layer1-vl1/identity"
)

const labCredTS = 0x000001a21066c7c8

// The hand-assembled credentials of samples_test.go as values.
func labCapability() *Capability {
	return &Capability{NetworkID: labNetwork, Timestamp: labCredTS, ID: 7, RuleCount: 1, Rules: []byte{0x01, 0x00},
		MaxCustody: 1, Custody: []CustodyLink{{To: labZB, From: labController, Signature: sig96(0x10)}}}
}

func labTag() *Tag {
	return &Tag{NetworkID: labNetwork, Timestamp: labCredTS, ID: 1, Value: 42, IssuedTo: labZA, SignedBy: labController, Signature: sig96(0x20)}
}

func labRevocation() *Revocation {
	return &Revocation{ID: 0x0badc0de, NetworkID: labNetwork, Threshold: labCredTS, Flags: RevocationFastPropagate,
		Target: labZB, SignedBy: labController, Type: CredentialCOM, Signature: sig96(0x30)}
}

func labCOO() *COO {
	c := &COO{NetworkID: labNetwork, Timestamp: labCredTS, ID: 1, IssuedTo: labZA, SignedBy: labController, Signature: sig96(0x40)}
	c.AddIP(netip.MustParseAddr("10.147.20.249"))
	return c
}

// credCase drives the tests every credential kind shares.
type credCase struct {
	name   string
	size   int // spec size of the controller-issued form (vl2.md §4)
	golden []byte
	value  any
	parse  func([]byte) (any, int, error)
	encode func(any) []byte
	sign   func(v any, ctl *identity.Identity) error
	verify func(v any, ctl *identity.Identity) bool
	// unsigned are byte ranges of the encoding no signature covers: the
	// reserved words of a revocation and the recipient of a custody link,
	// exactly as in 1.14.1.
	unsigned [][2]int
}

func wrapParse[T any](p func([]byte) (*T, int, error)) func([]byte) (any, int, error) {
	return func(b []byte) (any, int, error) {
		v, n, err := p(b)
		if err != nil {
			return nil, n, err
		}
		return v, n, nil
	}
}

func credCases(t *testing.T) []credCase {
	lookup := func(ctl *identity.Identity) func(identity.Address) *identity.Identity {
		return func(a identity.Address) *identity.Identity {
			if ctl != nil && a == ctl.Address() {
				return ctl
			}
			return nil
		}
	}
	za := loadIdentity(t, "za")
	return []credCase{
		{name: "COM", size: 272, golden: labCOM(t, za).Append(nil), value: labCOM(t, za),
			parse:  wrapParse(ParseCOM),
			encode: func(v any) []byte { return v.(*COM).Append(nil) },
			sign:   func(v any, c *identity.Identity) error { return v.(*COM).Sign(c) },
			verify: func(v any, c *identity.Identity) bool { return v.(*COM).Verify(c) }},
		{name: "capability", size: 141, golden: capabilityBytes(t), value: labCapability(),
			parse:    wrapParse(ParseCapability),
			encode:   func(v any) []byte { return v.(*Capability).Append(nil) },
			sign:     func(v any, c *identity.Identity) error { return v.(*Capability).Sign(c, labZB) },
			verify:   func(v any, c *identity.Identity) bool { return v.(*Capability).Verify(lookup(c)) },
			unsigned: [][2]int{{25, 30}}},
		{name: "tag", size: 135, golden: tagBytes(t), value: labTag(),
			parse:  wrapParse(ParseTag),
			encode: func(v any) []byte { return v.(*Tag).Append(nil) },
			sign:   func(v any, c *identity.Identity) error { return v.(*Tag).Sign(c) },
			verify: func(v any, c *identity.Identity) bool { return v.(*Tag).Verify(c) }},
		{name: "revocation", size: 152, golden: revocationBytes(t), value: labRevocation(),
			parse:    wrapParse(ParseRevocation),
			encode:   func(v any) []byte { return v.(*Revocation).Append(nil) },
			sign:     func(v any, c *identity.Identity) error { return v.(*Revocation).Sign(c) },
			verify:   func(v any, c *identity.Identity) bool { return v.(*Revocation).Verify(c) },
			unsigned: [][2]int{{0, 4}, {16, 20}}},
		{name: "COO", size: 158, golden: cooBytes(t), value: labCOO(),
			parse:  wrapParse(ParseCOO),
			encode: func(v any) []byte { return v.(*COO).Append(nil) },
			sign:   func(v any, c *identity.Identity) error { return v.(*COO).Sign(c) },
			verify: func(v any, c *identity.Identity) bool { return v.(*COO).Verify(c) }},
	}
}

// TestCredentialGolden: the values encode to the bytes assembled by hand
// from the spec, of the sizes the spec gives, and decode back.
func TestCredentialGolden(t *testing.T) {
	for _, c := range credCases(t) {
		enc := c.encode(c.value)
		if len(enc) != c.size || !bytes.Equal(enc, c.golden) {
			t.Errorf("%s: encodes as %d bytes %x\nwant %d bytes %x", c.name, len(enc), enc, c.size, c.golden)
		}
		back, n, err := c.parse(append(bytes.Clone(c.golden), 0xee, 0xee))
		if err != nil || n != c.size || !reflect.DeepEqual(back, c.value) {
			t.Errorf("%s: parse used %d bytes (%v): %+v", c.name, n, err, back)
		}
	}
}

// TestCredentialSignatures signs each credential with the lab controller:
// it verifies, and stops verifying after any single signed bit flips, with
// another identity, or with none.
func TestCredentialSignatures(t *testing.T) {
	ctl, za := loadIdentity(t, "controller"), loadIdentity(t, "za")
	for _, c := range credCases(t) {
		if err := c.sign(c.value, ctl); err != nil {
			t.Fatalf("%s: sign: %v", c.name, err)
		}
		enc := c.encode(c.value)
		v, _, err := c.parse(enc)
		if err != nil || !c.verify(v, ctl) {
			t.Fatalf("%s: signed credential does not verify (%v)", c.name, err)
		}
		if c.verify(v, za) || c.verify(v, nil) {
			t.Errorf("%s: verifies with the wrong identity", c.name)
		}
	bits:
		for bit := range 8 * len(enc) {
			for _, u := range c.unsigned {
				if bit/8 >= u[0] && bit/8 < u[1] {
					continue bits
				}
			}
			flipped := bytes.Clone(enc)
			flipped[bit/8] ^= 1 << (bit % 8)
			v, n, err := c.parse(flipped)
			if err == nil && n == len(flipped) && c.verify(v, ctl) {
				t.Errorf("%s: still verifies with bit %d flipped", c.name, bit)
			}
		}
	}
}

// TestCredentialTruncation: every proper prefix is an ErrMalformed error.
func TestCredentialTruncation(t *testing.T) {
	for _, c := range credCases(t) {
		for n := range len(c.golden) {
			if v, _, err := c.parse(bytes.Clone(c.golden[:n])); !errors.Is(err, ErrMalformed) {
				t.Errorf("%s: %d of %d bytes: %v %+v", c.name, n, len(c.golden), err, v)
			}
		}
	}
}

func TestCapabilityChain(t *testing.T) {
	ctl, za, zb := loadIdentity(t, "controller"), loadIdentity(t, "za"), loadIdentity(t, "zb")
	ids := map[identity.Address]*identity.Identity{ctl.Address(): ctl, za.Address(): za, zb.Address(): zb}
	lookup := func(a identity.Address) *identity.Identity { return ids[a] }

	c := labCapability()
	if err := c.Sign(ctl, labZA); err != nil {
		t.Fatal(err)
	}
	if !c.Verify(lookup) || c.IssuedTo() != labZA || c.MaxCustody != 1 || len(c.Custody) != 1 {
		t.Fatalf("controller-issued capability: %+v", c)
	}
	if c.Verify(func(identity.Address) *identity.Identity { return nil }) || c.Verify(nil) {
		t.Error("verifies without the controller's identity")
	}

	// za passes it on to zb: a two-link chain within a bound of 2. The
	// links sign the same message, which includes the bound.
	two := labCapability()
	two.MaxCustody = 2
	msg := two.SigningMessage()
	s0, _ := ctl.Sign(msg)
	s1, _ := za.Sign(msg)
	two.Custody = []CustodyLink{{To: labZA, From: labController, Signature: s0}, {To: labZB, From: labZA, Signature: s1}}
	if !two.Verify(lookup) || two.IssuedTo() != labZB {
		t.Fatal("two-link chain does not verify")
	}
	b := two.Append(nil)
	back, n, err := ParseCapability(b)
	if err != nil || n != len(b) || !reflect.DeepEqual(back, two) || !back.Verify(lookup) {
		t.Fatalf("two-link chain round trip: %d of %d, %v", n, len(b), err)
	}
	r := newReader(b, "capability")
	readCapability(r, "capability")
	if r.Err() != nil || r.Off() != len(b) {
		t.Errorf("NETWORK_CREDENTIALS measures %d bytes (%v)", r.Off(), r.Err())
	}

	broken := []func(c *Capability){
		func(c *Capability) { c.Custody[1].From = labZB },                // not from the previous holder
		func(c *Capability) { c.Custody[0].From = labZA },                // not from the controller
		func(c *Capability) { c.MaxCustody = 1 },                         // chain longer than its bound
		func(c *Capability) { c.Custody[1].Signature[5] ^= 1 },           // bad signature
		func(c *Capability) { c.Custody = nil },                          // no chain
		func(c *Capability) { c.Custody[0].To = 0 },                      // empty link
		func(c *Capability) { c.Rules = []byte{0x00, 0x00} },             // content changed
		func(c *Capability) { c.NetworkID = 0x1111111111000001 },         // other network
		func(c *Capability) { c.MaxCustody = MaxCustodyChainLength + 1 }, // bound out of range
	}
	for i, f := range broken {
		x := *two
		x.Custody = append([]CustodyLink(nil), two.Custody...)
		f(&x)
		if x.Verify(lookup) {
			t.Errorf("broken chain %d verifies", i)
		}
	}
}

func TestCOOOwnership(t *testing.T) {
	c := &COO{}
	v4, v6 := netip.MustParseAddr("10.147.20.249"), netip.MustParseAddr("fd6a:65e3:3cf6:e2a3:8399:9320:3540:ed5f")
	c.AddIP(v4)
	c.AddIP(v6)
	c.AddMAC(labMACZA)
	if !c.OwnsIP(v4) || !c.OwnsIP(v6) || !c.OwnsIP(netip.MustParseAddr("::ffff:10.147.20.249")) || !c.OwnsMAC(labMACZA) {
		t.Errorf("does not own what was added: %+v", c.Things)
	}
	if c.OwnsIP(netip.MustParseAddr("10.147.20.156")) || c.OwnsMAC(labMACZB) || c.OwnsIP(netip.Addr{}) ||
		c.OwnsIP(netip.MustParseAddr("::a93:14f9")) {
		t.Error("owns what was not added")
	}
	if c.Things[0].Type != ThingIPv4 || c.Things[1].Type != ThingIPv6 || c.Things[2].Type != ThingMAC ||
		!bytes.Equal(c.Things[2].Value[:], []byte{0x82, 0x83, 0xd7, 0xb6, 0xd1, 0xbc, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}) {
		t.Errorf("things %x", c.Things)
	}
	for i := range 20 {
		c.AddIP(netip.AddrFrom4([4]byte{10, 0, 0, byte(i)}))
	}
	if len(c.Things) != MaxCOOThings {
		t.Errorf("%d things", len(c.Things))
	}
	// A count above 16 keeps 16 and consumes no more (reference quirk).
	b := c.Append(nil)
	b[29] = 17
	back, n, err := ParseCOO(append(b, make([]byte, 17)...))
	if err != nil || len(back.Things) != MaxCOOThings || n != len(b) {
		t.Errorf("count 17: %d things, %d bytes of %d, %v", len(back.Things), n, len(b), err)
	}
}

func TestNewCOMAndAgreement(t *testing.T) {
	ctl, za, zb := loadIdentity(t, "controller"), loadIdentity(t, "za"), loadIdentity(t, "zb")
	mine := NewCOM(labTimestamp, labMaxDelta, labNetwork, za)
	if err := mine.Sign(ctl); err != nil {
		t.Fatal(err)
	}
	if want := labCOM(t, za); !reflect.DeepEqual(mine, want) || mine.Len() != 272 {
		t.Fatalf("NewCOM gives %+v, want %+v", mine, want)
	}
	com := func(ts int64, nwid uint64, id *identity.Identity) *COM {
		c := NewCOM(ts, labMaxDelta, nwid, id)
		_ = c.Sign(ctl)
		return c
	}
	theirs := com(labTimestamp+labMaxDelta, labNetwork, zb)
	if !mine.AgreesWith(theirs, zb) || !theirs.AgreesWith(mine, za) {
		t.Error("members of one network within max delta do not agree")
	}
	for name, c := range map[string]struct {
		theirs *COM
		id     *identity.Identity
	}{
		"too old":          {com(labTimestamp-labMaxDelta-1, labNetwork, zb), zb},
		"too new":          {com(labTimestamp+labMaxDelta+1, labNetwork, zb), zb},
		"other network":    {com(labTimestamp, labNetwork+1, zb), zb},
		"other identity":   {theirs, za},
		"no identity":      {theirs, nil},
		"no qualifiers":    {&COM{}, zb},
		"missing hash":     {&COM{Qualifiers: theirs.Qualifiers[:3]}, zb},
		"missing qualifer": {&COM{Qualifiers: theirs.Qualifiers[1:]}, zb},
	} {
		if mine.AgreesWith(c.theirs, c.id) {
			t.Errorf("%s: agrees", name)
		}
	}
	if mine.AgreesWith(nil, zb) || (*COM)(nil).AgreesWith(theirs, zb) {
		t.Error("nil COM agrees")
	}
	// Without hash qualifiers of our own, the identity is not checked.
	short := &COM{Qualifiers: mine.Qualifiers[:3]}
	if !short.AgreesWith(theirs, nil) {
		t.Error("three-qualifier COM does not agree")
	}
}

func TestNetworkCredentialsDecode(t *testing.T) {
	ctl, za := loadIdentity(t, "controller"), loadIdentity(t, "za")
	com := labCOM(t, za)
	caps, tags, revs, coos := []*Capability{labCapability()}, []*Tag{labTag(), labTag()}, []*Revocation{labRevocation()}, []*COO{labCOO()}
	tags[1].ID = 9
	for _, c := range []interface {
		Sign(*identity.Identity) error
	}{tags[0], tags[1], revs[0], coos[0]} {
		if err := c.Sign(ctl); err != nil {
			t.Fatal(err)
		}
	}
	b := AppendNetworkCredentials(nil, []*COM{com}, caps, tags, revs, coos)
	m, err := ParseNetworkCredentials(b)
	if err != nil || len(m.COMs) != 1 || m.Lists != 4 || len(m.Trailing) != 0 {
		t.Fatalf("parse: %+v %v", m, err)
	}
	if enc := m.AppendPayload(nil); !bytes.Equal(enc, b) {
		t.Error("NetworkCredentials re-encodes differently")
	}
	c2, t2, r2, o2, err := m.Decode()
	if err != nil || !reflect.DeepEqual(c2, caps) || !reflect.DeepEqual(t2, tags) || !reflect.DeepEqual(r2, revs) || !reflect.DeepEqual(o2, coos) {
		t.Fatalf("decode: %v\n%+v %+v %+v %+v", err, c2, t2, r2, o2)
	}
	if !t2[1].Verify(ctl) || !r2[0].Verify(ctl) || !o2[0].Verify(ctl) {
		t.Error("decoded credentials do not verify")
	}
	// The revocation push of vl2.md §2.6.
	push := AppendNetworkCredentials(nil, nil, nil, nil, revs, nil)
	if want := cat([]byte{0, 0, 0, 0, 0, 0, 1}, revs[0].Append(nil), []byte{0, 0}); !bytes.Equal(push, want) {
		t.Errorf("revocation push %x", push)
	}
	empty, err := ParseNetworkCredentials([]byte{0})
	if err != nil {
		t.Fatal(err)
	}
	if c, tg, r, o, err := empty.Decode(); c != nil || tg != nil || r != nil || o != nil || err != nil {
		t.Error("empty credentials decode to something")
	}
}

func TestCountRules(t *testing.T) {
	// The example table of vl2.md §5.2.
	rules := hx(t, `a502 86dd 0000 2005 0a00000008 6804 00160016 020e 00000089e92ceee5 00000000 0080 0100`)
	if n, err := CountRules(rules); n != 6 || err != nil {
		t.Errorf("%d rules, %v", n, err)
	}
	if n, err := CountRules(nil); n != 0 || err != nil {
		t.Errorf("empty: %d %v", n, err)
	}
	for i := 1; i < len(rules); i++ {
		if _, err := CountRules(rules[:i]); (err == nil) != (i == 4 || i == 6 || i == 13 || i == 19 || i == 35) {
			t.Errorf("prefix %d: %v", i, err)
		}
	}
}

// TestCredentialOtherSignatureType: a signature of another type is skipped
// by its length, like additional fields, and the credential re-encodes in
// the 1.14.1 form without verifying.
func TestCredentialOtherSignatureType(t *testing.T) {
	ctl := loadIdentity(t, "controller")
	tag := labTag()
	if err := tag.Sign(ctl); err != nil {
		t.Fatal(err)
	}
	canon := tag.Append(nil)
	odd := cat(canon[:34], hx(t, `02 0003 aabbcc  0002 eeff`))
	back, n, err := ParseTag(append(bytes.Clone(odd), 0x99))
	if err != nil || n != len(odd) || back.Signature != ([96]byte{}) || back.Verify(ctl) {
		t.Fatalf("type-2 signature: %d of %d bytes, %v, %+v", n, len(odd), err, back)
	}
	back.Signature = tag.Signature
	if !bytes.Equal(back.Append(nil), canon) || !back.Verify(ctl) {
		t.Error("does not re-encode in the canonical form")
	}
	r := newReader(odd, "tag")
	readTag(r, "tag")
	if r.Err() != nil || r.Off() != len(odd) {
		t.Errorf("NETWORK_CREDENTIALS measures %d (%v)", r.Off(), r.Err())
	}
}
