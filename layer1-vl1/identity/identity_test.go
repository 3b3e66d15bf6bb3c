package identity

import (
	"bytes"
	"crypto/rand"
	"errors"
	"strings"
	"testing"

	"github.com/ztgo/ztgo/internal/testutil"
)

type identityVector struct {
	Source       string
	String       string
	PublicString string `json:"public_string"`
	Address      string
	Public       string
	Secret       string
	BinaryPublic string `json:"binary_public"`
	BinarySecret string `json:"binary_secret"`
	PowDigest    string `json:"pow_digest"`
	Valid        bool
}

func loadIdentities(t *testing.T) []identityVector {
	var v struct{ Identities []identityVector }
	testutil.Vectors(t, "identity.json", &v)
	if len(v.Identities) < 3 {
		t.Fatalf("want 3 identity vectors, got %d", len(v.Identities))
	}
	return v.Identities
}

func TestIdentityVectors(t *testing.T) {
	for _, tv := range loadIdentities(t) {
		t.Run(tv.Source, func(t *testing.T) {
			id, err := Parse(tv.String)
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			if id.Address().String() != tv.Address {
				t.Errorf("address %s want %s", id.Address(), tv.Address)
			}
			if id.String() != tv.PublicString {
				t.Errorf("public string differs")
			}
			if tv.Secret != "" && id.SecretString() != tv.String {
				t.Errorf("secret string does not round-trip")
			}
			if got := id.AppendBinary(nil, false); !bytes.Equal(got, testutil.Hex(t, tv.BinaryPublic)) {
				t.Errorf("binary public:\n got %x\nwant %s", got, tv.BinaryPublic)
			}
			if tv.BinarySecret != "" {
				bin := testutil.Hex(t, tv.BinarySecret)
				if got := id.AppendBinary(nil, true); !bytes.Equal(got, bin) {
					t.Errorf("binary secret differs")
				}
				back, n, err := FromBinary(bin)
				if err != nil || n != len(bin) || back.SecretString() != id.SecretString() {
					t.Errorf("FromBinary(secret) = %v, %d, %v", back, n, err)
				}
			}
			back, n, err := FromBinary(testutil.Hex(t, tv.BinaryPublic))
			if err != nil || n != BinaryPublicLength || !back.Equal(id) || back.HasSecret() {
				t.Errorf("FromBinary(public) = %v, %d, %v", back, n, err)
			}
			if d := id.PowDigest(); !bytes.Equal(d[:], testutil.Hex(t, tv.PowDigest)) {
				t.Errorf("pow digest:\n got %x\nwant %s", d, tv.PowDigest)
			}
			err = id.Validate()
			if tv.Valid && err != nil {
				t.Errorf("valid identity rejected: %v", err)
			}
			if !tv.Valid && !errors.Is(err, ErrInvalid) {
				t.Errorf("invalid identity accepted (err=%v)", err)
			}
		})
	}
}

func TestParseRejects(t *testing.T) {
	good := loadIdentities(t)[0].String
	fields := strings.Split(good, ":")
	cases := map[string]string{
		"empty":            "",
		"two fields":       fields[0] + ":0",
		"five fields":      good + ":00",
		"type 1":           fields[0] + ":1:" + fields[2],
		"short public":     fields[0] + ":0:" + fields[2][:126],
		"non-hex public":   fields[0] + ":0:" + "zz" + fields[2][2:],
		"reserved address": "ff00000001:0:" + fields[2],
		"zero address":     "0000000000:0:" + fields[2],
		"short address":    fields[0][:9] + ":0:" + fields[2],
		"short secret":     good[:len(good)-2],
		"wrong secret":     fields[0] + ":0:" + fields[2] + ":" + strings.Repeat("11", 64),
	}
	for name, s := range cases {
		if _, err := Parse(s); err == nil {
			t.Errorf("%s: accepted %q", name, s)
		} else if !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: error %v does not wrap ErrMalformed", name, err)
		}
	}
	if _, err := Parse("  " + good + "\n"); err != nil {
		t.Errorf("surrounding white space rejected: %v", err)
	}
}

func TestFromBinaryTruncation(t *testing.T) {
	tv := loadIdentities(t)[2]
	bin := testutil.Hex(t, tv.BinarySecret)
	for i := 0; i < len(bin); i++ {
		if _, _, err := FromBinary(bin[:i]); err == nil {
			t.Fatalf("accepted %d of %d bytes", i, len(bin))
		}
	}
	for _, b := range []struct {
		off int
		val byte
	}{{5, 1}, {70, 32}, {0, 0xff}} {
		bad := bytes.Clone(bin)
		bad[b.off] = b.val
		if _, _, err := FromBinary(bad); err == nil {
			t.Errorf("accepted byte %d = %#x", b.off, b.val)
		}
	}
}

