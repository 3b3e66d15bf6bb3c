package vl2wire

import (
	"encoding/binary"
	"errors"

	"github.com/ztgo/ztgo/layer1-vl1/identity"
	"github.com/ztgo/ztgo/layer1-vl1/wire"
)

// ErrMalformed is wrapped by every decoding failure. It is the same sentinel
// as wire.ErrMalformed, so one errors.Is check covers VL1 and VL2.
var ErrMalformed = wire.ErrMalformed

// ErrNotVL2 is returned by Parse, ParseOKBody and ParseErrorBody for verbs
// and error codes that have no VL2 layout.
var ErrNotVL2 = errors.New("not a VL2 verb or body")

// reader is wire's Reader with VL2's records: MACs, multicast groups and
// address lists.
type reader struct{ wire.Reader }

func newReader(b []byte, ctx string) *reader { return &reader{wire.NewReader(b, ctx)} }

func (r *reader) mac(what string) MAC {
	if b := r.Take(MACLength, what); b != nil {
		return MACFromBytes(b)
	}
	return 0
}

// group reads MAC(6) ADI(4); the names are separate so the data path does
// not build strings.
func (r *reader) group(macName, adiName string) MulticastGroup {
	return MulticastGroup{MAC: r.mac(macName), ADI: r.U32(adiName)}
}

// addresses reads a u16 count and that many 5-byte addresses.
func (r *reader) addresses(what string) []identity.Address {
	n := int(r.U16(what + " count"))
	raw := r.Take(n*identity.AddressLength, what)
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
