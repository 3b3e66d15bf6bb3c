package transport

import (
	"errors"
	"net/netip"
	"sync/atomic"
)

// TCPBind is the TCP relay as a Bind, beside UDP: datagrams to any address
// travel inside one TCP connection to the relay (ZeroTier's TCP fallback).
// Open starts nothing; Connect(true) brings the tunnel up, and Send fails
// with ErrTunnelDown while it is down.
type TCPBind struct {
	tun       *TCPTunnel
	in        chan tunnelled
	inDropped atomic.Uint64
	closed    chan struct{}
}

type tunnelled struct {
	from netip.AddrPort
	data []byte
}

// ErrTunnelDown is returned by Send while no relay connection is up.
var ErrTunnelDown = errors.New("tcp relay not connected")

// NewTCPBind makes a bind that uses the relay at host:port; version is
// what the client hello announces.
func NewTCPBind(relay string, major, minor uint8, revision uint16) *TCPBind {
	b := &TCPBind{in: make(chan tunnelled, 256), closed: make(chan struct{})}
	b.tun = NewTCPTunnel(relay, major, minor, revision, func(from netip.AddrPort, data []byte) {
		select {
		case b.in <- tunnelled{from, append([]byte(nil), data...)}:
		default: // a full queue drops, as a socket buffer does
			b.inDropped.Add(1)
		}
	})
	return b
}

// Open returns the one receive function; the port is meaningless.
func (b *TCPBind) Open(uint16) ([]ReceiveFunc, uint16, error) {
	return []ReceiveFunc{func(bufs [][]byte, sizes []int, eps []Endpoint) (int, error) {
		select {
		case p := <-b.in:
			sizes[0] = copy(bufs[0], p.data)
			eps[0] = Endpoint{Addr: p.from}
			return 1, nil
		case <-b.closed:
			return 0, ErrClosed
		}
	}}, 0, nil
}

// Connect brings the relay connection up (true) or down (false).
func (b *TCPBind) Connect(on bool) { b.tun.Want(on) }

// Up reports whether the relay connection is up.
func (b *TCPBind) Up() bool { return b.tun.Up() }

// Send queues datagrams for ep's address in the tunnel and never waits for
// the relay (see TCPTunnel.Send).
func (b *TCPBind) Send(bufs [][]byte, ep Endpoint) error {
	if !b.tun.Send(bufs, ep.Addr) {
		return ErrTunnelDown
	}
	return nil
}

// TCPBindStats adds the receiving side's drops to the tunnel's counters.
type TCPBindStats struct {
	TunnelStats
	// ReceiveDropped counts datagrams from the relay dropped because the
	// receive function fell behind.
	ReceiveDropped uint64
}

// Stats returns the bind's counters, for the node to publish.
func (b *TCPBind) Stats() TCPBindStats {
	return TCPBindStats{TunnelStats: b.tun.Stats(), ReceiveDropped: b.inDropped.Load()}
}

// BatchSize is 1.
func (b *TCPBind) BatchSize() int { return 1 }

// Close stops the tunnel for good.
func (b *TCPBind) Close() error {
	select {
	case <-b.closed:
	default:
		close(b.closed)
	}
	b.tun.Close()
	return nil
}

var _ Bind = (*TCPBind)(nil)