func TestAddress(t *testing.T) {
	a, err := ParseAddress("8e4df28b72")
	if err != nil || uint64(a) != 0x8e4df28b72 {
		t.Fatalf("ParseAddress = %v, %v", a, err)
	}
	var b [5]byte
	a.Put(b[:])
	if AddressFromBytes(b[:]) != a || a.String() != "8e4df28b72" {
		t.Fatal("round trip")
	}
	for _, s := range []string{"0000000000", "ff12345678", "123", "12345678901", "xyzxyzxyzx"} {
		if _, err := ParseAddress(s); err == nil {
			t.Errorf("accepted %q", s)
		}
	}
	if Address(1).String() != "0000000001" {
		t.Error("zero padding")
	}
}

func TestKeyAgreementVectors(t *testing.T) {
	var v struct {
		AString     string `json:"a_string"`
		BString     string `json:"b_string"`
		SharedKey48 string `json:"shared_key_48"`
		Agree128    string `json:"agree_128"`
	}
	testutil.Vectors(t, "keys.json", &v)
	a, err := Parse(v.AString)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Parse(v.BString)
	if err != nil {
		t.Fatal(err)
	}
	ab, err := a.Agree(b.Public())
	if err != nil {
		t.Fatal(err)
	}
	ba, _ := b.Agree(a)
	if ab != ba || !bytes.Equal(ab[:], testutil.Hex(t, v.SharedKey48)) {
		t.Errorf("shared key %x, want %s", ab, v.SharedKey48)
	}
	ext, err := a.AgreeExtended(b, 128)
	if err != nil || !bytes.Equal(ext, testutil.Hex(t, v.Agree128)) {
		t.Errorf("128-byte agreement differs (%v)", err)
	}
	if _, err := a.Public().Agree(b); !errors.Is(err, ErrNoSecret) {
		t.Errorf("agree without secret: %v", err)
	}
}

// TestC25519Vectors checks agreement and signatures on the 32 key pairs of
// 1.14.1's self test.
func TestC25519Vectors(t *testing.T) {
	var v struct {
		Vectors []struct{ Pub1, Priv1, Pub2, Priv2, Agreement, Sig1, Sig2 string }
	}
	testutil.Vectors(t, "c25519.json", &v)
	if len(v.Vectors) != 32 {
		t.Fatalf("want 32 vectors, got %d", len(v.Vectors))
	}
	mk := func(pub, priv string) *Identity {
		id := &Identity{address: 1, secret: new([64]byte)}
		copy(id.public[:], testutil.Hex(t, pub))
		copy(id.secret[:], testutil.Hex(t, priv))
		if err := id.checkSecretMatchesPublic(); err != nil {
			t.Fatal(err)
		}
		return id
	}
	for i, tv := range v.Vectors {
		one, two := mk(tv.Pub1, tv.Priv1), mk(tv.Pub2, tv.Priv2)
		agreement := testutil.Hex(t, tv.Agreement)
		got, err := one.AgreeExtended(two, 64)
		if err != nil || !bytes.Equal(got, agreement) {
			t.Errorf("vector %d: agreement differs", i)
		}
		for j, c := range []struct {
			id  *Identity
			sig string
		}{{one, tv.Sig1}, {two, tv.Sig2}} {
			want := testutil.Hex(t, c.sig)
			sig, err := c.id.Sign(agreement)
			if err != nil || !bytes.Equal(sig[:], want) {
				t.Errorf("vector %d sig%d:\n got %x\nwant %x", i, j+1, sig, want)
			}
			if !c.id.Verify(agreement, want) {
				t.Errorf("vector %d sig%d: does not verify", i, j+1)
			}
			want[5] ^= 1
			if c.id.Verify(agreement, want) {
				t.Errorf("vector %d sig%d: corrupted signature verifies", i, j+1)
			}
		}
	}
}

func TestGenerateValidates(t *testing.T) {
	id, err := Generate(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if err := id.Validate(); err != nil {
		t.Fatalf("generated identity invalid: %v", err)
	}
	back, err := Parse(id.SecretString())
	if err != nil || back.SecretString() != id.SecretString() {
		t.Fatalf("string round trip: %v", err)
	}
	msg := []byte("hello")
	sig, _ := id.Sign(msg)
	if !back.Public().Verify(msg, sig[:]) {
		t.Fatal("signature does not verify with the public identity")
	}
	if back.Public().Verify([]byte("hellO"), sig[:]) || back.Public().Verify(msg, sig[:95]) {
		t.Fatal("signature verifies for a different message or length")
	}
}

func BenchmarkGenerate(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Generate(rand.Reader); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkValidate(b *testing.B) {
	id, _ := Generate(rand.Reader)
	b.ReportAllocs()
	for b.Loop() {
		if err := id.Validate(); err != nil {
			b.Fatal(err)
		}
	}
}
