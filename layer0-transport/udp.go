package transport

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"

	"golang.org/x/net/ipv4"
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
	// DisableOffload keeps the kernel from segmenting sends (UDP GSO) and
	// coalescing receives (UDP GRO) on Linux, to measure the difference or
	// to dodge a misbehaving NIC driver. The environment variable
	// ZTGO_UDP_OFFLOAD=0 does the same without a rebuild.
	DisableOffload bool
	// Log receives the rare events worth a line (an offload turned off, a
	// socket bound to an interface); nil means slog.Default().
	Log *slog.Logger

	// Links binds a socket per interface address and port instead of the
	// wildcard (udp_links.go); the zero value keeps the wildcard.
	Links LinkOptions
}

// UDPBatchSize is how many datagrams one recvmmsg/sendmmsg call moves.
const UDPBatchSize = 64

const defaultSocketBuffer = 4 << 20

// offloadEnv turns UDP offloads off when set to 0, off or false.
const offloadEnv = "ZTGO_UDP_OFFLOAD"

// UDP is a Bind over real UDP sockets, IPv4 and IPv6, reading and writing in
// batches: on Linux with recvmmsg/sendmmsg of its own and UDP GSO/GRO where
// the kernel has them, elsewhere through golang.org/x/net's packet conns.
type UDP struct {
	opts    UDPOptions
	offload bool
	log     *slog.Logger
	stats   udpCounters

	mu      sync.RWMutex // Lock only while a socket's TTL is lowered or sockets change
	closed  bool
	ports   []uint16     // primary, secondary, tertiary as bound
	sockets []*udpSocket // index = Endpoint.Socket; nil once unbound
	idle    udpIdle      // gives back a quiet socket's buffers (Linux)
	links   linkState    // per-interface bindings (udp_links.go)
}

// udpSocket is one Endpoint.Socket: the wildcard pair of a port, or one
// interface address on one port (then only v4 or v6 is set).
type udpSocket struct {
	port   uint16
	v4     *udpConn // nil for an IPv6 interface address
	v6     *udpConn // nil without IPv6, or for an IPv4 interface address
	local  netip.Addr
	ifname string
}

// conns are the socket's one or two connections.
func (s *udpSocket) conns() []*udpConn {
	switch {
	case s.v4 == nil:
		return []*udpConn{s.v6}
	case s.v6 == nil:
		return []*udpConn{s.v4}
	}
	return []*udpConn{s.v4, s.v6}
}

func (s *udpSocket) close() {
	for _, c := range s.conns() {
		c.conn.Close()
	}
}

// udpConn is one bound socket of one address family.
type udpConn struct {
	conn *net.UDPConn
	v6   bool
	ttl  *ipv4.PacketConn // IPv4 sockets only: SendTTL lowers the TTL through it
	sys  udpSys           // the platform's batching and offload state
}

// UDPStats counts what the kernel offloads did, for comparing runs with
// and without them and for the node to publish.
type UDPStats struct {
	GSOMessages  uint64 // messages sent with UDP_SEGMENT (each several datagrams)
	GSODatagrams uint64 // datagrams inside them
	GSODisabled  uint64 // sockets that turned GSO off because the kernel refused it
	GROMessages  uint64 // received messages that coalesced several datagrams
	GRODatagrams uint64 // datagrams split out of them
	Oversized    uint64 // received datagrams dropped: larger than the caller's buffer
}

type udpCounters struct {
	gsoMessages, gsoDatagrams, gsoDisabled atomic.Uint64
	groMessages, groDatagrams, oversized   atomic.Uint64
}

// NewUDP returns an unopened UDP bind.
func NewUDP(opts UDPOptions) *UDP {
	if opts.SocketBuffer == 0 {
		opts.SocketBuffer = defaultSocketBuffer
	}
	u := &UDP{opts: opts, offload: !opts.DisableOffload && !offloadOffInEnv(), log: opts.Log}
	if u.log == nil {
		u.log = slog.Default()
	}
	return u
}

func offloadOffInEnv() bool {
	switch strings.ToLower(os.Getenv(offloadEnv)) {
	case "0", "off", "false", "no":
		return true
	}
	return false
}

// BatchSize implements Bind.
func (u *UDP) BatchSize() int { return UDPBatchSize }

