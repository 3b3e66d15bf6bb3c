package ztcrypto

import (
	"bytes"
	"crypto/rand"
	"testing"

	"github.com/ztgo/ztgo/internal/testutil"
)

func TestSalsa20Vectors(t *testing.T) {
	var v struct {
		Salsa20_20 []struct{ Key, IV, Keystream string } `json:"salsa20_20"`
		Salsa20_12 []struct{ Key, IV, Keystream string } `json:"salsa20_12"`
	}
	testutil.Vectors(t, "salsa20.json", &v)
	run := func(rounds int, vs []struct{ Key, IV, Keystream string }) {
		if len(vs) == 0 {
			t.Fatalf("no Salsa20/%d vectors", rounds)
		}
		for i, tv := range vs {
			var key [32]byte
			var nonce [8]byte
			copy(key[:], testutil.Hex(t, tv.Key))
			copy(nonce[:], testutil.Hex(t, tv.IV))
			want := testutil.Hex(t, tv.Keystream)

			s := NewSalsa20(&key, &nonce, rounds)
			got := make([]byte, len(want))
			s.KeyStream(got)
			if !bytes.Equal(got, want) {
				t.Errorf("Salsa20/%d vector %d keystream:\n got %x\nwant %x", rounds, i, got, want)
			}
			// XOR over zeros in odd-sized pieces that are whole blocks apart
			// must give the same stream.
			s = NewSalsa20(&key, &nonce, rounds)
			got2 := make([]byte, len(want))
			for off := 0; off < len(got2); off += 64 {
				end := min(off+64, len(got2))
				s.XORKeyStream(got2[off:end], got2[off:end])
			}
			if !bytes.Equal(got2, want) {
				t.Errorf("Salsa20/%d vector %d XORKeyStream differs from KeyStream", rounds, i)
			}
		}
	}
	run(20, v.Salsa20_20)
	run(12, v.Salsa20_12)
}

func TestSalsa20BlockGranularity(t *testing.T) {
	var key [32]byte
	var nonce [8]byte
	rand.Read(key[:])
	whole := NewSalsa20(&key, &nonce, 12)
	stream := make([]byte, 192)
	whole.KeyStream(stream)

	// 32 bytes then 100 bytes: the second call starts at block 1.
	s := NewSalsa20(&key, &nonce, 12)
	a := make([]byte, 32)
	s.KeyStream(a)
	b := make([]byte, 100)
	s.XORKeyStream(b, b)
	if !bytes.Equal(a, stream[:32]) || !bytes.Equal(b, stream[64:164]) {
		t.Fatal("partial block was not discarded between calls")
	}
}

func TestPoly1305Vectors(t *testing.T) {
	var v struct {
		Vectors []struct{ Key, Input, Tag string }
	}
	testutil.Vectors(t, "poly1305.json", &v)
	for i, tv := range v.Vectors {
		var key [32]byte
		copy(key[:], testutil.Hex(t, tv.Key))
		msg := testutil.Hex(t, tv.Input)
		want := testutil.Hex(t, tv.Tag)
		var tag [8]byte
		Poly1305Sum(&tag, msg, &key)
		if !bytes.Equal(tag[:], want[:8]) {
			t.Errorf("vector %d: tag %x, want %x", i, tag, want[:8])
		}
		if !Poly1305Verify(want[:8], msg, &key) {
			t.Errorf("vector %d: verify rejected the right tag", i)
		}
		want[0] ^= 1
		if Poly1305Verify(want[:8], msg, &key) {
			t.Errorf("vector %d: verify accepted a wrong tag", i)
		}
	}
}

func TestKBKDFVectors(t *testing.T) {
	var v struct {
		SharedKey48 string `json:"shared_key_48"`
		KBKDFK0     string `json:"kbkdf_k0"`
		KBKDFK1     string `json:"kbkdf_k1"`
	}
	testutil.Vectors(t, "keys.json", &v)
	key := testutil.Hex(t, v.SharedKey48)
	for label, want := range map[byte]string{'0': v.KBKDFK0, '1': v.KBKDFK1} {
		got := KBKDF(key, label)
		if !bytes.Equal(got[:], testutil.Hex(t, want)) {
			t.Errorf("KBKDF label %c: got %x want %s", label, got, want)
		}
	}
}

type sivVector struct {
	K0, K1, IV, AAD, Plaintext string
	Tag, Ciphertext            string
}

func TestGMACSIVVectors(t *testing.T) {
	var v struct{ Vectors []sivVector }
	testutil.Vectors(t, "aes_gmac_siv.json", &v)
	if len(v.Vectors) == 0 {
		t.Fatal("no vectors")
	}
	for i, tv := range v.Vectors {
		g, err := NewGMACSIV(testutil.Hex(t, tv.K0), testutil.Hex(t, tv.K1))
		if err != nil {
			t.Fatal(err)
		}
		aad := testutil.Hex(t, tv.AAD)
		pt := testutil.Hex(t, tv.Plaintext)
		buf := make([]byte, GMACSIVAADLength+len(pt))
		copy(buf, aad)
		copy(buf[GMACSIVAADLength:], pt)

		var tag [16]byte
		g.Seal(&tag, testutil.Hex(t, tv.IV), buf)
		if want := testutil.Hex(t, tv.Tag); !bytes.Equal(tag[:], want) {
			t.Errorf("vector %d: tag %x want %x", i, tag, want)
		}
		if want := testutil.Hex(t, tv.Ciphertext); !bytes.Equal(buf[GMACSIVAADLength:], want) {
			t.Errorf("vector %d: ciphertext differs", i)
		}

		iv, ok := g.Open(&tag, buf)
		if !ok || !bytes.Equal(iv[:], testutil.Hex(t, tv.IV)) || !bytes.Equal(buf[GMACSIVAADLength:], pt) {
			t.Errorf("vector %d: open failed (ok=%v iv=%x)", i, ok, iv)
		}

		// Any change to the associated data must fail and leave buf as it was.
		g.Seal(&tag, testutil.Hex(t, tv.IV), buf)
		sealed := bytes.Clone(buf)
		buf[3] ^= 0x10
		if _, ok := g.Open(&tag, buf); ok {
			t.Errorf("vector %d: open accepted modified AAD", i)
		}
		buf[3] ^= 0x10
		if !bytes.Equal(buf, sealed) {
			t.Errorf("vector %d: failed open changed the buffer", i)
		}
	}
}

func BenchmarkSalsa2012(b *testing.B) {
	var key [32]byte
	var nonce [8]byte
	buf := make([]byte, 64*1024)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		s := NewSalsa20(&key, &nonce, 12)
		s.XORKeyStream(buf, buf)
	}
}

func BenchmarkGMACSIVSeal1400(b *testing.B) {
	key := make([]byte, 32)
	g, _ := NewGMACSIV(key, key)
	buf := make([]byte, 16+1400)
	iv := make([]byte, 8)
	var tag [16]byte
	b.SetBytes(1400)
	b.ReportAllocs()
	for b.Loop() {
		g.Seal(&tag, iv, buf)
	}
}
