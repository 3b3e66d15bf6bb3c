package wire

import (
	"bytes"
	"errors"
	"testing"

	"github.com/ztgo/ztgo/internal/testutil"
	"github.com/ztgo/ztgo/layer1-vl1/identity"
)

type armorVector struct {
	Cipher                        CipherSuite
	Fragmented                    bool
	Verb                          Verb
	Plain, Wire                   string
	AcceptsWithHopsChanged        bool `json:"accepts_with_hops_changed"`
	AcceptsWithFragmentBitFlipped bool `json:"accepts_with_fragment_bit_flipped"`
}

func armorVectors(t testing.TB) (*Keys, []armorVector) {
	var v struct {
		SharedKey48 string `json:"shared_key_48"`
		Vectors     []armorVector
	}
	testutil.Vectors(t, "packet_armor.json", &v)
	if len(v.Vectors) != 10 {
		t.Fatalf("want 10 armor vectors, got %d", len(v.Vectors))
	}
	var shared [identity.SharedKeyLength]byte
	copy(shared[:], testutil.Hex(t, v.SharedKey48))
	k, err := NewKeys(&shared)
	if err != nil {
		t.Fatal(err)
	}
	return k, v.Vectors
}

func TestArmorVectors(t *testing.T) {
	k, vs := armorVectors(t)
	for i, tv := range vs {
		plain, wire := testutil.Hex(t, tv.Plain), testutil.Hex(t, tv.Wire)
		p := Packet(bytes.Clone(plain))
		if p.Fragmented() != tv.Fragmented || p.Verb() != tv.Verb {
			t.Errorf("vector %d: plain header says fragmented=%v verb=%v", i, p.Fragmented(), p.Verb())
		}
		if err := Armor(p, k, tv.Cipher); err != nil {
			t.Fatalf("vector %d: %v", i, err)
		}
		if !bytes.Equal(p, wire) {
			t.Errorf("vector %d (suite %d): armor\n got %x\nwant %x", i, tv.Cipher, []byte(p), wire)
		}

		got := Packet(bytes.Clone(wire))
		iv, err := Dearmor(got, k)
		if err != nil {
			t.Fatalf("vector %d: dearmor: %v", i, err)
		}
		if !bytes.Equal(got[IdxVerb:], plain[IdxVerb:]) || !bytes.Equal(iv[:], plain[:8]) {
			t.Errorf("vector %d: dearmor gave payload %x iv %x", i, []byte(got[IdxVerb:]), iv)
		}

		hopped := Packet(bytes.Clone(wire))
		hopped.SetHops(5)
		if _, err := Dearmor(hopped, k); (err == nil) != tv.AcceptsWithHopsChanged {
			t.Errorf("vector %d: with hops changed err=%v", i, err)
		}
		flipped := Packet(bytes.Clone(wire))
		flipped[IdxFlags] ^= FlagFragmented
		if _, err := Dearmor(flipped, k); (err == nil) != tv.AcceptsWithFragmentBitFlipped {
			t.Errorf("vector %d: with fragment bit flipped err=%v", i, err)
		}
	}
}

// TestArmorEveryBitFlip flips each bit of each armored vector: apart from the
// three hop bits, every flip must fail authentication and leave the packet
// as it was.
func TestArmorEveryBitFlip(t *testing.T) {
	k, vs := armorVectors(t)
	for i, tv := range vs {
		wire := testutil.Hex(t, tv.Wire)
		for bit := 0; bit < 8*len(wire); bit++ {
			if bit/8 == IdxFlags && bit%8 < 3 {
				continue
			}
			p := Packet(bytes.Clone(wire))
			p[bit/8] ^= 1 << (bit % 8)
			flipped := bytes.Clone(p)
			if _, err := Dearmor(p, k); err == nil {
				t.Fatalf("vector %d: flipping bit %d was not detected", i, bit)
			}
			if !bytes.Equal(p, flipped) {
				t.Fatalf("vector %d: failed dearmor of bit %d changed the packet", i, bit)
			}
		}
	}
}

