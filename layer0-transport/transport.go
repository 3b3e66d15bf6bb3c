// Package transport carries ZeroTier datagrams between machines: the
// physical links below VL1. Its interface is shaped like wireguard-go's
// conn.Bind — batched receive functions, one Send for a batch — so UDP with
// recvmmsg/sendmmsg, the in-memory internet of package memnet and a stream
// transport (TCP fallback) all fit behind it without a caller changing.
//
// This package imports no layer of ztgo (only internal/pagebuf): VL1 sits
// above it.
package transport

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// Endpoint is one end of a physical path: a remote UDP address and the
// local socket the datagram arrived on or must leave from. Socket numbers
// index the receive functions Open returned; AnySocket asks the transport
// to send from every socket it has, as ZeroTier sends HELLOs.
type Endpoint struct {
	Addr   netip.AddrPort
	Socket int
}

// AnySocket in Endpoint.Socket sends out of every local socket.
const AnySocket = -1

func (e Endpoint) String() string {
	return FormatAddrPort(e.Addr)
}

// FormatAddrPort writes an address the way ZeroTier prints paths: ip/port
// ("-" for none). It is the one formatter of the project; wire re-exports it.
func FormatAddrPort(ap netip.AddrPort) string {
	if !ap.IsValid() {
		return "-"
	}
	return ap.Addr().Unmap().String() + "/" + strconv.Itoa(int(ap.Port()))
}

// ParseAddrPort reads "ip/port" (ZeroTier's form) or "ip:port" / "[ip6]:port".
func ParseAddrPort(s string) (netip.AddrPort, error) {
	if i := strings.LastIndexByte(s, '/'); i > 0 {
		ip, err := netip.ParseAddr(s[:i])
		if err != nil {
			return netip.AddrPort{}, fmt.Errorf("address %q: %w", s, err)
		}
		port, err := strconv.ParseUint(s[i+1:], 10, 16)
		if err != nil {
			return netip.AddrPort{}, fmt.Errorf("address %q: bad port", s)
		}
		return netip.AddrPortFrom(ip.Unmap(), uint16(port)), nil
	}
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("address %q: want ip/port or ip:port", s)
	}
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), nil
}

// ParseEndpoint reads an endpoint as ParseAddrPort does (any socket 0).
func ParseEndpoint(s string) (Endpoint, error) {
	ap, err := ParseAddrPort(s)
	return Endpoint{Addr: ap}, err
}

// ReceiveFunc reads up to len(bufs) datagrams into bufs, setting sizes[i]
// and eps[i] for each, and returns how many it read. It blocks until at
// least one arrives or the transport is closed (then it returns ErrClosed).
// It may also return 0 and no error when its socket has been quiet for a
// while: it has given its own buffers' pages back, and the caller may do
// the same with the buffers it reads into.
type ReceiveFunc func(bufs [][]byte, sizes []int, eps []Endpoint) (n int, err error)

// Bind is a set of local sockets.
type Bind interface {
	// Open binds the sockets, the first on port (0 picks one), and returns
	// one receive function per socket and the port actually bound.
	Open(port uint16) (fns []ReceiveFunc, actualPort uint16, err error)
	// Close unblocks every receive function and releases the sockets.
	Close() error
	// Send writes each buffer as one datagram to ep.
	Send(bufs [][]byte, ep Endpoint) error
	// BatchSize is how many datagrams a receive function may return at once.
	BatchSize() int
}

// TTLSender is implemented by transports that can send a datagram with a
// limited IPv4 TTL. ZeroTier opens its own NAT mapping towards a peer with a
// short-lived probe that dies before the peer's NAT (vl1-peers.md §7.1).
type TTLSender interface {
	SendTTL(buf []byte, ep Endpoint, ttl int) error
}

// LocalAddrs is implemented by transports that know the addresses their
// sockets are bound to, for PUSH_DIRECT_PATHS.
type LocalAddrs interface {
	LocalAddrs() []netip.AddrPort
}

// Rebinder is implemented by binds that open sockets after Open, as
// interfaces come up (UDP bound per link). The caller starts a receiver
// for each function TakeReceivers returns whenever ReceiversAdded fires.
type Rebinder interface {
	ReceiversAdded() <-chan struct{}
	TakeReceivers() []ReceiveFunc
}

// SocketInfoer is implemented by binds that can say what a socket number
// stands for: its port, local address and interface.
type SocketInfoer interface {
	SocketInfo(socket int) (SocketInfo, bool)
}

// ErrClosed is returned by receive functions and Send after Close.
var ErrClosed = errors.New("transport closed")

// MaxDatagram is the largest datagram ZeroTier accepts (vl1.md §4.6).
const MaxDatagram = 10024
