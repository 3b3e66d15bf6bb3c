package wire

import (
	"bytes"
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"

	"github.com/ztgo/ztgo/internal/testutil"
	transport "github.com/ztgo/ztgo/layer0-transport"
	"github.com/ztgo/ztgo/layer1-vl1/identity"
)

func TestHelloVector(t *testing.T) {
	var v struct {
		SharedKey48         string `json:"shared_key_48"`
		Timestamp           uint64
		PhysicalDestination string `json:"physical_destination"`
		PlanetID            uint64 `json:"planet_id"`
		PlanetTimestamp     uint64 `json:"planet_timestamp"`
		MoonWantedID        string `json:"moon_wanted_id"`
		CryptFieldOffset    int    `json:"crypt_field_offset"`
		PlainBefore         string `json:"plain_before_cryptfield"`
		AfterCryptField     string `json:"after_cryptfield"`
		Wire                string
		OKPlain             string `json:"ok_plain"`
		OKWire              string `json:"ok_wire"`
		OKReportedAddress   string `json:"ok_reported_address"`
	}
	testutil.Vectors(t, "hello.json", &v)
	var shared [48]byte
	copy(shared[:], testutil.Hex(t, v.SharedKey48))
	k, _ := NewKeys(&shared)

	plain := Packet(testutil.Hex(t, v.PlainBefore))
	h, err := ParseHello(plain.Payload())
	if err != nil {
		t.Fatal(err)
	}
	if h.Timestamp != v.Timestamp || h.PlanetID != v.PlanetID || h.PlanetTimestamp != v.PlanetTimestamp ||
		transport.FormatAddrPort(h.PhysicalDestination) != v.PhysicalDestination || h.ProtocolVersion != 12 ||
		IdxPayload+h.MoonSection != v.CryptFieldOffset || h.CryptOffset() != h.MoonSection {
		t.Errorf("HELLO fields: %+v", h)
	}
	if err := h.DecodeMoons(plain.Payload()[h.MoonSection:]); err != nil || len(h.Moons) != 1 ||
		h.Moons[0].Type != WorldTypeMoon || h.Moons[0].Timestamp != 0 ||
		h.Moons[0].ID != 0xdeadbeef01 {
		t.Errorf("moons %+v err %v", h.Moons, err)
	}
	// Re-encode from the decoded fields.
	p := NewPacket(nil, plain.ID(), plain.Destination(), plain.Source(), VerbHELLO)
	p = Packet(h.AppendPayload(p))
	if !bytes.Equal(p, plain) {
		t.Fatalf("HELLO re-encoding:\n got %x\nwant %x", []byte(p), []byte(plain))
	}
	CryptField(p, k, IdxPayload+h.CryptOffset())
	if !bytes.Equal(p, testutil.Hex(t, v.AfterCryptField)) {
		t.Errorf("cryptField differs")
	}
	if err := Armor(p, k, SuitePoly1305None); err != nil || !bytes.Equal(p, testutil.Hex(t, v.Wire)) {
		t.Errorf("HELLO wire differs (%v)", err)
	}

	ok := Packet(testutil.Hex(t, v.OKPlain))
	if err := Armor(ok, k, SuiteAESGMACSIV); err != nil || !bytes.Equal(ok, testutil.Hex(t, v.OKWire)) {
		t.Errorf("OK(HELLO) wire differs (%v)", err)
	}
	if _, err := Dearmor(ok, k); err != nil {
		t.Fatal(err)
	}
	m, err := ParsePayload(ok.Verb(), ok.Payload())
	if err != nil {
		t.Fatal(err)
	}
	o := m.(*OK)
	okh, isHello := o.Reply.(*OKHello)
	if o.InReVerb != VerbHELLO || o.InReID != plain.ID() || !isHello ||
		transport.FormatAddrPort(okh.PhysicalSource) != v.OKReportedAddress || okh.Timestamp != v.Timestamp {
		t.Errorf("OK(HELLO) = %+v %+v", o, okh)
	}
	if got := o.AppendPayload(nil); !bytes.Equal(got, testutil.Hex(t, v.OKPlain)[IdxPayload:]) {
		t.Errorf("OK(HELLO) re-encoding differs")
	}
}

