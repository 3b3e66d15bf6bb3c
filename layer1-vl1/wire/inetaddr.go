package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
)

// ErrInetAddress is wrapped by InetAddress decoding failures.
var ErrInetAddress = errors.New("bad InetAddress")

// InetAddress type bytes (vl1.md §6.1).
const (
	inetNil      = 0x00
	inetEthernet = 0x01 // reserved, skipped
	inetBT       = 0x02 // reserved, skipped
	inetOther    = 0x03 // reserved, length-prefixed, skipped
	inetIPv4     = 0x04
	inetIPv6     = 0x06
)

// AppendInetAddress appends the serialized form of ap: type 4 or 6 with the
// address and big-endian port, or a single 0 for an invalid (nil) address.
// IPv4-mapped IPv6 addresses are written as IPv4, as 1.14.1 stores them.
func AppendInetAddress(b []byte, ap netip.AddrPort) []byte {
	addr := ap.Addr().Unmap()
	switch {
	case addr.Is4():
		a := addr.As4()
		b = append(b, inetIPv4)
		b = append(b, a[:]...)
	case addr.Is6():
		a := addr.As16()
		b = append(b, inetIPv6)
		b = append(b, a[:]...)
	default:
		return append(b, inetNil)
	}
	return binary.BigEndian.AppendUint16(b, ap.Port())
}

// ReadInetAddress decodes an InetAddress at the start of b and returns it and
// its length. Nil and the reserved types decode as the zero AddrPort.
func ReadInetAddress(b []byte) (netip.AddrPort, int, error) {
	if len(b) < 1 {
		return netip.AddrPort{}, 0, fmt.Errorf("%w: empty", ErrInetAddress)
	}
	need := func(n int) error {
		if len(b) < n {
			return fmt.Errorf("%w: type %d needs %d bytes, have %d", ErrInetAddress, b[0], n, len(b))
		}
		return nil
	}
	switch b[0] {
	case inetNil:
		return netip.AddrPort{}, 1, nil
	case inetIPv4:
		if err := need(7); err != nil {
			return netip.AddrPort{}, 0, err
		}
		ip := netip.AddrFrom4([4]byte(b[1:5]))
		return netip.AddrPortFrom(ip, binary.BigEndian.Uint16(b[5:7])), 7, nil
	case inetIPv6:
		if err := need(19); err != nil {
			return netip.AddrPort{}, 0, err
		}
		ip := netip.AddrFrom16([16]byte(b[1:17]))
		return netip.AddrPortFrom(ip, binary.BigEndian.Uint16(b[17:19])), 19, nil
	case inetEthernet, inetBT:
		if err := need(7); err != nil {
			return netip.AddrPort{}, 0, err
		}
		return netip.AddrPort{}, 7, nil
	case inetOther:
		if err := need(3); err != nil {
			return netip.AddrPort{}, 0, err
		}
		n := 3 + int(binary.BigEndian.Uint16(b[1:3]))
		if err := need(n); err != nil {
			return netip.AddrPort{}, 0, err
		}
		return netip.AddrPort{}, n, nil
	}
	return netip.AddrPort{}, 0, fmt.Errorf("%w: unknown type %d", ErrInetAddress, b[0])
}
