// Package netstack is a userspace network device: a gVisor TCP/IP stack on
// an Ethernet link whose frames go to and from a ZeroTier network. Programs
// Dial and Listen on the virtual network with no root and no tap.
//
// It is event-driven: a frame the stack sends wakes the reader at once
// (gVisor's channel endpoint notifies on write), and frames from the
// network are injected directly — no polling loop, so it adds no latency of
// its own. It satisfies vl2.FrameDevice with plain types and imports no
// ztgo layer.
package netstack

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"

	"gvisor.dev/gvisor/pkg/buffer"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/link/channel"
	"gvisor.dev/gvisor/pkg/tcpip/link/ethernet"
	"gvisor.dev/gvisor/pkg/tcpip/network/arp"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv6"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/tcpip/transport/icmp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/udp"

	"github.com/ztgo/ztgo/drivers/internal/chanread"
)

const nicID = 1

// ErrClosed is returned after Close.
var ErrClosed = errors.New("netstack: closed")

// Device is one userspace stack attached to one network.
type Device struct {
	name  string
	mtu   int
	stack *stack.Stack
	ep    *channel.Endpoint

	out       chan []byte
	closed    chan struct{}
	closeOnce sync.Once

	mu    sync.Mutex
	addrs []netip.Prefix
}

// New makes a stack whose interface has the given MAC and MTU.
func New(name string, mac [6]byte, mtu int) (*Device, error) {
	s := stack.New(stack.Options{
		NetworkProtocols:   []stack.NetworkProtocolFactory{ipv4.NewProtocol, ipv6.NewProtocol, arp.NewProtocol},
		TransportProtocols: []stack.TransportProtocolFactory{tcp.NewProtocol, udp.NewProtocol, icmp.NewProtocol4, icmp.NewProtocol6},
		HandleLocal:        true,
	})
	ep := channel.New(1024, uint32(mtu), tcpip.LinkAddress(mac[:]))
	d := &Device{name: name, mtu: mtu, stack: s, ep: ep, out: make(chan []byte, 1024), closed: make(chan struct{})}
	if err := s.CreateNIC(nicID, ethernet.New(ep)); err != nil {
		return nil, fmt.Errorf("netstack: %v", err)
	}
	ep.AddNotify(d)
	return d, nil
}

// WriteNotify is called by gVisor when the stack sent frames.
func (d *Device) WriteNotify() {
	for {
		pkt := d.ep.Read()
		if pkt == nil {
			return
		}
		v := pkt.ToView()
		frame := append([]byte(nil), v.AsSlice()...)
		v.Release()
		pkt.DecRef()
		select {
		case d.out <- frame:
		case <-d.closed:
			return
		default: // a full queue drops, as a NIC ring does
		}
	}
}

// Name implements the frame device interface.
func (d *Device) Name() string { return d.name }

// MTU implements the frame device interface.
func (d *Device) MTU() int { return d.mtu }

// BatchSize implements the frame device interface.
func (d *Device) BatchSize() int { return 32 }

// Read returns frames the stack sent.
func (d *Device) Read(bufs [][]byte, sizes []int, offset int) (int, error) {
	return chanread.Read(d.out, d.closed, ErrClosed, bufs, sizes, offset)
}

// Write hands frames from the network to the stack.
func (d *Device) Write(bufs [][]byte, offset int) (int, error) {
	select {
	case <-d.closed:
		return 0, ErrClosed
	default:
	}
	for _, b := range bufs {
		pkt := stack.NewPacketBuffer(stack.PacketBufferOptions{Payload: buffer.MakeWithData(append([]byte(nil), b[offset:]...))})
		d.ep.InjectInbound(0, pkt)
		pkt.DecRef()
	}
	return len(bufs), nil
}

// Configure sets the interface's addresses and routes (replacing the old).
func (d *Device) Configure(up bool, addrs, routes []netip.Prefix) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, p := range d.addrs {
		_ = d.stack.RemoveAddress(nicID, tcpip.AddrFromSlice(p.Addr().AsSlice()))
	}
	d.addrs = nil
	if !up {
		addrs, routes = nil, nil
	}
	var table []tcpip.Route
	for _, p := range addrs {
		proto := ipv4.ProtocolNumber
		if p.Addr().Is6() {
			proto = ipv6.ProtocolNumber
		}
		pa := tcpip.ProtocolAddress{Protocol: proto, AddressWithPrefix: tcpip.AddressWithPrefix{Address: tcpip.AddrFromSlice(p.Addr().AsSlice()), PrefixLen: p.Bits()}}
		if err := d.stack.AddProtocolAddress(nicID, pa, stack.AddressProperties{}); err == nil {
			d.addrs = append(d.addrs, p)
		}
		routes = append(routes, p.Masked())
	}
	for _, r := range routes {
		sub, err := tcpip.NewSubnet(tcpip.AddrFromSlice(r.Masked().Addr().AsSlice()), tcpip.MaskFromBytes(net.CIDRMask(r.Bits(), r.Addr().BitLen())))
		if err == nil {
			table = append(table, tcpip.Route{Destination: sub, NIC: nicID})
		}
	}
	d.stack.SetRouteTable(table)
}

// Addresses are the interface's current addresses.
func (d *Device) Addresses() []netip.Prefix {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]netip.Prefix(nil), d.addrs...)
}

func fullAddr(ap netip.AddrPort) (tcpip.FullAddress, tcpip.NetworkProtocolNumber) {
	proto := ipv4.ProtocolNumber
	if ap.Addr().Is6() {
		proto = ipv6.ProtocolNumber
	}
	return tcpip.FullAddress{NIC: nicID, Addr: tcpip.AddrFromSlice(ap.Addr().AsSlice()), Port: ap.Port()}, proto
}

// DialTCP opens a TCP connection on the virtual network.
func (d *Device) DialTCP(ctx context.Context, to netip.AddrPort) (net.Conn, error) {
	fa, proto := fullAddr(to)
	return gonet.DialContextTCP(ctx, d.stack, fa, proto)
}

// ListenTCP listens on the virtual network.
func (d *Device) ListenTCP(port uint16) (net.Listener, error) {
	fa, proto := fullAddr(netip.AddrPortFrom(netip.IPv4Unspecified(), port))
	fa.Addr = tcpip.Address{}
	return gonet.ListenTCP(d.stack, fa, proto)
}

// Close stops the stack.
func (d *Device) Close() error {
	d.closeOnce.Do(func() {
		close(d.closed)
		d.ep.Close()
		d.stack.Close()
	})
	return nil
}
