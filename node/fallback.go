package node

import (
	"net/netip"
	"sync/atomic"
	"time"

	transport "github.com/ztgo/ztgo/layer0-transport"
)

// defaultTCPRelay is ZeroTier, Inc.'s relay (vl1-peers.md §11.1); ztgo uses
// it only with the public planet — a private deployment names its own.
const defaultTCPRelay = "204.80.128.1/443"

// fallbackBind is the node's transport: UDP, plus the TCP relay bind when
// no UDP has been heard for a while (vl1-peers.md §11). UDP sending goes on
// regardless, so the node returns to UDP as soon as it works; unlike
// 1.14.1 it tunnels whole packets, fragments included, to any address.
type fallbackBind struct {
	udp       *transport.UDP
	tcp       *transport.TCPBind // nil: fallback disabled
	tcpRecv   transport.ReceiveFunc
	force     bool
	after     time.Duration
	start     time.Time
	lastUDP   atomic.Int64
	tunSocket int // the Endpoint.Socket of paths through the relay
}

func newFallbackBind(udp *transport.UDP, relay string, force bool, after time.Duration) *fallbackBind {
	b := &fallbackBind{udp: udp, force: force, after: after, start: time.Now(), tunSocket: len(udp.Ports())}
	if relay != "" {
		if ep, err := transport.ParseEndpoint(relay); err == nil {
			b.tcp = transport.NewTCPBind(ep.Addr.String(), 1, 14, 1)
			fns, _, _ := b.tcp.Open(0)
			b.tcpRecv = fns[0]
		}
	}
	return b
}

// wrap stamps UDP arrivals and adds the relay's receive function.
func (b *fallbackBind) wrap(fns []transport.ReceiveFunc) []transport.ReceiveFunc {
	var out []transport.ReceiveFunc
	for _, fn := range fns {
		out = append(out, func(bufs [][]byte, sizes []int, eps []transport.Endpoint) (int, error) {
			n, err := fn(bufs, sizes, eps)
			for i := range n {
				if sizes[i] >= 16 {
					b.lastUDP.Store(time.Now().UnixNano())
					break
				}
			}
			return n, err
		})
	}
	if b.tcp == nil {
		return out
	}
	return append(out, func(bufs [][]byte, sizes []int, eps []transport.Endpoint) (int, error) {
		n, err := b.tcpRecv(bufs, sizes, eps)
		for i := range n {
			eps[i].Socket = b.tunSocket
		}
		return n, err
	})
}

// active decides whether to use the relay now, connecting or
// disconnecting it.
func (b *fallbackBind) active() bool {
	if b.tcp == nil {
		return false
	}
	now := time.Now()
	sinceUDP := now.Sub(time.Unix(0, b.lastUDP.Load()))
	silent := sinceUDP > b.after && now.Sub(b.start) > b.after
	switch {
	case b.force || silent:
		b.tcp.Connect(true)
	case sinceUDP < b.after/2:
		b.tcp.Connect(false)
	}
	return (b.force || silent) && b.tcp.Up()
}

// Tunneled reports whether the relay is carrying traffic.
func (b *fallbackBind) Tunneled() bool { return b.tcp != nil && b.tcp.Up() }

func (b *fallbackBind) Open(uint16) ([]transport.ReceiveFunc, uint16, error) {
	panic("fallbackBind is opened through its UDP bind")
}

func (b *fallbackBind) Send(bufs [][]byte, ep transport.Endpoint) error {
	if ep.Socket == b.tunSocket && b.tcp != nil {
		return b.tcp.Send(bufs, ep)
	}
	var err error
	if !b.force {
		err = b.udp.Send(bufs, ep)
	}
	if b.active() {
		_ = b.tcp.Send(bufs, ep)
	}
	return err
}

func (b *fallbackBind) SendTTL(buf []byte, ep transport.Endpoint, ttl int) error {
	if b.force || ep.Socket == b.tunSocket {
		return nil
	}
	return b.udp.SendTTL(buf, ep, ttl)
}

func (b *fallbackBind) LocalAddrs() []netip.AddrPort { return b.udp.LocalAddrs() }
func (b *fallbackBind) BatchSize() int               { return b.udp.BatchSize() }

func (b *fallbackBind) Close() error {
	if b.tcp != nil {
		b.tcp.Close()
	}
	return b.udp.Close()
}