// Stats returns the offload counters since NewUDP.
func (u *UDP) Stats() UDPStats {
	c := &u.stats
	return UDPStats{
		GSOMessages: c.gsoMessages.Load(), GSODatagrams: c.gsoDatagrams.Load(), GSODisabled: c.gsoDisabled.Load(),
		GROMessages: c.groMessages.Load(), GRODatagrams: c.groDatagrams.Load(), Oversized: c.oversized.Load(),
	}
}

// Offload reports whether the primary IPv4 socket currently sends with GSO
// and receives with GRO (false before Open and on other systems).
func (u *UDP) Offload() (gso, gro bool) {
	u.mu.RLock()
	defer u.mu.RUnlock()
	for _, s := range u.sockets {
		if s != nil && s.v4 != nil {
			return s.v4.offloads()
		}
	}
	return false, false
}

// Open binds the primary port (0 = random in 20000..65499 as 1.14.1 picks)
// and the optional secondary and tertiary ports: on the wildcard, or with
// Links on every usable interface address.
func (u *UDP) Open(port uint16) ([]ReceiveFunc, uint16, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.ports) > 0 {
		return nil, 0, errors.New("udp: already open")
	}
	u.closed = false
	primary, err := u.bindPort(port, 256, func() uint16 { return uint16(20000 + rand.IntN(45500)) })
	if err != nil {
		return nil, 0, err
	}
	u.addSocket(primary)
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
		u.addSocket(s)
	}
	if u.opts.Links.enabled() {
		// The wildcard sockets only proved the ports free; the interface
		// addresses are bound on them now.
		for _, s := range u.sockets {
			s.close()
		}
		u.sockets = nil
		u.refreshLinksLocked(wantedLinks(u.opts.Links, u.opts.IPv4Only))
		u.links.start(u)
	}
	if u.opts.Links.enabled() {
		fns := u.links.pending
		u.links.pending = nil
		return fns, u.ports[0], nil
	}
	var fns []ReceiveFunc
	for i, s := range u.sockets {
		for _, c := range s.conns() {
			fns = append(fns, c.receiver(u, i))
		}
	}
	return fns, u.ports[0], nil
}

func (u *UDP) addSocket(s *udpSocket) {
	u.ports = append(u.ports, s.port)
	u.sockets = append(u.sockets, s)
}

// bindPort binds port, or when port is 0 up to tries ports from pick.
func (u *UDP) bindPort(port uint16, tries int, pick func() uint16) (*udpSocket, error) {
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
	return nil, fmt.Errorf("udp: no free port after %d tries: %w", tries, last)
}

func (u *UDP) bindBoth(port uint16) (*udpSocket, error) {
	a4 := netip.AddrPortFrom(netip.IPv4Unspecified(), port)
	if u.opts.ListenAddr4.IsValid() {
		a4 = netip.AddrPortFrom(u.opts.ListenAddr4, port)
	}
	v4, err := u.listen("udp4", a4, "")
	if err != nil {
		return nil, err
	}
	s := &udpSocket{port: port, v4: v4, local: a4.Addr()}
	if !u.opts.IPv4Only {
		a6 := netip.AddrPortFrom(netip.IPv6Unspecified(), port)
		if u.opts.ListenAddr6.IsValid() {
			a6 = netip.AddrPortFrom(u.opts.ListenAddr6, port)
		}
		v6, err := u.listen("udp6", a6, "")
		if err == nil {
			s.v6 = v6
		} else if !isNoIPv6(err) {
			v4.conn.Close()
			return nil, err
		}
	}
	return s, nil
}

// listen binds a, tied to device ifname when not empty (where the system
// can; udp_device_*.go).
func (u *UDP) listen(network string, a netip.AddrPort, ifname string) (*udpConn, error) {
	lc := net.ListenConfig{}
	if ifname != "" {
		lc.Control = func(_, _ string, raw syscall.RawConn) error {
			if err := bindToDevice(raw, ifname); err != nil {
				u.deviceRefused(ifname, err)
			}
			return nil
		}
	}
	pc, err := lc.ListenPacket(context.Background(), network, a.String())
	if err != nil {
		return nil, fmt.Errorf("udp: bind %v: %w", a, err)
	}
	c := pc.(*net.UDPConn)
	// Best effort: the kernel caps these at net.core.[rw]mem_max.
	_ = c.SetReadBuffer(u.opts.SocketBuffer)
	_ = c.SetWriteBuffer(u.opts.SocketBuffer)
	uc := &udpConn{conn: c, v6: network == "udp6"}
	if !uc.v6 {
		uc.ttl = ipv4.NewPacketConn(c)
	}
	if err := uc.setup(u.offload); err != nil {
		c.Close()
		return nil, fmt.Errorf("udp: socket %v: %w", a, err)
	}
	return uc, nil
}

