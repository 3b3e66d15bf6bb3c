package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"

	"github.com/ztgo/ztgo/layer1-vl1/identity"
)

// ErrMalformed is wrapped by every verb decoding failure.
var ErrMalformed = errors.New("malformed payload")

// reader walks a payload; the first short read records an error and makes
// every later read return zero values, so decoders check once at the end.
type reader struct {
	b    []byte
	off  int
	err  error
	verb Verb
}

func (r *reader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: %v: %s", ErrMalformed, r.verb, fmt.Sprintf(format, args...))
	}
}

func (r *reader) left() int { return len(r.b) - r.off }

func (r *reader) take(n int, what string) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || r.left() < n {
		r.fail("%s truncated (%d of %d bytes at offset %d)", what, max(r.left(), 0), n, r.off)
		return nil
	}
	b := r.b[r.off : r.off+n]
	r.off += n
	return b
}

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

func (r *reader) rest() []byte {
	if r.err != nil {
		return nil
	}
	b := r.b[r.off:]
	r.off = len(r.b)
	return b
}

func (r *reader) identity(what string) *identity.Identity {
	if r.err != nil {
		return nil
	}
	id, n, err := identity.PublicFromBinary(r.b[r.off:])
	if err != nil {
		r.fail("%s: %v", what, err)
		return nil
	}
	r.off += n
	return id
}

func (r *reader) inetAddress(what string) netip.AddrPort {
	if r.err != nil {
		return netip.AddrPort{}
	}
	ap, n, err := ReadInetAddress(r.b[r.off:])
	if err != nil {
		r.fail("%s: %v", what, err)
		return netip.AddrPort{}
	}
	r.off += n
	return ap
}
