package transport

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"strings"
	"sync"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// UDPOptions choose the sockets a UDP bind opens (vl1-peers.md §10).
type UDPOptions struct {
	// SecondaryPort opens a second port, random in 20000..65535 unless
	// SecondaryPortNumber is set: some NATs misbehave when several hosts
	// behind them use the same inside port.
	SecondaryPort       bool
	SecondaryPortNumber uint16
	// TertiaryPort opens a third port, the one 1.14.1 maps on the gateway
	// with UPnP/NAT-PMP (portMappingEnabled).
	TertiaryPort       bool
	TertiaryPortNumber uint16
	// IPv4Only skips the IPv6 sockets (hosts with IPv6 disabled).
	IPv4Only bool
	// ListenAddr4/6 restrict the sockets to one local address; unset means
	// every address.
	ListenAddr4, ListenAddr6 netip.Addr
	// SocketBuffer is the kernel buffer size asked for each socket.
	SocketBuffer int
}

// UDPBatchSize is how many datagrams one recvmmsg/sendmmsg call moves.
const UDPBatchSize = 64

const defaultSocketBuffer = 4 << 20

// UDP is a Bind over real UDP sockets, IPv4 and IPv6, reading and writing in
// batches through golang.org/x/net's ipv4/ipv6 packet connections.
type UDP struct {
	opts UDPOptions

	mu      sync.RWMutex // Lock only while a socket's TTL is lowered
	closed  bool
	sockets []udpSocket // index = Endpoint.Socket
}

type udpSocket struct {
	port uint16
	c4   *net.UDPConn
	p4   *ipv4.PacketConn
	c6   *net.UDPConn
	p6   *ipv6.PacketConn
}

// NewUDP returns an unopened UDP bind.
func NewUDP(opts UDPOptions) *UDP {
	if opts.SocketBuffer == 0 {
		opts.SocketBuffer = defaultSocketBuffer
	}
	return &UDP{opts: opts}
}

// BatchSize implements Bind.
func (u *UDP) BatchSize() int { return UDPBatchSize }

// Open binds the primary port (0 = random in 20000..65499 as 1.14.1 picks)
// and the optional secondary and tertiary ports.
func (u *UDP) Open(port uint16) ([]ReceiveFunc, uint16, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.sockets) > 0 {
		return nil, 0, errors.New("udp: already open")
	}
	u.closed = false
	primary, err := u.bindPort(port, 256, func() uint16 { return uint16(20000 + rand.IntN(45500)) })
	if err != nil {
		return nil, 0, err
	}
	u.sockets = append(u.sockets, primary)
	extra := []struct {
		on   bool
		port uint16
	}{{u.opts.SecondaryPort, u.opts.SecondaryPortNumber}, {u.opts.TertiaryPort, u.opts.TertiaryPortNumber}}
	for _, e := range extra {
		if !e.on {
			continue
		}
		next := uint16(20000 + rand.IntN(45500))
		s, err := u.bindPort(e.port, 1000, func() uint16 {
			next++
			if next < 20000 {
				next = 20000
			}
			return next
		})
		if err != nil {
			u.closeLocked()
			return nil, 0, err
		}
		u.sockets = append(u.sockets, s)
	}
	var fns []ReceiveFunc
	for i := range u.sockets {
		s := &u.sockets[i]
		fns = append(fns, u.receiver(s.p4, i))
		if s.p6 != nil {
			fns = append(fns, u.receiver(s.p6, i))
		}
	}
	return fns, primary.port, nil
}

// bindPort binds port, or when port is 0 up to tries ports from pick.
func (u *UDP) bindPort(port uint16, tries int, pick func() uint16) (udpSocket, error) {
	if port != 0 {
		return u.bindBoth(port)
	}
	var last error
	for range tries {
		s, err := u.bindBoth(pick())
		if err == nil {
			return s, nil
		}
		last = err
	}
	return udpSocket{}, fmt.Errorf("udp: no free port after %d tries: %w", tries, last)
}

