package identity

import (
	"crypto/sha512"
	"encoding/binary"

	//lint:ignore SA1019 the proof of work needs the raw Salsa20 core with an explicit block counter
	"golang.org/x/crypto/salsa20/salsa"

	"github.com/ztgo/ztgo/internal/pagebuf"
)

// Proof-of-work parameters (vl1.md §3.4; Identity.cpp).
const (
	powMemory             = 2 * 1024 * 1024 // ZT_IDENTITY_GEN_MEMORY
	powFirstByteLessThan  = 17              // ZT_IDENTITY_GEN_HASHCASH_FIRST_BYTE_LESS_THAN
	powWords              = powMemory / 8
	powKeystreamChunkSize = 64 * 1024
)

// powScratch is the 2 MiB table of one proof-of-work evaluation. It lives
// outside the Go heap and is unmapped after use: a member validates an
// identity only when it meets a new peer, and a table kept in a pool (or
// left to the garbage collector) would stay resident and raise the heap's
// goal for the rest of the process's life.
type powScratch struct {
	buf, mem, ks []byte
}

func newPowScratch() *powScratch {
	b := pagebuf.Alloc(powMemory + powKeystreamChunkSize)
	return &powScratch{buf: b, mem: b[:powMemory], ks: b[powMemory:]}
}

func (s *powScratch) free() { pagebuf.Free(s.buf) }

// powStream is a Salsa20/20 keystream handed out one 64-byte block at a time.
// It buffers chunks from x/crypto's assembly core, which takes an explicit
// block counter and so can continue a stream across calls.
type powStream struct {
	key     [32]byte
	counter [16]byte // nonce (8 bytes) ‖ little-endian block counter
	buf     []byte   // backing chunk
	off     int
}

func (s *powStream) refill() {
	clear(s.buf)
	salsa.XORKeyStream(s.buf, s.buf, &s.counter, &s.key)
	blocks := uint64(len(s.buf) / 64)
	binary.LittleEndian.PutUint64(s.counter[8:], binary.LittleEndian.Uint64(s.counter[8:])+blocks)
	s.off = 0
}

// xor XORs the next 64 keystream bytes into dst.
func (s *powStream) xor(dst []byte) {
	if s.off == len(s.buf) {
		s.refill()
	}
	blk := s.buf[s.off : s.off+64]
	for i := 0; i < 64; i += 8 {
		binary.LittleEndian.PutUint64(dst[i:], binary.LittleEndian.Uint64(dst[i:])^binary.LittleEndian.Uint64(blk[i:]))
	}
	s.off += 64
}

// powDigest computes the memory-hard hash of a 64-byte public key.
func powDigest(pub *[64]byte) [64]byte {
	scratch := newPowScratch()
	defer scratch.free()
	return scratch.digest(pub)
}

// digest is powDigest with a table the caller owns, for the generator's
// many attempts.
func (scratch *powScratch) digest(pub *[64]byte) [64]byte {
	digest := sha512.Sum512(pub[:])
	s := powStream{buf: scratch.ks, off: len(scratch.ks)}
	copy(s.key[:], digest[:32])
	copy(s.counter[:8], digest[32:40])

	mem := scratch.mem
	clear(mem[:64])
	s.xor(mem[:64])
	for off := 64; off < powMemory; off += 64 {
		copy(mem[off:off+64], mem[off-64:off])
		s.xor(mem[off : off+64])
	}

	for i := 0; i < powWords; {
		a := binary.BigEndian.Uint64(mem[8*i:]) % 8
		i++
		b := binary.BigEndian.Uint64(mem[8*i:]) % powWords
		i++
		var tmp [8]byte
		copy(tmp[:], mem[8*b:8*b+8])
		copy(mem[8*b:8*b+8], digest[8*a:8*a+8])
		copy(digest[8*a:8*a+8], tmp[:])
		s.xor(digest[:])
	}
	return digest
}

// powAccepts reports whether a digest satisfies the work condition and names
// the given address.
func powAccepts(d *[64]byte, a Address) bool {
	return d[0] < powFirstByteLessThan && AddressFromBytes(d[59:64]) == a
}