func TestFragmentsVector(t *testing.T) {
	var v struct {
		MTU       int
		Packet    string
		Datagrams []string
	}
	testutil.Vectors(t, "fragments.json", &v)
	p := Packet(testutil.Hex(t, v.Packet))
	if !p.Fragmented() || FragmentCount(len(p), v.MTU) != len(v.Datagrams) {
		t.Fatalf("fragmented=%v count=%d", p.Fragmented(), FragmentCount(len(p), v.MTU))
	}
	got := Split(p, v.MTU)
	for i, d := range v.Datagrams {
		if !bytes.Equal(got[i], testutil.Hex(t, d)) {
			t.Errorf("datagram %d differs", i)
		}
	}
	// Reassemble in every order of arrival.
	orders := [][]int{{0, 1, 2}, {0, 2, 1}, {1, 0, 2}, {1, 2, 0}, {2, 0, 1}, {2, 1, 0}}
	for _, order := range orders {
		r := NewReassembler(0)
		var whole Packet
		for j, idx := range order {
			d := testutil.Hex(t, v.Datagrams[idx])
			var done bool
			if IsFragment(d) {
				f, err := ParseFragment(d)
				if err != nil {
					t.Fatal(err)
				}
				whole, done = r.AddFragment(nil, f)
			} else {
				whole, done = r.AddHead(nil, Packet(d))
			}
			if done != (j == len(order)-1) {
				t.Fatalf("order %v: complete after %d pieces", order, j+1)
			}
			// A duplicate never completes or corrupts anything.
			if j == 0 {
				if IsFragment(d) {
					f, _ := ParseFragment(d)
					_, dup := r.AddFragment(nil, f)
					if dup {
						t.Fatal("duplicate completed")
					}
				}
			}
		}
		if !bytes.Equal(whole, p) {
			t.Errorf("order %v: reassembled packet differs", order)
		}
		if len(r.Pending()) != 0 {
			t.Errorf("order %v: slots still pending", order)
		}
	}
}

func TestFragmentRejects(t *testing.T) {
	base := make([]byte, 40)
	base[13] = 0xff
	for _, tc := range []struct {
		name string
		b14  byte
	}{{"number 0", 0x20}, {"number = total", 0x22}, {"total 1", 0x11}, {"total 8", 0x81}, {"number 7", 0x87}} {
		b := bytes.Clone(base)
		b[14] = tc.b14
		if _, err := ParseFragment(b); err == nil {
			t.Errorf("%s accepted", tc.name)
		}
	}
	if _, err := ParseFragment(base[:16]); err == nil {
		t.Error("header-only fragment accepted")
	}
	// Pieces disagreeing about the total never complete.
	r := NewReassembler(4)
	a := bytes.Clone(base)
	a[14] = 0x21
	b := bytes.Clone(base)
	b[14] = 0x32
	fa, _ := ParseFragment(a)
	fb, _ := ParseFragment(b)
	r.AddFragment(nil, fa)
	if _, done := r.AddFragment(nil, fb); done {
		t.Error("mismatched totals completed")
	}
}

func TestReassemblerEviction(t *testing.T) {
	r := NewReassembler(2)
	head := func(id uint64) Packet {
		p := NewPacket(nil, id, 1, 2, VerbFRAME)
		p.SetFragmented(true)
		return p
	}
	frag := func(id uint64) Fragment {
		b := make([]byte, 20)
		copy(b, head(id)[:13])
		b[13], b[14] = 0xff, 0x21
		return Fragment(b)
	}
	r.AddHead(nil, head(1))
	r.AddHead(nil, head(2))
	r.AddHead(nil, head(3)) // evicts 1
	if _, done := r.AddFragment(nil, frag(1)); done {
		t.Error("evicted packet completed")
	}
	if _, done := r.AddFragment(nil, frag(3)); !done {
		t.Error("packet 3 did not complete")
	}
}

