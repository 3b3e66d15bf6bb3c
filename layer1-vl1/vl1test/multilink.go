package vl1test

import (
	"fmt"
	"net/netip"
	"sync/atomic"
	"time"

	transport "github.com/ztgo/ztgo/layer0-transport"
	"github.com/ztgo/ztgo/layer0-transport/memnet"
)

// Several links per node, for multipath bonding: link 0 is the node's
// ordinary public address (it reaches the roots); link k > 0 is a network
// of its own, 172.(16+k).0.0/16, that reaches only the other nodes' link
// k. Each link is a memnet host and a socket of the node's bind, so the
// engine sees one path per link to a peer with the same links, as a host
// with two NICs bound per interface does.

// LinkLatency is each link's one-way latency by default.
const LinkLatency = 5 * time.Millisecond

// AddMultiLink starts a public node with links links (at least 1), link k
// with one-way latency latency[k] (LinkLatency where not given).
func (h *Harness) AddMultiLink(name string, links int, latency ...time.Duration) *Node {
	h.TB.Helper()
	idx := len(h.Nodes)
	if idx >= len(h.ids) {
		h.TB.Fatalf("harness has only %d identities", len(h.ids))
	}
	b := &Bind{}
	for k := range links {
		l := LinkLatency
		if k < len(latency) {
			l = latency[k]
		}
		ip := h.publicIP()
		if k > 0 {
			ip = netip.AddrFrom4([4]byte{172, byte(16 + k), byte(idx >> 8), byte(idx)})
		}
		host, err := h.Net.AddHost(ip, memnet.Link{Latency: l})
		if err != nil {
			h.TB.Fatal(err)
		}
		b.links = append(b.links, host)
		b.down = append(b.down, new(atomic.Bool))
		b.gone = append(b.gone, new(atomic.Bool))
	}
	b.Host = b.links[0]
	return h.startBind(name, h.ids[idx], b, nil, false)
}

// LinkEndpoints are the node's address on each link.
func (n *Node) LinkEndpoints() []netip.AddrPort {
	if n.Bind.links == nil {
		return []netip.AddrPort{n.Endpoint()}
	}
	var out []netip.AddrPort
	for _, l := range n.Bind.links {
		out = append(out, netip.AddrPortFrom(l.IP(), n.Port))
	}
	return out
}

// SetLinkDown cuts link k (nothing sent or received on it) or restores it,
// as unplugging a cable would.
func (n *Node) SetLinkDown(k int, down bool) { n.Bind.down[k].Store(down) }

// RemoveLink takes link k away as an interface that disappears does: the
// link is cut and the bind no longer knows its socket (SocketInfo), as a
// node's UDP closes the socket of an interface whose address is gone.
func (n *Node) RemoveLink(k int) {
	n.Bind.down[k].Store(true)
	n.Bind.gone[k].Store(true)
}

// SocketInfo implements transport.SocketInfoer: every socket of the bind
// has no interface name (the engine names its link socketN), and a link
// taken away by RemoveLink has no socket any more.
func (b *Bind) SocketInfo(socket int) (transport.SocketInfo, bool) {
	if b.links == nil {
		return transport.SocketInfo{Local: b.Host.IP()}, true
	}
	if socket < 0 || socket >= len(b.links) || b.gone[socket].Load() {
		return transport.SocketInfo{}, false
	}
	return transport.SocketInfo{Local: b.links[socket].IP()}, true
}

// linkOf is the link an address is on: k for 172.(16+k).0.0/16, else 0.
func linkOf(a netip.Addr) int {
	if a4 := a.Unmap(); a4.Is4() {
		b := a4.As4()
		if b[0] == 172 && b[1] > 16 && b[1] < 32 {
			return int(b[1] - 16)
		}
	}
	return 0
}

// open binds the node's socket on every link, all on port.
func (b *Bind) open(port uint16) (uint16, error) {
	if b.links == nil {
		_, p, err := b.Host.Open(port)
		return p, err
	}
	for k, l := range b.links {
		if _, p, err := l.Open(port); err != nil || p != port {
			return 0, fmt.Errorf("link %d: port %d: %v", k, p, err)
		}
	}
	return port, nil
}

// setHandler delivers what arrives on each link as arriving on that
// link's socket, unless the link is down.
func (b *Bind) setHandler(fn memnet.Handler) {
	if b.links == nil {
		b.Host.SetHandler(fn)
		return
	}
	for k, l := range b.links {
		down := b.down[k]
		l.SetHandler(func(ep transport.Endpoint, data []byte) {
			if down.Load() {
				return
			}
			ep.Socket = k
			fn(ep, data)
		})
	}
}

func (b *Bind) closeLinks() {
	if b.links == nil {
		b.Host.Close()
		return
	}
	for _, l := range b.links {
		l.Close()
	}
}

// sendLinks sends out of socket ep.Socket's link (every link for
// AnySocket), only to addresses on that link.
func (b *Bind) sendLinks(bufs [][]byte, ep transport.Endpoint) error {
	for k, l := range b.links {
		if (ep.Socket != transport.AnySocket && ep.Socket != k) || b.down[k].Load() || linkOf(ep.Addr.Addr()) != k {
			continue
		}
		if err := l.Send(bufs, transport.Endpoint{Addr: ep.Addr}); err != nil {
			return err
		}
	}
	return nil
}