func TestDearmorTruncated(t *testing.T) {
	k, vs := armorVectors(t)
	for _, tv := range vs {
		wire := testutil.Hex(t, tv.Wire)
		for n := 0; n < len(wire); n++ {
			if _, err := Dearmor(Packet(bytes.Clone(wire[:n])), k); err == nil {
				t.Fatalf("suite %d: truncated to %d of %d bytes authenticated", tv.Cipher, n, len(wire))
			}
		}
	}
}

func TestArmorRejects(t *testing.T) {
	k, vs := armorVectors(t)
	p := Packet(testutil.Hex(t, vs[1].Plain))
	if err := Armor(p[:20], k, SuiteAESGMACSIV); !errors.Is(err, ErrShortPacket) {
		t.Errorf("short packet: %v", err)
	}
	if err := Armor(p, k, SuiteTrustedPath); err == nil {
		t.Error("Armor accepted suite 2")
	}
	q := Packet(bytes.Clone(p))
	q.SetHops(1)
	if err := Armor(q, k, SuiteAESGMACSIV); err == nil {
		t.Error("Armor accepted a packet with hops set")
	}
	for _, suite := range []byte{4, 5, 6, 7} {
		q := Packet(bytes.Clone(p))
		q[IdxFlags] = suite << 3
		if _, err := Dearmor(q, k); !errors.Is(err, ErrUnknownCipher) {
			t.Errorf("suite %d: %v", suite, err)
		}
	}
}

func TestTrustedPath(t *testing.T) {
	_, vs := armorVectors(t)
	p := Packet(testutil.Hex(t, vs[1].Plain))
	if err := ArmorTrusted(p, 0x1234); err != nil || p.Cipher() != SuiteTrustedPath || p.MAC() != 0x1234 {
		t.Fatalf("ArmorTrusted: %v suite %v mac %x", err, p.Cipher(), p.MAC())
	}
	if err := DearmorTrusted(p, 0x1234); err != nil {
		t.Errorf("right ID refused: %v", err)
	}
	if err := DearmorTrusted(p, 0x1235); !errors.Is(err, ErrUntrustedPathID) {
		t.Errorf("wrong ID: %v", err)
	}
	if err := DearmorTrusted(p, 0); !errors.Is(err, ErrUntrustedPathID) {
		t.Errorf("unconfigured: %v", err)
	}
	if _, err := Dearmor(p, nil); !errors.Is(err, ErrTrustedPath) {
		t.Errorf("keyed dearmor of suite 2: %v", err)
	}
}

func benchmarkArmor(b *testing.B, suite CipherSuite, size int, dearmor bool) {
	k, vs := armorVectors(b)
	base := testutil.Hex(b, vs[1].Plain)
	plain := make([]byte, size)
	copy(plain, base)
	plain[IdxVerb] = byte(VerbFRAME)
	work := make([]byte, size)
	copy(work, plain)
	if err := Armor(work, k, suite); err != nil {
		b.Fatal(err)
	}
	armored := bytes.Clone(work)
	b.SetBytes(int64(size))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if dearmor {
			copy(work, armored)
			if _, err := Dearmor(work, k); err != nil {
				b.Fatal(err)
			}
		} else {
			copy(work, plain)
			if err := Armor(work, k, suite); err != nil {
				b.Fatal(err)
			}
		}
	}
}

func BenchmarkArmor(b *testing.B) {
	for _, suite := range []CipherSuite{SuitePoly1305Salsa20, SuiteAESGMACSIV} {
		for _, size := range []int{1400, 2800} {
			name := suite.String() + "/" + itoa(size)
			b.Run("armor/"+name, func(b *testing.B) { benchmarkArmor(b, suite, size, false) })
			b.Run("dearmor/"+name, func(b *testing.B) { benchmarkArmor(b, suite, size, true) })
		}
	}
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}
