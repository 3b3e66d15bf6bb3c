package world

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"testing"

	"github.com/ztgo/ztgo/internal/testutil"
	"github.com/ztgo/ztgo/layer1-vl1/identity"
)

type worldVectors struct {
	DefaultPlanet struct {
		Hex                   string
		Type                  int
		ID                    uint64
		Timestamp             uint64
		UpdatesMustBeSignedBy string `json:"updates_must_be_signed_by"`
		SigningMessage        string `json:"signing_message"`
		Roots                 []struct {
			Identity        string
			StableEndpoints []string `json:"stable_endpoints"`
		}
	} `json:"default_planet"`
	TestMoon struct {
		Hex              string
		ID               string
		Timestamp        uint64
		SigningKeyPublic string `json:"signing_key_public"`
		SigningKeySecret string `json:"signing_key_secret"`
		SigningMessage   string `json:"signing_message"`
	} `json:"test_moon"`
}

func loadVectors(t *testing.T) worldVectors {
	var v worldVectors
	testutil.Vectors(t, "world.json", &v)
	return v
}

func TestDefaultPlanet(t *testing.T) {
	v := loadVectors(t).DefaultPlanet
	raw := testutil.Hex(t, v.Hex)
	if !bytes.Equal(raw, defaultPlanet) {
		t.Fatal("embedded planet differs from the vector")
	}
	w := Default()
	if w.Type != Planet || w.ID != v.ID || w.ID != EarthID || w.Timestamp != v.Timestamp ||
		hex.EncodeToString(w.UpdatesMustBeSignedBy[:]) != v.UpdatesMustBeSignedBy {
		t.Errorf("fields: %+v", w)
	}
	if len(w.Roots) != len(v.Roots) {
		t.Fatalf("%d roots", len(w.Roots))
	}
	for i, r := range w.Roots {
		if r.Identity.String() != v.Roots[i].Identity[:141] && r.Identity.String() != v.Roots[i].Identity {
			t.Errorf("root %d identity %s", i, r.Identity)
		}
		if err := r.Identity.Validate(); err != nil {
			t.Errorf("root %d: %v", i, err)
		}
		for j, ep := range r.StableEndpoints {
			if got := ep.Addr().String() + "/" + itoa(int(ep.Port())); got != v.Roots[i].StableEndpoints[j] {
				t.Errorf("root %d endpoint %d: %s", i, j, got)
			}
		}
	}
	if !bytes.Equal(w.Append(nil), raw) {
		t.Error("re-encoding differs")
	}
	if !bytes.Equal(w.SigningMessage(), testutil.Hex(t, v.SigningMessage)) {
		t.Error("signing message differs")
	}
	if !w.VerifySelf() {
		t.Error("signature does not verify")
	}
}

func TestTestMoon(t *testing.T) {
	v := loadVectors(t).TestMoon
	raw := testutil.Hex(t, v.Hex)
	w, n, err := Decode(raw)
	if err != nil || n != len(raw) {
		t.Fatalf("decode: %v (%d of %d)", err, n, len(raw))
	}
	if w.Type != Moon || w.ID != 0xdeadbeef01 || w.Timestamp != v.Timestamp {
		t.Errorf("fields %+v", w)
	}
	if !bytes.Equal(w.Append(nil), raw) || !bytes.Equal(w.SigningMessage(), testutil.Hex(t, v.SigningMessage)) {
		t.Error("encoding or signing message differs")
	}
	var pub [64]byte
	var sec [64]byte
	copy(pub[:], testutil.Hex(t, v.SigningKeyPublic))
	copy(sec[:], testutil.Hex(t, v.SigningKeySecret))
	if !w.Verify(&pub) {
		t.Error("does not verify with its signing key")
	}
	sig := w.Signature
	w.Sign(&sec)
	if w.Signature != sig {
		t.Error("re-signing did not reproduce the signature")
	}
}

