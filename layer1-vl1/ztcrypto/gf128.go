package ztcrypto

import "encoding/binary"

// gfElem is an element of GCM's GF(2^128): hi holds bytes 0–7 of the block
// big-endian, lo bytes 8–15. GCM numbers bits from the most significant bit
// of byte 0 (the constant term) to the least significant bit of byte 15, so
// multiplying by x is a right shift with reduction by x^128+x^7+x^2+x+1.
type gfElem struct{ hi, lo uint64 }

const gfReduce = 0xe1 << 56

func gfFromBytes(b []byte) gfElem {
	return gfElem{binary.BigEndian.Uint64(b), binary.BigEndian.Uint64(b[8:])}
}

func (e gfElem) put(b []byte) {
	binary.BigEndian.PutUint64(b, e.hi)
	binary.BigEndian.PutUint64(b[8:], e.lo)
}

// mulX multiplies by x.
func (e gfElem) mulX() gfElem {
	carry := e.lo & 1
	e.lo = e.lo>>1 | e.hi<<63
	e.hi >>= 1
	if carry != 0 {
		e.hi ^= gfReduce
	}
	return e
}

// gfMul is the bit-serial product (SP 800-38D §6.3). It is only used to
// build tables, once per key.
func gfMul(x, y gfElem) gfElem {
	var z gfElem
	v := y
	for i := 0; i < 128; i++ {
		word := x.hi
		if i >= 64 {
			word = x.lo
		}
		if word>>(63-i%64)&1 != 0 {
			z.hi ^= v.hi
			z.lo ^= v.lo
		}
		v = v.mulX()
	}
	return z
}

// gfInverse returns e^-1 = e^(2^128-2) by square-and-multiply.
func gfInverse(e gfElem) gfElem {
	result := gfElem{hi: 1 << 63} // the field's 1
	power := e
	// 2^128-2 has every bit set except bit 0.
	for i := 1; i < 128; i++ {
		power = gfMul(power, power)
		result = gfMul(result, power)
	}
	return result
}

// gfReduce4 holds, for the 4 bits shifted out of the low end by a
// multiplication by x^4, what they fold back into the high word.
var gfReduce4 = func() (t [16]uint64) {
	for n := range t {
		t[n] = gfElem{lo: uint64(n)}.mulX().mulX().mulX().mulX().hi
	}
	return t
}()

// gfTable multiplies by a fixed element four bits at a time (Shoup's
// method): 256 bytes per constant.
type gfTable [16]gfElem

func newGFTable(c gfElem) *gfTable {
	var t gfTable
	// Nibble value 8 is the lowest-degree bit of the four.
	pow := c
	for bit := 8; bit > 0; bit >>= 1 {
		for n := range t {
			if n&bit != 0 {
				t[n].hi ^= pow.hi
				t[n].lo ^= pow.lo
			}
		}
		pow = pow.mulX()
	}
	return &t
}

// mul returns x·c by Horner's rule over x's nibbles, highest degree first.
func (t *gfTable) mul(x gfElem) gfElem {
	var z gfElem
	for k := 0; k < 32; k++ {
		var nib uint64
		if k < 16 {
			nib = x.lo >> (4 * k) & 0xf
		} else {
			nib = x.hi >> (4 * (k - 16)) & 0xf
		}
		out := z.lo & 0xf
		z.lo = z.lo>>4 | z.hi<<60
		z.hi = z.hi>>4 ^ gfReduce4[out]
		z.hi ^= t[nib].hi
		z.lo ^= t[nib].lo
	}
	return z
}
