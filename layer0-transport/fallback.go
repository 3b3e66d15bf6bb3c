package transport

import (
	"cmp"
	"errors"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// Fallback is ZeroTier's TCP fallback as one Bind (vl1-peers.md §11): UDP,
// plus a TCPBind to a relay once no UDP has been heard for a while. UDP
// sending goes on regardless, so the bind returns to UDP, and closes the
// relay connection, as soon as UDP is heard again. Unlike 1.14.1 it tunnels
// whole packets, fragments included, to any address.
//
// Open opens the UDP sockets and, when a relay is configured, a TCPBind
// whose receive function comes last: what arrives through the relay carries
// Endpoint.Socket == len(udp.Ports()) (TunnelSocket), and sending to that
// socket goes through the relay only.
type Fallback struct {
	udp   *UDP
	relay string // host:port to dial; "" = fallback disabled
	opts  FallbackOptions

	mu      sync.Mutex // serializes Open and Close
	cur     atomic.Pointer[fallbackConn]
	lastUDP atomic.Int64 // unix nanoseconds, by opts.Now, of the last UDP heard
	bytes   struct{ udpRx, udpTx, tcpRx, tcpTx atomic.Uint64 }
}

// ByteCounts are the datagram bytes a Fallback moved, per protocol.
type ByteCounts struct {
	// UDP counts the datagrams received, and sent without error.
	UDPReceived, UDPSent uint64
	// TCP counts the datagrams from and to the relay, without the relay's
	// framing.
	TCPReceived, TCPSent uint64
}

// Bytes returns the byte counters since NewFallback.
func (b *Fallback) Bytes() ByteCounts {
	return ByteCounts{
		UDPReceived: b.bytes.udpRx.Load(), UDPSent: b.bytes.udpTx.Load(),
		TCPReceived: b.bytes.tcpRx.Load(), TCPSent: b.bytes.tcpTx.Load(),
	}
}

// count adds the sizes of n datagrams to c, with one atomic add.
func count(c *atomic.Uint64, sizes []int, n int) {
	var sum int
	for _, s := range sizes[:n] {
		sum += s
	}
	if sum > 0 {
		c.Add(uint64(sum))
	}
}

// countBufs adds the lengths of bufs to c, with one atomic add.
func countBufs(c *atomic.Uint64, bufs [][]byte) {
	var sum int
	for _, b := range bufs {
		sum += len(b)
	}
	c.Add(uint64(sum))
}

// fallbackConn is what one Open made.
type fallbackConn struct {
	tcp       *TCPBind // nil: fallback disabled
	tunSocket int
	start     time.Time
}

// FallbackOptions configure a Fallback.
type FallbackOptions struct {
	// Relay is the relay's address, ip/port or ip:port; "" disables the
	// fallback and the bind is plain UDP.
	Relay string
	// After is how long without UDP (and after Open) before packets also
	// go through the relay; 0 = 60 s.
	After time.Duration
	// Force sends through the relay only, never UDP (forceTcpRelay); it
	// needs a Relay.
	Force bool
	// Major, Minor and Revision are the version the relay hello announces;
	// all zero = 1.14.1.
	Major, Minor uint8
	Revision     uint16
	// Now is the clock the silence is measured on; nil = time.Now.
	Now func() time.Time
}

// DefaultFallbackAfter is how long a Fallback waits for UDP before using
// the relay when FallbackOptions.After is 0.
const DefaultFallbackAfter = 60 * time.Second

// NewFallback makes a bind over udp (not yet opened) that falls back to the
// relay in opts. An unparsable relay address is an error.
func NewFallback(udp *UDP, opts FallbackOptions) (*Fallback, error) {
	b := &Fallback{udp: udp, opts: opts}
	b.opts.After = cmp.Or(opts.After, DefaultFallbackAfter)
	if b.opts.Now == nil {
		b.opts.Now = time.Now
	}
	if opts.Major == 0 && opts.Minor == 0 && opts.Revision == 0 {
		b.opts.Major, b.opts.Minor, b.opts.Revision = 1, 14, 1
	}
	if opts.Relay != "" {
		ap, err := ParseAddrPort(opts.Relay)
		if err != nil {
			return nil, err
		}
		b.relay = ap.String()
	}
	b.opts.Force = opts.Force && b.relay != ""
	return b, nil
}

// Open opens the UDP sockets, the first on port, and the relay bind (which
// connects only when needed). It returns the UDP receive functions, which
// note when UDP is heard, then the relay's.
func (b *Fallback) Open(port uint16) ([]ReceiveFunc, uint16, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cur.Load() != nil {
		return nil, 0, errors.New("fallback: already open")
	}
	fns, bound, err := b.udp.Open(port)
	if err != nil {
		return nil, 0, err
	}
	fc := &fallbackConn{tunSocket: len(b.udp.Ports()), start: b.opts.Now()}
	if b.udp.opts.Links.enabled() {
		fc.tunSocket = linkTunnelSocket
	}
	b.lastUDP.Store(0)
	out := make([]ReceiveFunc, 0, len(fns)+1)
	for _, fn := range fns {
		out = append(out, b.wrapUDP(fn))
	}
	if b.relay != "" {
		fc.tcp = NewTCPBind(b.relay, b.opts.Major, b.opts.Minor, b.opts.Revision)
		tfns, _, _ := fc.tcp.Open(0) // never fails
		recv, tunSocket := tfns[0], fc.tunSocket
		out = append(out, func(bufs [][]byte, sizes []int, eps []Endpoint) (int, error) {
			n, err := recv(bufs, sizes, eps)
			count(&b.bytes.tcpRx, sizes, n)
			for i := range n {
				eps[i].Socket = tunSocket
			}
			return n, err
		})
	}
	b.cur.Store(fc)
	return out, bound, nil
}

// linkTunnelSocket numbers the relay's paths when UDP is bound per link:
// above any UDP socket, whose numbers grow as interfaces come and go.
// Otherwise the relay is the socket after the last port.
const linkTunnelSocket = 1 << 20

// wrapUDP counts a UDP receive function's bytes and notes when UDP is
// heard.
func (b *Fallback) wrapUDP(fn ReceiveFunc) ReceiveFunc {
	return func(bufs [][]byte, sizes []int, eps []Endpoint) (int, error) {
		n, err := fn(bufs, sizes, eps)
		count(&b.bytes.udpRx, sizes, n)
		for i := range n {
			if sizes[i] >= 16 {
				b.lastUDP.Store(b.opts.Now().UnixNano())
				break
			}
		}
		return n, err
	}
}

// ReceiversAdded implements Rebinder with UDP's sockets bound after Open.
func (b *Fallback) ReceiversAdded() <-chan struct{} { return b.udp.ReceiversAdded() }

// TakeReceivers implements Rebinder.
func (b *Fallback) TakeReceivers() []ReceiveFunc {
	fns := b.udp.TakeReceivers()
	for i, fn := range fns {
		fns[i] = b.wrapUDP(fn)
	}
	return fns
}

// SocketInfo implements SocketInfoer for the UDP sockets.
func (b *Fallback) SocketInfo(socket int) (SocketInfo, bool) { return b.udp.SocketInfo(socket) }

// Close closes the relay bind and the UDP sockets, unblocking every
// receive function.
func (b *Fallback) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if fc := b.cur.Swap(nil); fc != nil && fc.tcp != nil {
		fc.tcp.Close()
	}
	return b.udp.Close()
}

