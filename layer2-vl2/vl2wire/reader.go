package vl2wire

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/ztgo/ztgo/layer1-vl1/identity"
	"github.com/ztgo/ztgo/layer1-vl1/wire"
)

// ErrMalformed is wrapped by every decoding failure. It is the same sentinel
// as wire.ErrMalformed, so one errors.Is check covers VL1 and VL2.
var ErrMalformed = wire.ErrMalformed

// ErrNotVL2 is returned by Parse, ParseOKBody and ParseErrorBody for verbs
// and error codes that have no VL2 layout.
var ErrNotVL2 = errors.New("not a VL2 verb or body")

// reader walks a payload. The first failed read records an error and every
// later read returns zero values, so decoders check once at the end. Offsets
// in messages count from the start of b.
type reader struct {
	b   []byte
	off int
	err error
	ctx string // what is being decoded, e.g. "MULTICAST_GATHER"
}

func newReader(b []byte, ctx string) *reader { return &reader{b: b, ctx: ctx} }

func (r *reader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: %s: %s", ErrMalformed, r.ctx, fmt.Sprintf(format, args...))
	}
}

func (r *reader) left() int { return len(r.b) - r.off }

func (r *reader) take(n int, what string) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || r.left() < n {
		r.fail("%s truncated (%d of %d bytes at offset %d)", what, r.left(), n, r.off)
		return nil
	}
	b := r.b[r.off : r.off+n : r.off+n]
	r.off += n
	return b
}

func (r *reader) skip(n int, what string) { r.take(n, what) }

func (r *reader) u8(what string) uint8 {
	if b := r.take(1, what); b != nil {
		return b[0]
	}
	return 0
}

func (r *reader) u16(what string) uint16 {
	if b := r.take(2, what); b != nil {
		return binary.BigEndian.Uint16(b)
	}
	return 0
}

func (r *reader) u32(what string) uint32 {
	if b := r.take(4, what); b != nil {
		return binary.BigEndian.Uint32(b)
	}
	return 0
}

func (r *reader) u64(what string) uint64 {
	if b := r.take(8, what); b != nil {
		return binary.BigEndian.Uint64(b)
	}
	return 0
}

func (r *reader) address(what string) identity.Address {
	if b := r.take(identity.AddressLength, what); b != nil {
		return identity.AddressFromBytes(b)
	}
	return 0
}

func (r *reader) mac(what string) MAC {
	if b := r.take(MACLength, what); b != nil {
		return MACFromBytes(b)
	}
	return 0
}

// group reads MAC(6) ADI(4); the names are separate so the data path does
// not build strings.
func (r *reader) group(macName, adiName string) MulticastGroup {
	return MulticastGroup{MAC: r.mac(macName), ADI: r.u32(adiName)}
}

// rest returns everything not yet read (nil when nothing is left, so that
// re-encoding and reflect.DeepEqual agree for empty tails).
func (r *reader) rest() []byte {
	if r.err != nil || r.left() == 0 {
		return nil
	}
	b := r.b[r.off:len(r.b):len(r.b)]
	r.off = len(r.b)
	return b
}

// addresses reads a u16 count and that many 5-byte addresses.
func (r *reader) addresses(what string) []identity.Address {
	n := int(r.u16(what + " count"))
	raw := r.take(n*identity.AddressLength, what)
	if raw == nil || n == 0 {
		return nil
	}
	out := make([]identity.Address, n)
	for i := range out {
		out[i] = identity.AddressFromBytes(raw[i*identity.AddressLength:])
	}
	return out
}

func appendU16(b []byte, v uint16) []byte { return binary.BigEndian.AppendUint16(b, v) }
func appendU32(b []byte, v uint32) []byte { return binary.BigEndian.AppendUint32(b, v) }
func appendU64(b []byte, v uint64) []byte { return binary.BigEndian.AppendUint64(b, v) }

// appendAddresses writes a u16 count and the addresses (at most 65535).
func appendAddresses(b []byte, as []identity.Address) []byte {
	as = as[:min(len(as), 0xffff)]
	b = appendU16(b, uint16(len(as)))
	for _, a := range as {
		b = a.Append(b)
	}
	return b
}