func (u *UDP) bindBoth(port uint16) (udpSocket, error) {
	a4 := netip.AddrPortFrom(netip.IPv4Unspecified(), port)
	if u.opts.ListenAddr4.IsValid() {
		a4 = netip.AddrPortFrom(u.opts.ListenAddr4, port)
	}
	c4, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(a4))
	if err != nil {
		return udpSocket{}, fmt.Errorf("udp: bind %v: %w", a4, err)
	}
	s := udpSocket{port: port, c4: c4, p4: ipv4.NewPacketConn(c4)}
	u.tune(c4)
	if !u.opts.IPv4Only {
		a6 := netip.AddrPortFrom(netip.IPv6Unspecified(), port)
		if u.opts.ListenAddr6.IsValid() {
			a6 = netip.AddrPortFrom(u.opts.ListenAddr6, port)
		}
		c6, err := net.ListenUDP("udp6", net.UDPAddrFromAddrPort(a6))
		if err == nil {
			s.c6, s.p6 = c6, ipv6.NewPacketConn(c6)
			u.tune(c6)
		} else if !isNoIPv6(err) {
			c4.Close()
			return udpSocket{}, fmt.Errorf("udp: bind %v: %w", a6, err)
		}
	}
	return s, nil
}

// isNoIPv6 tells a host without IPv6 (fine: run IPv4 only) from a port clash.
func isNoIPv6(err error) bool {
	s := err.Error()
	return strings.Contains(s, "address family not supported") || strings.Contains(s, "cannot assign requested address")
}

func (u *UDP) tune(c *net.UDPConn) {
	// Best effort: the kernel caps these at net.core.[rw]mem_max.
	_ = c.SetReadBuffer(u.opts.SocketBuffer)
	_ = c.SetWriteBuffer(u.opts.SocketBuffer)
}

// batchReader is ipv4.PacketConn or ipv6.PacketConn: both read
// socket.Message batches (ipv4.Message and ipv6.Message are one type).
type batchReader interface {
	ReadBatch(ms []ipv4.Message, flags int) (int, error)
}

func (u *UDP) receiver(p batchReader, socket int) ReceiveFunc {
	msgs := make([]ipv4.Message, UDPBatchSize)
	for i := range msgs {
		msgs[i].Buffers = make([][]byte, 1)
	}
	return func(bufs [][]byte, sizes []int, eps []Endpoint) (int, error) {
		n := min(len(bufs), len(msgs))
		for i := range n {
			msgs[i].Buffers[0] = bufs[i]
		}
		got, err := p.ReadBatch(msgs[:n], 0)
		if err != nil {
			return 0, u.readErr(err)
		}
		for i := range got {
			sizes[i] = msgs[i].N
			eps[i] = Endpoint{Addr: udpAddrPort(msgs[i].Addr), Socket: socket}
		}
		return got, nil
	}
}

func (u *UDP) readErr(err error) error {
	u.mu.RLock()
	closed := u.closed
	u.mu.RUnlock()
	if closed || errors.Is(err, net.ErrClosed) {
		return ErrClosed
	}
	return err
}

func udpAddrPort(a net.Addr) netip.AddrPort {
	if ua, ok := a.(*net.UDPAddr); ok {
		ap := ua.AddrPort()
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	}
	return netip.AddrPort{}
}

// Send implements Bind. AnySocket sends from every port.
func (u *UDP) Send(bufs [][]byte, ep Endpoint) error {
	u.mu.RLock()
	defer u.mu.RUnlock()
	if u.closed || len(u.sockets) == 0 {
		return ErrClosed
	}
	if ep.Socket == AnySocket {
		var first error
		for i := range u.sockets {
			if err := u.sendOn(&u.sockets[i], bufs, ep.Addr); err != nil && first == nil {
				first = err
			}
		}
		return first
	}
	if ep.Socket < 0 || ep.Socket >= len(u.sockets) {
		return fmt.Errorf("udp: no socket %d", ep.Socket)
	}
	return u.sendOn(&u.sockets[ep.Socket], bufs, ep.Addr)
}

// batchWriter is ipv4.PacketConn or ipv6.PacketConn (one Message type).
type batchWriter interface {
	WriteBatch(ms []ipv4.Message, flags int) (int, error)
}

// sendBatch is reusable storage for one sendmmsg call, so that sending a
// fragmented packet allocates nothing.
type sendBatch struct {
	msgs  []ipv4.Message
	slots [][1][]byte
	addr  net.UDPAddr
	ip    [16]byte
}