// active decides whether to use the relay now, connecting or
// disconnecting it: on after the silence, off once UDP was heard within
// half of it.
func (b *Fallback) active(fc *fallbackConn) bool {
	if fc.tcp == nil {
		return false
	}
	now := b.opts.Now()
	sinceUDP := now.Sub(time.Unix(0, b.lastUDP.Load()))
	silent := sinceUDP > b.opts.After && now.Sub(fc.start) > b.opts.After
	switch {
	case b.opts.Force || silent:
		fc.tcp.Connect(true)
	case sinceUDP < b.opts.After/2:
		fc.tcp.Connect(false)
	}
	return (b.opts.Force || silent) && fc.tcp.Up()
}

// Send sends through UDP (unless forced to the relay) and, while UDP is
// silent and the relay is up, through the relay as well. Sending to
// TunnelSocket goes through the relay only. Errors are UDP's.
func (b *Fallback) Send(bufs [][]byte, ep Endpoint) error {
	fc := b.cur.Load()
	if fc == nil {
		return b.udp.Send(bufs, ep) // ErrClosed
	}
	if ep.Socket == fc.tunSocket && fc.tcp != nil {
		err := fc.tcp.Send(bufs, ep)
		if err == nil {
			countBufs(&b.bytes.tcpTx, bufs)
		}
		return err
	}
	var err error
	if !b.opts.Force {
		if err = b.udp.Send(bufs, ep); err == nil {
			countBufs(&b.bytes.udpTx, bufs)
		}
	}
	if b.active(fc) && fc.tcp.Send(bufs, ep) == nil {
		countBufs(&b.bytes.tcpTx, bufs)
	}
	return err
}

// SendTTL implements TTLSender through UDP; it sends nothing when forced
// to the relay or asked to send to TunnelSocket (a relay has no TTL).
func (b *Fallback) SendTTL(buf []byte, ep Endpoint, ttl int) error {
	if fc := b.cur.Load(); fc != nil && (b.opts.Force || ep.Socket == fc.tunSocket) {
		return nil
	}
	err := b.udp.SendTTL(buf, ep, ttl)
	if err == nil {
		b.bytes.udpTx.Add(uint64(len(buf)))
	}
	return err
}

// TunnelSocket is the Endpoint.Socket of paths through the relay, or -2
// when closed or no relay is configured.
func (b *Fallback) TunnelSocket() int {
	if fc := b.cur.Load(); fc != nil && fc.tcp != nil {
		return fc.tunSocket
	}
	return -2
}

// Tunneled reports whether the relay connection is up (ztgo info's
// TUNNELED, /status tcpFallbackActive).
func (b *Fallback) Tunneled() bool {
	fc := b.cur.Load()
	return fc != nil && fc.tcp != nil && fc.tcp.Up()
}

// RelayStats returns the relay bind's counters since Open, and false when
// no relay is configured or the bind is closed.
func (b *Fallback) RelayStats() (TCPBindStats, bool) {
	fc := b.cur.Load()
	if fc == nil || fc.tcp == nil {
		return TCPBindStats{}, false
	}
	return fc.tcp.Stats(), true
}

// LocalAddrs implements LocalAddrs with the UDP sockets' addresses.
func (b *Fallback) LocalAddrs() []netip.AddrPort { return b.udp.LocalAddrs() }

// BatchSize is UDP's; the relay's receive function returns one at a time.
func (b *Fallback) BatchSize() int { return b.udp.BatchSize() }

var (
	_ Bind         = (*Fallback)(nil)
	_ TTLSender    = (*Fallback)(nil)
	_ LocalAddrs   = (*Fallback)(nil)
	_ Rebinder     = (*Fallback)(nil)
	_ SocketInfoer = (*Fallback)(nil)
	_ Rebinder     = (*UDP)(nil)
	_ SocketInfoer = (*UDP)(nil)
)
