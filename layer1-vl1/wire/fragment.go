package wire

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/ztgo/ztgo/layer1-vl1/identity"
)

// Fragment is one non-head piece of a fragmented packet (vl1.md §5.1):
// packet ID, destination, 0xff, total‖number, hops, then the chunk.
type Fragment []byte

// Fragment errors.
var (
	ErrShortFragment = errors.New("fragment shorter than its 16-byte header")
	ErrBadFragment   = errors.New("fragment numbering out of range")
)

// ParseFragment checks a fragment datagram's header.
func ParseFragment(b []byte) (Fragment, error) {
	if len(b) <= MinFragmentLength {
		return nil, ErrShortFragment
	}
	if b[13] != 0xff {
		return nil, fmt.Errorf("%w: byte 13 is %#02x, not the 0xff indicator", ErrBadFragment, b[13])
	}
	f := Fragment(b)
	if n, t := f.Number(), f.Total(); n < 1 || n >= MaxPacketFragments || t < 2 || t > MaxPacketFragments || n >= t {
		return nil, fmt.Errorf("%w: fragment %d of %d", ErrBadFragment, n, t)
	}
	return f, nil
}

// PacketID is the ID of the packet this fragment belongs to.
func (f Fragment) PacketID() uint64 { return binary.BigEndian.Uint64(f[0:]) }

// Destination is the receiving node's address.
func (f Fragment) Destination() identity.Address { return identity.AddressFromBytes(f[8:]) }

// Total is the number of pieces, the head included.
func (f Fragment) Total() int { return int(f[14] >> 4) }

// Number is this fragment's position, 1 for the first after the head.
func (f Fragment) Number() int { return int(f[14] & 0x0f) }

// Hops is the fragment's own hop counter (relays raise it).
func (f Fragment) Hops() int { return int(f[15] & flagHopsMask) }

// SetHops sets the hop counter.
func (f Fragment) SetHops(h int) { f[15] = f[15]&^flagHopsMask | byte(h)&flagHopsMask }

// Payload is the chunk of the packet this fragment carries.
func (f Fragment) Payload() []byte { return f[FragmentHeaderLength:] }

// FragmentCount is how many datagrams a packet of length n takes at mtu.
func FragmentCount(n, mtu int) int {
	if n <= mtu {
		return 1
	}
	chunk := mtu - FragmentHeaderLength
	return 1 + (n-mtu+chunk-1)/chunk
}

// NeedsFragmenting reports whether a packet of length n must be fragmented
// at mtu. Senders set FlagFragmented before armoring when it does.
func NeedsFragmenting(n, mtu int) bool { return n > mtu }

// AppendFragment appends datagram number (1..total-1) of the armored packet p
// split at mtu. The head, number 0, is simply p[:mtu].
func AppendFragment(dst []byte, p Packet, mtu, number int) []byte {
	total := FragmentCount(len(p), mtu)
	chunk := mtu - FragmentHeaderLength
	start := mtu + (number-1)*chunk
	end := min(start+chunk, len(p))
	dst = append(dst, p[:13]...)
	dst = append(dst, 0xff, byte(total<<4|number), 0)
	return append(dst, p[start:end]...)
}

// Split returns the datagrams of p at mtu: the head (sharing p's storage)
// and newly allocated fragments. Senders on the data path use AppendFragment
// with pooled buffers instead.
func Split(p Packet, mtu int) [][]byte {
	total := FragmentCount(len(p), mtu)
	out := make([][]byte, 0, total)
	out = append(out, p[:min(len(p), mtu)])
	for i := 1; i < total; i++ {
		out = append(out, AppendFragment(nil, p, mtu, i))
	}
	return out
}
