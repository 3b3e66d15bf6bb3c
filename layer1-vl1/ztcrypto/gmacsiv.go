package ztcrypto

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/subtle"
	"encoding/binary"
	"sync"
)

// GMACSIVAADLength is the size of the associated-data block that precedes the
// message in the buffers GMACSIV works on: ZeroTier authenticates 11 header
// bytes padded with zeros to one AES block.
const GMACSIVAADLength = 16

// GMACSIV is ZeroTier's AES-GMAC-SIV (cipher suite 3): a synthetic IV made
// from a GMAC tag over the plaintext, then AES-CTR under a second key. It is
// safe for concurrent use.
type GMACSIV struct {
	gmac cipher.AEAD  // AES-GCM under K0, used with empty plaintext as GMAC
	k1   cipher.Block // AES under K1: tag encryption and CTR

	// The standard library's AES-CTR allocates per stream, and encrypting
	// one counter block at a time is latency-bound, so CTR runs through
	// AES-GCM under K1 instead: with a 16-byte nonce N, GCM's first counter
	// block is J0 = N·H² ⊕ L·H, linear in N, so we can pick the N whose
	// keystream starts at our counter (see ctr).
	ctrGCM    cipher.AEAD
	nonceMul  *gfTable // multiplies by H⁻²
	lenTimesH gfElem   // L·H for L = the length block of a 16-byte nonce
}

// sivScratch holds the block-sized temporaries of one operation. They go to
// interface methods, which would move stack arrays to the heap on every call;
// a pool keeps the data path free of allocations.
type sivScratch struct {
	nonce   [12]byte
	gmac    [16]byte
	tag     [16]byte
	ctr     [16]byte
	nonce16 [16]byte
	out     [maxCTRMessage + 16]byte
}

// maxCTRMessage bounds what goes through the GCM keystream in one call;
// ZeroTier packets are at most 10024 bytes.
const maxCTRMessage = 16 * 1024

var sivScratchPool = sync.Pool{New: func() any { return new(sivScratch) }}

// NewGMACSIV returns the cipher for the two AES-256 keys.
func NewGMACSIV(k0, k1 []byte) (*GMACSIV, error) {
	b0, err := aes.NewCipher(k0)
	if err != nil {
		return nil, err
	}
	gcm, err := cipher.NewGCM(b0)
	if err != nil {
		return nil, err
	}
	b1, err := aes.NewCipher(k1)
	if err != nil {
		return nil, err
	}
	ctrGCM, err := cipher.NewGCMWithNonceSize(b1, 16)
	if err != nil {
		return nil, err
	}
	var hb [16]byte
	b1.Encrypt(hb[:], hb[:])
	h := gfFromBytes(hb[:])
	return &GMACSIV{
		gmac:      gcm,
		k1:        b1,
		ctrGCM:    ctrGCM,
		nonceMul:  newGFTable(gfInverse(gfMul(h, h))),
		lenTimesH: gfMul(gfElem{lo: 128}, h),
	}, nil
}

// Seal encrypts buf[16:] in place. buf[:16] must hold the padded associated
// data. iv is the caller's random 64-bit IV; the 16-byte synthetic tag goes to
// tag (ZeroTier sends its halves as the packet ID and the MAC field).
func (g *GMACSIV) Seal(tag *[16]byte, iv []byte, buf []byte) {
	s := sivScratchPool.Get().(*sivScratch)
	g.fold(s, iv, buf)
	copy(s.tag[:8], iv)
	g.k1.Encrypt(s.tag[:], s.tag[:])
	g.ctr(s, buf[GMACSIVAADLength:])
	*tag = s.tag
	sivScratchPool.Put(s)
}

// Open decrypts buf[16:] in place and checks it against tag. buf[:16] must
// hold the padded associated data. On success it returns the IV the sender
// chose; on failure buf is left as it was.
func (g *GMACSIV) Open(tag *[16]byte, buf []byte) (iv [8]byte, ok bool) {
	s := sivScratchPool.Get().(*sivScratch)
	s.tag = *tag
	msg := buf[GMACSIVAADLength:]
	g.ctr(s, msg)
	g.k1.Decrypt(s.gmac[:], s.tag[:])
	plainTag := s.gmac // the sender's IV and folded GMAC
	g.fold(s, plainTag[:8], buf)
	ok = subtle.ConstantTimeCompare(s.gmac[:8], plainTag[8:]) == 1
	if !ok {
		s.tag = *tag
		g.ctr(s, msg) // CTR is its own inverse: restore the ciphertext
	}
	copy(iv[:], plainTag[:8])
	sivScratchPool.Put(s)
	return iv, ok
}

// fold computes GMAC(K0, iv‖0⁴, buf) folded to 64 bits into s.gmac[:8] and
// places it in s.tag[8:16].
func (g *GMACSIV) fold(s *sivScratch, iv []byte, buf []byte) {
	copy(s.nonce[:8], iv)
	clear(s.nonce[8:])
	full := g.gmac.Seal(s.gmac[:0], s.nonce[:], nil, buf)
	binary.LittleEndian.PutUint64(s.gmac[:8],
		binary.LittleEndian.Uint64(full[:8])^binary.LittleEndian.Uint64(full[8:16]))
	copy(s.tag[8:], s.gmac[:8])
}

// ctr XORs msg with AES-CTR(K1) whose first counter block is the tag with bit
// 31 of its last word cleared. ZeroTier increments only that 32-bit word, as
// GCM does.
func (g *GMACSIV) ctr(s *sivScratch, msg []byte) {
	s.ctr = s.tag
	s.ctr[12] &= 0x7f
	if len(msg) > maxCTRMessage {
		g.ctrByBlocks(s, msg)
		return
	}
	// GCM encrypts from inc32(J0), so aim J0 one block before our counter.
	j0 := gfFromBytes(s.ctr[:])
	j0.lo = j0.lo&^0xffffffff | uint64(uint32(j0.lo)-1)
	j0.hi ^= g.lenTimesH.hi
	j0.lo ^= g.lenTimesH.lo
	g.nonceMul.mul(j0).put(s.nonce16[:])
	out := g.ctrGCM.Seal(s.out[:0], s.nonce16[:], msg, nil)
	copy(msg, out[:len(msg)])
}

// ctrByBlocks is the plain construction, one AES block at a time.
func (g *GMACSIV) ctrByBlocks(s *sivScratch, msg []byte) {
	counter := binary.BigEndian.Uint32(s.ctr[12:])
	var ks [16]byte
	for len(msg) > 0 {
		binary.BigEndian.PutUint32(s.ctr[12:], counter)
		g.k1.Encrypt(s.gmac[:], s.ctr[:])
		ks = s.gmac
		n := subtle.XORBytes(msg, msg, ks[:])
		msg = msg[n:]
		counter++
	}
}
