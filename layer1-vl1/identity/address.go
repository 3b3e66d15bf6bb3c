package identity

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
)

// AddressLength is the size of an address on the wire.
const AddressLength = 5

// reservedPrefix is the most significant byte no node address may have; it
// marks fragments on the wire (vl1.md §2).
const reservedPrefix = 0xff

// Address is a 40-bit ZeroTier node address.
type Address uint64

// ErrReservedAddress is returned for the all-zero address and addresses that
// start with 0xff.
var ErrReservedAddress = errors.New("reserved ZeroTier address")

// AddressFromBytes reads a big-endian address from the first 5 bytes of b.
func AddressFromBytes(b []byte) Address {
	_ = b[4]
	return Address(uint64(b[0])<<32 | uint64(binary.BigEndian.Uint32(b[1:5])))
}

// Put writes a as 5 big-endian bytes into b.
func (a Address) Put(b []byte) {
	_ = b[4]
	b[0] = byte(a >> 32)
	binary.BigEndian.PutUint32(b[1:5], uint32(a))
}

// Append appends a's 5 bytes to b.
func (a Address) Append(b []byte) []byte {
	return append(b, byte(a>>32), byte(a>>24), byte(a>>16), byte(a>>8), byte(a))
}

// IsReserved reports whether a can never be a node's address.
func (a Address) IsReserved() bool {
	return a == 0 || a>>32 == reservedPrefix
}

// String is the 10-digit lowercase hex form.
func (a Address) String() string {
	var buf [10]byte
	const digits = "0123456789abcdef"
	for i := 9; i >= 0; i-- {
		buf[i] = digits[a&0xf]
		a >>= 4
	}
	return string(buf[:])
}

// MarshalText implements encoding.TextMarshaler.
func (a Address) MarshalText() ([]byte, error) { return []byte(a.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (a *Address) UnmarshalText(b []byte) error {
	v, err := ParseAddress(string(b))
	if err != nil {
		return err
	}
	*a = v
	return nil
}

// ParseAddress parses exactly 10 hex digits and refuses reserved addresses.
func ParseAddress(s string) (Address, error) {
	if len(s) != 10 {
		return 0, fmt.Errorf("address %q: want 10 hex digits, got %d characters", s, len(s))
	}
	v, err := strconv.ParseUint(s, 16, 64)
	if err != nil {
		return 0, fmt.Errorf("address %q: not hexadecimal", s)
	}
	a := Address(v)
	if a.IsReserved() {
		return 0, fmt.Errorf("address %s: %w", s, ErrReservedAddress)
	}
	return a, nil
}