func TestInetAddressVectors(t *testing.T) {
	var v struct {
		Vectors []struct{ Address, Serialized string }
	}
	testutil.Vectors(t, "inetaddress.json", &v)
	for _, tv := range v.Vectors {
		var ap netip.AddrPort
		if tv.Address != "" {
			var err error
			if ap, err = transport.ParseAddrPort(tv.Address); err != nil {
				t.Fatal(err)
			}
		}
		want := testutil.Hex(t, tv.Serialized)
		if got := AppendInetAddress(nil, ap); !bytes.Equal(got, want) {
			t.Errorf("%q: %x want %x", tv.Address, got, want)
		}
		back, n, err := ReadInetAddress(want)
		if err != nil || n != len(want) || back != ap {
			t.Errorf("%q: read back %v %d %v", tv.Address, back, n, err)
		}
		for i := 0; i < len(want); i++ {
			if _, _, err := ReadInetAddress(want[:i]); err == nil {
				t.Errorf("%q: truncated to %d accepted", tv.Address, i)
			}
		}
	}
	for _, b := range [][]byte{{5}, {0xff}, {3, 0, 9, 1}} {
		if _, _, err := ReadInetAddress(b); err == nil {
			t.Errorf("%x accepted", b)
		}
	}
	if _, n, err := ReadInetAddress([]byte{3, 0, 1, 9}); err != nil || n != 4 {
		t.Errorf("reserved type 3 not skipped: %d %v", n, err)
	}
}

func TestLZ4Vector(t *testing.T) {
	var v struct {
		Uncompressed string `json:"uncompressed_packet"`
		Compressed   string `json:"compressed_packet"`
	}
	testutil.Vectors(t, "lz4.json", &v)
	plain := testutil.Hex(t, v.Uncompressed)
	want := testutil.Hex(t, v.Compressed)
	got := Compress(Packet(bytes.Clone(plain)), make([]byte, 2*MaxPacketLength))
	if !bytes.Equal(got, want) {
		t.Errorf("compress:\n got %x\nwant %x", []byte(got), want)
	}
	back, err := Decompress(nil, Packet(want))
	if err != nil || !bytes.Equal(back, plain) {
		t.Errorf("decompress: %v", err)
	}
	short := Packet(bytes.Clone(plain[:IdxPayload+64]))
	if c := Compress(short, make([]byte, 2*MaxPacketLength)); c.Compressed() {
		t.Error("compressed a 64-byte payload")
	}
	bad := Packet(bytes.Clone(want))
	bad[len(bad)-3] = 0xff
	if _, err := Decompress(nil, bad[:len(bad)-2]); err == nil {
		t.Error("truncated block decompressed")
	}
}

// TestVerbRoundTrip encodes a sample of every VL1 verb, parses it back and
// checks the bytes survive, then truncates every encoding at every offset.
func TestVerbRoundTrip(t *testing.T) {
	id := testIdentity(t)
	samples := []Message{
		&Nop{},
		&Hello{ProtocolVersion: 12, Major: 1, Minor: 14, Revision: 1, Timestamp: 1, Identity: id},
		&Hello{ProtocolVersion: 12, Timestamp: 2, Identity: id, HasDestination: true,
			PhysicalDestination: netip.MustParseAddrPort("[2001:db8::1]:9993"), HasWorld: true, PlanetID: 9, PlanetTimestamp: 10,
			Moons: []MoonRef{{Type: 127, ID: 5, Timestamp: 0}, {Type: 1, ID: 6, Timestamp: 7}}},
		&OK{InReVerb: VerbHELLO, InReID: 77, Reply: &OKHello{Timestamp: 1, ProtocolVersion: 12, HasSource: true,
			PhysicalSource: netip.MustParseAddrPort("198.18.0.1:9993"), HasWorlds: true, Worlds: []byte{1, 2, 3}}},
		&OK{InReVerb: VerbWHOIS, InReID: 78, Reply: &OKWhois{Identities: []*identity.Identity{id, id}}},
		&OK{InReVerb: VerbECHO, InReID: 79, Reply: &Echo{Data: []byte("x")}},
		&OK{InReVerb: VerbNETWORK_CONFIG_REQUEST, InReID: 80, Reply: &VL2{V: VerbNETWORK_CONFIG_REQUEST, HasNetworkID: true, NetworkID: 42, Body: []byte{9}}},
		&Error{InReVerb: VerbNETWORK_CONFIG_REQUEST, InReID: 81, Code: ErrorNetworkAccessDenied, Body: []byte{0, 0, 0, 0, 0, 0, 0, 42}},
		&Whois{Addresses: []identity.Address{0x0102030405, 0x0a0b0c0d0e}},
		&Rendezvous{With: 0x0102030405, Endpoint: netip.MustParseAddrPort("198.18.0.2:9993")},
		&Rendezvous{With: 0x0102030405, Endpoint: netip.MustParseAddrPort("[fd00::2]:1")},
		&Echo{Data: []byte{1, 2}},
		&PushDirectPaths{Paths: []PathRecord{
			{AddrType: 4, Endpoint: netip.MustParseAddrPort("198.18.0.11:9993")},
			{Flags: PathFlagForget, Extension: []byte{7}, AddrType: 6, Endpoint: netip.MustParseAddrPort("[fd00::1]:9993")},
			{AddrType: 9, Raw: []byte{1, 2, 3}},
		}},
		&UserMessage{TypeID: 70000, Data: []byte("hi")},
		&RemoteTrace{Data: []byte("a=b\x00c=d\x00")},
		&Ack{Bytes: 5},
		&QoSMeasurement{Records: []QoSRecord{{PacketID: 1, HoldMS: 2}}, Trailing: []byte{1}},
		&PathNegotiation{Utility: -3},
		&VL2{V: VerbFRAME, HasNetworkID: true, NetworkID: 0x6a65e33cf6e2a383, Body: []byte{8, 0, 1}},
		&VL2{V: VerbNETWORK_CREDENTIALS, Body: []byte{1, 0, 0}},
		&Unknown{V: 0x1f, Data: []byte{1}},
	}
	for _, m := range samples {
		enc := m.AppendPayload(nil)
		back, err := ParsePayload(m.Verb(), enc)
		if err != nil {
			t.Errorf("%v: %v", m.Verb(), err)
			continue
		}
		if h, ok := back.(*Hello); ok && h.MoonSection > 0 {
			if err := h.DecodeMoons(enc[h.MoonSection:]); err != nil {
				t.Errorf("moons: %v", err)
			}
		}
		if again := back.AppendPayload(nil); !bytes.Equal(again, enc) {
			t.Errorf("%v: round trip\n got %x\nwant %x", m.Verb(), again, enc)
		}
		for n := 0; n < len(enc); n++ {
			_, _ = ParsePayload(m.Verb(), enc[:n]) // must not panic
		}
	}
}

func TestParsePayloadRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	buf := make([]byte, 300)
	for i := 0; i < 20000; i++ {
		n := rng.IntN(len(buf))
		for j := range buf[:n] {
			buf[j] = byte(rng.UintN(256))
		}
		v := Verb(rng.UintN(32))
		m, err := ParsePayload(v, buf[:n])
		if err == nil {
			again, err := ParsePayload(v, m.AppendPayload(nil))
			if err != nil {
				t.Fatalf("%v: re-encoding of %x does not parse: %v", v, buf[:n], err)
			}
			_ = again
		}
	}
}

func testIdentity(t testing.TB) *identity.Identity {
	var v struct {
		Identities []struct{ String string }
	}
	testutil.Vectors(t, "identity.json", &v)
	id, err := identity.Parse(v.Identities[0].String)
	if err != nil {
		t.Fatal(err)
	}
	return id.Public()
}

// TestHelloWithSecretIdentityRefused: an identity with its secret part
// never travels; a HELLO (or world) carrying one is refused before the
// secret is checked against the public key, which would cost ~100 µs of
// CPU per forged packet.
func TestHelloWithSecretIdentityRefused(t *testing.T) {
	var v struct {
		Identities []struct{ String string }
	}
	testutil.Vectors(t, "identity.json", &v)
	var withSecret *identity.Identity
	for _, s := range v.Identities {
		if id, err := identity.Parse(s.String); err == nil && id.HasSecret() {
			withSecret = id
			break
		}
	}
	if withSecret == nil {
		t.Fatal("no identity with a secret in the vectors")
	}
	h := Hello{ProtocolVersion: ProtocolVersion, Major: 1, Minor: 14, Revision: 1, Timestamp: 1, Identity: withSecret}
	good := h.AppendPayload(nil)
	if _, err := ParseHello(good); err != nil {
		t.Fatalf("a HELLO with the public identity: %v", err)
	}
	// The same HELLO with the identity's secret spliced in.
	pub := withSecret.AppendBinary(nil, false)
	sec := withSecret.AppendBinary(nil, true)
	i := bytes.Index(good, pub)
	bad := append(append(append([]byte(nil), good[:i]...), sec...), good[i+len(pub):]...)
	if _, err := ParseHello(bad); err == nil || !strings.Contains(err.Error(), identity.ErrSecretOnWire.Error()) {
		t.Fatalf("a HELLO carrying a secret was not refused: %v", err)
	}
	if _, _, err := identity.FromBinary(sec); err != nil {
		t.Fatalf("FromBinary (files) still reads secrets: %v", err)
	}
}
