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

// fallbackBind is the node's transport: UDP, plus the TCP tunnel when no
// UDP has been heard for a while (vl1-peers.md §11). UDP sending goes on
// regardless, so the node returns to UDP as soon as it works; unlike
// 1.14.1 it tunnels whole packets, fragments included, to any address.
type fallbackBind struct {
	udp       *transport.UDP
	tun       *transport.TCPTunnel // nil: fallback disabled
	force     bool
	after     time.Duration
	start     time.Time
	lastUDP   atomic.Int64
	tunSocket int
	tunCh     chan tunnelled
	closed    chan struct{}
}

type tunnelled struct {
	from netip.AddrPort
	data []byte
}

func newFallbackBind(udp *transport.UDP, relay string, force bool, after time.Duration) *fallbackBind {
	b := &fallbackBind{udp: udp, force: force, after: after, start: time.Now(), tunSocket: len(udp.Ports()),
		tunCh: make(chan tunnelled, 256), closed: make(chan struct{})}
	if relay != "" {
		if ep, err := transport.ParseEndpoint(relay); err == nil {
			b.tun = transport.NewTCPTunnel(ep.Addr.String(), 1, 14, 1, func(from netip.AddrPort, data []byte) {
				select {
				case b.tunCh <- tunnelled{from, append([]byte(nil), data...)}:
				default:
				}
			})
		}
	}
	return b
}

// wrap stamps UDP arrivals and adds the tunnel's receive function.
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
	if b.tun == nil {
		return out
	}
	return append(out, func(bufs [][]byte, sizes []int, eps []transport.Endpoint) (int, error) {
		select {
		case p := <-b.tunCh:
			sizes[0] = copy(bufs[0], p.data)
			eps[0] = transport.Endpoint{Addr: p.from, Socket: b.tunSocket}
			return 1, nil
		case <-b.closed:
			return 0, transport.ErrClosed
		}
	})
}

// active decides whether to use the tunnel now, opening or closing it.
func (b *fallbackBind) active() bool {
	if b.tun == nil {
		return false
	}
	now := time.Now()
	silent := now.Sub(time.Unix(0, b.lastUDP.Load())) > b.after && now.Sub(b.start) > b.after
	switch {
	case b.force || silent:
		b.tun.Want(true)
	case now.Sub(time.Unix(0, b.lastUDP.Load())) < b.after/2:
		b.tun.Want(false)
	}
	return (b.force || silent) && b.tun.Up()
}

// Tunneled reports whether the TCP tunnel is carrying traffic.
func (b *fallbackBind) Tunneled() bool { return b.tun != nil && b.tun.Up() }

func (b *fallbackBind) Open(uint16) ([]transport.ReceiveFunc, uint16, error) {
	panic("fallbackBind is opened through its UDP bind")
}

func (b *fallbackBind) Send(bufs [][]byte, ep transport.Endpoint) error {
	if ep.Socket == b.tunSocket && b.tun != nil {
		if !b.tun.Send(bufs, ep.Addr) {
			return transport.ErrClosed
		}
		return nil
	}
	var err error
	if !b.force {
		err = b.udp.Send(bufs, ep)
	}
	if b.active() {
		b.tun.Send(bufs, ep.Addr)
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
	select {
	case <-b.closed:
	default:
		close(b.closed)
	}
	if b.tun != nil {
		b.tun.Close()
	}
	return b.udp.Close()
}