func labPlanet(t *testing.T) ([]byte, *World, *KeyPair) {
	raw := testutil.ReadFile(t, "captures", "basic", "planet")
	w, n, err := Decode(raw)
	if err != nil || n != len(raw) {
		t.Fatalf("lab planet: %v", err)
	}
	kp, err := ParseKeyPair(testutil.ReadFile(t, "captures", "basic", "planet.signing-key.c25519"))
	if err != nil {
		t.Fatal(err)
	}
	return raw, w, kp
}

func TestLabPlanet(t *testing.T) {
	raw, w, kp := labPlanet(t)
	if w.Type != Planet || w.ID != 388733878594 || len(w.Roots) != 1 || w.Roots[0].Identity.Address().String() != "cbf31c2eda" ||
		w.Roots[0].StableEndpoints[0].String() != "198.18.0.1:9993" {
		t.Errorf("lab planet %+v", w)
	}
	if !w.Verify(&kp.Public) || !w.VerifySelf() {
		t.Error("lab planet does not verify")
	}
	if !bytes.Equal(w.Append(nil), raw) {
		t.Error("re-encoding differs")
	}
	// The lab's JSON with the lab key rebuilds the file exactly.
	spec, err := ParseSpec(testutil.ReadFile(t, "captures", "basic", "planet.json"))
	if err != nil {
		t.Fatal(err)
	}
	built, err := spec.Build(0, kp)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(built.Append(nil), raw) {
		t.Errorf("built planet differs:\n got %x\nwant %x", built.Append(nil), raw)
	}
}

