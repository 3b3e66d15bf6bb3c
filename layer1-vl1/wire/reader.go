package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"

	"github.com/ztgo/ztgo/layer1-vl1/identity"
)

// ErrMalformed is wrapped by every verb decoding failure, VL1's and VL2's.
var ErrMalformed = errors.New("malformed payload")

// Reader walks a payload for the VL1 and VL2 codecs. The first failed read
// records an error and every later read returns zero values, so decoders
// check once, at the end. Offsets in messages count from the start of the
// payload.
type Reader struct {
	b   []byte
	off int
	err error
	ctx any // what is being decoded (a Verb, or a name), printed only on failure
}

// NewReader starts reading b; ctx names what it holds in error messages.
// A Verb or a constant string costs no allocation.
func NewReader(b []byte, ctx any) Reader { return Reader{b: b, ctx: ctx} }

// Fail records a decoding error unless one is recorded already.
func (r *Reader) Fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: %v: %s", ErrMalformed, r.ctx, fmt.Sprintf(format, args...))
	}
}

// Err is the first error, or nil.
func (r *Reader) Err() error { return r.err }

// Off is how many bytes have been read.
func (r *Reader) Off() int { return r.off }

// Buf is the whole payload, read or not.
func (r *Reader) Buf() []byte { return r.b }

// Left is how many bytes are left.
func (r *Reader) Left() int { return len(r.b) - r.off }

// Take returns the next n bytes, aliasing the payload, with the capacity
// capped so an append cannot write into what follows.
func (r *Reader) Take(n int, what string) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || r.Left() < n {
		r.Fail("%s truncated (%d of %d bytes at offset %d)", what, max(r.Left(), 0), n, r.off)
		return nil
	}
	b := r.b[r.off : r.off+n : r.off+n]
	r.off += n
	return b
}

// Skip passes over n bytes.
func (r *Reader) Skip(n int, what string) { r.Take(n, what) }

func (r *Reader) U8(what string) uint8 {
	if b := r.Take(1, what); b != nil {
		return b[0]
	}
	return 0
}

func (r *Reader) U16(what string) uint16 {
	if b := r.Take(2, what); b != nil {
		return binary.BigEndian.Uint16(b)
	}
	return 0
}

func (r *Reader) U32(what string) uint32 {
	if b := r.Take(4, what); b != nil {
		return binary.BigEndian.Uint32(b)
	}
	return 0
}

func (r *Reader) U64(what string) uint64 {
	if b := r.Take(8, what); b != nil {
		return binary.BigEndian.Uint64(b)
	}
	return 0
}

// Address reads a 5-byte ZeroTier address.
func (r *Reader) Address(what string) identity.Address {
	if b := r.Take(identity.AddressLength, what); b != nil {
		return identity.AddressFromBytes(b)
	}
	return 0
}

// Rest returns everything not yet read: nil when nothing is left (so that
// re-encoding and reflect.DeepEqual agree on empty tails), and with its
// capacity capped so an append cannot write into what follows.
func (r *Reader) Rest() []byte {
	if r.err != nil || r.Left() == 0 {
		return nil
	}
	b := r.b[r.off:len(r.b):len(r.b)]
	r.off = len(r.b)
	return b
}

// Identity reads a public identity in its binary form.
func (r *Reader) Identity(what string) *identity.Identity {
	if r.err != nil {
		return nil
	}
	id, n, err := identity.PublicFromBinary(r.b[r.off:])
	if err != nil {
		r.Fail("%s: %v", what, err)
		return nil
	}
	r.off += n
	return id
}

// InetAddress reads an InetAddress record (vl1.md §6.1).
func (r *Reader) InetAddress(what string) netip.AddrPort {
	if r.err != nil {
		return netip.AddrPort{}
	}
	ap, n, err := ReadInetAddress(r.b[r.off:])
	if err != nil {
		r.Fail("%s at offset %d: %v", what, r.off, err)
		return netip.AddrPort{}
	}
	r.off += n
	return ap
}
