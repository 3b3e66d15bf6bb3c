package ztcrypto

import (
	"crypto/aes"
	"crypto/cipher"
	crand "crypto/rand"
	"math/rand/v2"
	"testing"
)

func randElem(r *rand.Rand) gfElem { return gfElem{r.Uint64(), r.Uint64()} }

func TestGFTableMatchesBitSerial(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for i := 0; i < 200; i++ {
		c, x := randElem(r), randElem(r)
		if got, want := newGFTable(c).mul(x), gfMul(x, c); got != want {
			t.Fatalf("table product %x, bit-serial %x", got, want)
		}
	}
}

func TestGFInverse(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	one := gfElem{hi: 1 << 63}
	for i := 0; i < 20; i++ {
		e := randElem(r)
		if got := gfMul(e, gfInverse(e)); got != one {
			t.Fatalf("e·e⁻¹ = %x", got)
		}
	}
}

// TestGFMatchesGHASH checks the field arithmetic against the standard
// library's GCM: the tag of empty plaintext with 16 bytes of AAD is
// (A·H ⊕ L)·H ⊕ E(J0).
func TestGFMatchesGHASH(t *testing.T) {
	key := make([]byte, 32)
	crand.Read(key)
	blk, _ := aes.NewCipher(key)
	g, _ := cipher.NewGCM(blk)
	var hb [16]byte
	blk.Encrypt(hb[:], hb[:])
	h := gfFromBytes(hb[:])

	aad := make([]byte, 16)
	crand.Read(aad)
	nonce := make([]byte, 12)
	tag := g.Seal(nil, nonce, nil, aad)

	var j0 [16]byte
	j0[15] = 1
	blk.Encrypt(j0[:], j0[:])
	lenBlock := gfElem{hi: 128, lo: 0}
	x := gfMul(gfFromBytes(aad), h)
	x.hi ^= lenBlock.hi
	x.lo ^= lenBlock.lo
	s := gfMul(x, h)
	var want [16]byte
	s.put(want[:])
	for i := range want {
		want[i] ^= j0[i]
	}
	if string(want[:]) != string(tag) {
		t.Fatalf("GHASH model %x, GCM tag %x", want, tag)
	}
}

// TestCTRPathsAgree checks the GCM-driven keystream against the plain
// block-at-a-time CTR for many counters, including the 32-bit wrap.
func TestCTRPathsAgree(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	k0, k1 := make([]byte, 32), make([]byte, 32)
	crand.Read(k0)
	crand.Read(k1)
	g, err := NewGMACSIV(k0, k1)
	if err != nil {
		t.Fatal(err)
	}
	s := new(sivScratch)
	for i := 0; i < 300; i++ {
		for j := range s.tag {
			s.tag[j] = byte(r.UintN(256))
		}
		switch i {
		case 0: // counter 0: J0 wraps to 0xffffffff
			s.tag[12], s.tag[13], s.tag[14], s.tag[15] = 0, 0, 0, 0
		case 1: // just below the masked top bit
			s.tag[12], s.tag[13], s.tag[14], s.tag[15] = 0x7f, 0xff, 0xff, 0xfe
		}
		msg := make([]byte, r.IntN(3000))
		for j := range msg {
			msg[j] = byte(r.UintN(256))
		}
		a, b := append([]byte(nil), msg...), append([]byte(nil), msg...)
		tag := s.tag
		g.ctr(s, a)
		s.tag = tag
		g.ctrByBlocks(s, b)
		if string(a) != string(b) {
			t.Fatalf("iteration %d (len %d): keystreams differ", i, len(msg))
		}
	}
}