func TestGenmoonJSON(t *testing.T) {
	v := loadVectors(t).TestMoon
	raw := testutil.Hex(t, v.Hex)
	orig, _, _ := Decode(raw)
	js := `{"objtype":"world","worldType":"moon","id":"` + v.ID + `",
	 "signingKey":"` + v.SigningKeyPublic + `","signingKey_SECRET":"` + v.SigningKeySecret + `",
	 "updatesMustBeSignedBy":"` + v.SigningKeyPublic + `",
	 "roots":[` + rootsJSON(orig) + `]}`
	spec, err := ParseSpec([]byte(js))
	if err != nil {
		t.Fatal(err)
	}
	w, err := spec.Build(v.Timestamp, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(w.Append(nil), raw) {
		t.Errorf("genmoon-style build differs")
	}
	for _, bad := range []string{
		`{"worldType":"star","id":"1","roots":[]}`,
		`{"worldType":"moon","roots":[]}`,
		`{"worldType":"moon","id":"zz","roots":[]}`,
		`{"worldType":"moon","id":"1","signingKey":"00","signingKey_SECRET":"00","roots":[]}`,
		`{"worldType":"moon","id":"1","roots":[{"identity":"x"}]}`,
	} {
		s, err := ParseSpec([]byte(bad))
		if err == nil {
			_, err = s.Build(1, nil)
		}
		if err == nil {
			t.Errorf("accepted %s", bad)
		}
	}
}

func rootsJSON(w *World) string {
	var parts []string
	for _, r := range w.Roots {
		eps := ""
		for i, ep := range r.StableEndpoints {
			if i > 0 {
				eps += ","
			}
			eps += `"` + ep.Addr().String() + "/" + itoa(int(ep.Port())) + `"`
		}
		parts = append(parts, `{"identity":"`+r.Identity.String()+`","stableEndpoints":[`+eps+`]}`)
	}
	out := ""
	for i, p := range parts {
		if i > 0 {
			out += ","
		}
		out += p
	}
	return out
}

func TestShouldBeReplacedBy(t *testing.T) {
	_, cur, kp := labPlanet(t)
	next := Make(Planet, cur.ID, cur.Timestamp+1, cur.UpdatesMustBeSignedBy, cur.Roots, &kp.Secret)
	if !cur.ShouldBeReplacedBy(next) {
		t.Error("newer signed update refused")
	}
	same := Make(Planet, cur.ID, cur.Timestamp, cur.UpdatesMustBeSignedBy, cur.Roots, &kp.Secret)
	older := Make(Planet, cur.ID, cur.Timestamp-1, cur.UpdatesMustBeSignedBy, cur.Roots, &kp.Secret)
	otherID := Make(Planet, cur.ID+1, cur.Timestamp+1, cur.UpdatesMustBeSignedBy, cur.Roots, &kp.Secret)
	asMoon := Make(Moon, cur.ID, cur.Timestamp+1, cur.UpdatesMustBeSignedBy, cur.Roots, &kp.Secret)
	var wrong KeyPair
	copy(wrong.Secret[:], bytes.Repeat([]byte{7}, 64))
	wrongKey := Make(Planet, cur.ID, cur.Timestamp+1, cur.UpdatesMustBeSignedBy, cur.Roots, &wrong.Secret)
	for name, w := range map[string]*World{"same": same, "older": older, "other id": otherID, "moon": asMoon, "wrong key": wrongKey} {
		if cur.ShouldBeReplacedBy(w) {
			t.Errorf("%s accepted", name)
		}
	}
	// Rotation: an update names a new key; the one after must use it.
	newKey := testKeyPair(t)
	rotated := Make(Planet, cur.ID, cur.Timestamp+10, newKey.Public, cur.Roots, &kp.Secret)
	if !cur.ShouldBeReplacedBy(rotated) {
		t.Fatal("rotation refused")
	}
	afterOld := Make(Planet, cur.ID, cur.Timestamp+20, newKey.Public, cur.Roots, &kp.Secret)
	afterNew := Make(Planet, cur.ID, cur.Timestamp+20, newKey.Public, cur.Roots, &newKey.Secret)
	if rotated.ShouldBeReplacedBy(afterOld) || !rotated.ShouldBeReplacedBy(afterNew) {
		t.Error("rotation not followed")
	}
}

func testKeyPair(t *testing.T) *KeyPair {
	id := testIdentityWithSecret(t)
	var kp KeyPair
	kp.Public = id.PublicKey()
	s, _ := hex.DecodeString(id.SecretString()[10+3+128+1:])
	copy(kp.Secret[:], s)
	return &kp
}

func testIdentityWithSecret(t *testing.T) *identity.Identity {
	var v struct {
		Identities []struct{ String string }
	}
	testutil.Vectors(t, "identity.json", &v)
	id, err := identity.Parse(v.Identities[2].String)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func TestDecodeRobust(t *testing.T) {
	raw, _, kp := labPlanet(t)
	samples := [][]byte{raw, defaultPlanet, testutil.Hex(t, loadVectors(t).TestMoon.Hex)}
	for _, s := range samples {
		for n := 0; n < len(s); n++ {
			if _, _, err := Decode(s[:n]); err == nil {
				t.Fatalf("truncated to %d of %d decoded", n, len(s))
			}
		}
	}
	// Every single bit flip is either refused or breaks the signature.
	for bit := 0; bit < 8*len(raw); bit++ {
		b := bytes.Clone(raw)
		b[bit/8] ^= 1 << (bit % 8)
		w, _, err := Decode(b)
		if err == nil && w.Verify(&kp.Public) {
			t.Fatalf("bit %d flipped and the world still verifies", bit)
		}
	}
	bad := bytes.Clone(samples[2])
	bad[len(bad)-1] = 1 // moon dictionary length
	if _, _, err := Decode(bad); err == nil {
		t.Error("moon with a dictionary accepted")
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(defaultPlanet)
	f.Fuzz(func(t *testing.T, b []byte) {
		w, n, err := Decode(b)
		if err != nil {
			return
		}
		if got := w.Append(nil); !bytes.Equal(got, b[:n]) {
			t.Fatalf("re-encoding differs:\n got %x\nwant %x", got, b[:n])
		}
	})
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	s := ""
	for ; n > 0; n /= 10 {
		s = string(rune('0'+n%10)) + s
	}
	return s
}

func TestGenerateKeyPairSigns(t *testing.T) {
	kp, err := GenerateKeyPair(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	w := Make(Moon, 0x1234, 1, kp.Public, nil, &kp.Secret)
	if !w.VerifySelf() {
		t.Fatal("world signed by a generated key does not verify")
	}
	parsed, err := ParseKeyPair(append(kp.Public[:], kp.Secret[:]...))
	if err != nil || parsed.Public != kp.Public {
		t.Fatalf("round trip through ParseKeyPair: %v", err)
	}
}