var sendBatches = sync.Pool{New: func() any { return new(sendBatch) }}

func (u *UDP) sendOn(s *udpSocket, bufs [][]byte, to netip.AddrPort) error {
	var c *net.UDPConn
	var w batchWriter
	if to.Addr().Is4() {
		c, w = s.c4, s.p4
	} else if s.c6 != nil {
		c, w = s.c6, s.p6
	} else {
		return errors.New("udp: IPv6 is not available")
	}
	if len(bufs) == 1 {
		_, err := c.WriteToUDPAddrPort(bufs[0], to)
		return err
	}
	b := sendBatches.Get().(*sendBatch)
	defer sendBatches.Put(b)
	ip := to.Addr().AsSlice()
	b.addr = net.UDPAddr{IP: b.ip[:copy(b.ip[:], ip)], Port: int(to.Port())}
	for len(b.slots) < len(bufs) {
		b.slots = append(b.slots, [1][]byte{})
	}
	b.msgs = b.msgs[:0]
	for i, buf := range bufs {
		b.slots[i][0] = buf
		b.msgs = append(b.msgs, ipv4.Message{Buffers: b.slots[i][:], Addr: &b.addr})
	}
	defer clear(b.slots[:len(bufs)])
	for done := 0; done < len(b.msgs); {
		k, err := w.WriteBatch(b.msgs[done:], 0)
		if err != nil {
			return err
		}
		done += k
	}
	return nil
}

// SendTTL sends one IPv4 datagram with a lowered TTL (IPv6 is sent as is).
// The TTL is a socket option, so other sends wait meanwhile.
func (u *UDP) SendTTL(buf []byte, ep Endpoint, ttl int) error {
	if !ep.Addr.Addr().Is4() {
		return u.Send([][]byte{buf}, ep)
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.closed || len(u.sockets) == 0 {
		return ErrClosed
	}
	var first error
	for i := range u.sockets {
		if ep.Socket != AnySocket && ep.Socket != i {
			continue
		}
		s := &u.sockets[i]
		old, err := s.p4.TTL()
		if err == nil {
			err = s.p4.SetTTL(ttl)
		}
		if err == nil {
			_, err = s.c4.WriteToUDPAddrPort(buf, ep.Addr)
			_ = s.p4.SetTTL(old)
		}
		if err != nil && first == nil {
			first = err
		}
	}
	return first
}

// Ports returns the bound ports, primary first.
func (u *UDP) Ports() []uint16 {
	u.mu.RLock()
	defer u.mu.RUnlock()
	var ps []uint16
	for _, s := range u.sockets {
		ps = append(ps, s.port)
	}
	return ps
}

// LocalAddrs lists the usable interface addresses with each bound port:
// the candidates a node advertises in PUSH_DIRECT_PATHS. Loopback,
// link-local and virtual-network interfaces are left out as 1.14.1 does.
func (u *UDP) LocalAddrs() []netip.AddrPort {
	ports := u.Ports()
	ifs, err := net.Interfaces()
	if err != nil {
		return nil
	}
	var out []netip.AddrPort
	for _, ifc := range ifs {
		if ifc.Flags&net.FlagUp == 0 || ifc.Flags&net.FlagLoopback != 0 || virtualInterface(ifc.Name) {
			continue
		}
		addrs, _ := ifc.Addrs()
		for _, a := range addrs {
			pfx, err := netip.ParsePrefix(a.String())
			if err != nil {
				continue
			}
			ip := pfx.Addr().Unmap()
			if ip.IsLoopback() || ip.IsLinkLocalUnicast() || ip.IsMulticast() || ip.IsUnspecified() {
				continue
			}
			if ip.Is6() && u.opts.IPv4Only {
				continue
			}
			for _, p := range ports {
				out = append(out, netip.AddrPortFrom(ip, p))
			}
		}
	}
	return out
}

func virtualInterface(name string) bool {
	for _, p := range []string{"zt", "tun", "tap", "feth", "utun"} {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// Close implements Bind.
func (u *UDP) Close() error {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.closeLocked()
	return nil
}

func (u *UDP) closeLocked() {
	u.closed = true
	for _, s := range u.sockets {
		s.c4.Close()
		if s.c6 != nil {
			s.c6.Close()
		}
	}
	u.sockets = nil
}