// isNoIPv6 tells a host without IPv6 (fine: run IPv4 only) from a port clash.
func isNoIPv6(err error) bool {
	s := err.Error()
	return strings.Contains(s, "address family not supported") || strings.Contains(s, "cannot assign requested address")
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

// Send implements Bind. AnySocket sends from every port.
func (u *UDP) Send(bufs [][]byte, ep Endpoint) error {
	u.mu.RLock()
	defer u.mu.RUnlock()
	if u.closed || len(u.ports) == 0 {
		return ErrClosed
	}
	if len(bufs) == 0 {
		return nil
	}
	// A mapped address leaves through the IPv4 socket: the IPv6 sockets are
	// v6-only, as Go binds them.
	to := netip.AddrPortFrom(ep.Addr.Addr().Unmap(), ep.Addr.Port())
	if ep.Socket == AnySocket {
		var first error
		sent := false
		for _, s := range u.sockets {
			if s == nil || s.conn(to) == nil {
				continue // unbound, or an interface address of the other family
			}
			err := u.sendOn(s, bufs, to)
			if err != nil && first == nil {
				first = err
			}
			sent = sent || err == nil
		}
		if !sent && first == nil {
			return errNoFamily(to)
		}
		return first
	}
	if ep.Socket < 0 || ep.Socket >= len(u.sockets) || u.sockets[ep.Socket] == nil {
		return fmt.Errorf("udp: no socket %d (its interface address is gone)", ep.Socket)
	}
	return u.sendOn(u.sockets[ep.Socket], bufs, to)
}

func errNoFamily(to netip.AddrPort) error {
	if to.Addr().Is4() {
		return errors.New("udp: no IPv4 socket")
	}
	return errors.New("udp: IPv6 is not available")
}

// conn is the connection that can reach to, or nil.
func (s *udpSocket) conn(to netip.AddrPort) *udpConn {
	if to.Addr().Is4() {
		return s.v4
	}
	return s.v6
}

func (u *UDP) sendOn(s *udpSocket, bufs [][]byte, to netip.AddrPort) error {
	c := s.conn(to)
	if c == nil {
		return errNoFamily(to)
	}
	if len(bufs) == 1 && !sendOneBatched {
		_, err := c.conn.WriteToUDPAddrPort(bufs[0], to)
		return err
	}
	return c.sendMany(u, bufs, to)
}

// SendTTL sends one IPv4 datagram with a lowered TTL (IPv6 is sent as is).
// The TTL is a socket option, so other sends wait meanwhile.
func (u *UDP) SendTTL(buf []byte, ep Endpoint, ttl int) error {
	to := netip.AddrPortFrom(ep.Addr.Addr().Unmap(), ep.Addr.Port())
	if !to.Addr().Is4() {
		return u.Send([][]byte{buf}, ep)
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.closed || len(u.ports) == 0 {
		return ErrClosed
	}
	var first error
	for i, s := range u.sockets {
		if s == nil || s.v4 == nil || (ep.Socket != AnySocket && ep.Socket != i) {
			continue
		}
		c := s.v4
		old, err := c.ttl.TTL()
		if err == nil {
			err = c.ttl.SetTTL(ttl)
		}
		if err == nil {
			_, err = c.conn.WriteToUDPAddrPort(buf, to)
			_ = c.ttl.SetTTL(old)
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
	return slices.Clone(u.ports)
}

// LocalAddrs lists the usable interface addresses with each bound port:
// the candidates a node advertises in PUSH_DIRECT_PATHS. Loopback,
// link-local and virtual-network interfaces are left out as 1.14.1 does.
func (u *UDP) LocalAddrs() []netip.AddrPort {
	if u.opts.Links.enabled() {
		return u.boundAddrs()
	}
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
	u.idle.stop()
	u.links.stop()
	for _, s := range u.sockets {
		if s != nil {
			s.close()
		}
	}
	u.sockets, u.ports = nil, nil
}
