package transport

import (
	"bufio"
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// ZeroTier's TCP relay framing (vl1-peers.md §11.2): every message is a
// fake TLS 1.2 application-data record, 17 03 03 <u16 length> <message>.
const (
	recordHeader  = 5
	maxRecord     = 1 << 16
	relayHelloLen = 4
)

// AppendRecord frames msg as a relay record.
func AppendRecord(b, msg []byte) []byte {
	b = append(b, 0x17, 0x03, 0x03)
	b = binary.BigEndian.AppendUint16(b, uint16(len(msg)))
	return append(b, msg...)
}

// ErrRecordTooLong is ReadRecord's answer to a record its buffer cannot hold.
var ErrRecordTooLong = errors.New("relay record longer than the buffer")

// ReadRecord reads one record's message into buf; like 1.14.1 it ignores
// the first three header bytes and trusts only the length. It never
// allocates: a record longer than buf (impossible with a buffer of
// maxRecord, as the relay's readers use) is an error, and the peer that
// sent it is dropped.
func ReadRecord(r *bufio.Reader, buf []byte) ([]byte, error) {
	var h [recordHeader]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return nil, err
	}
	n := int(binary.BigEndian.Uint16(h[3:5]))
	if n > len(buf) {
		return nil, fmt.Errorf("%w (%d bytes in %d)", ErrRecordTooLong, n, len(buf))
	}
	if _, err := io.ReadFull(r, buf[:n]); err != nil {
		return nil, err
	}
	return buf[:n], nil
}

// AppendAddressed appends an addressed datagram message: 04 ip4 port data,
// or 06 ip6 port data.
func AppendAddressed(b []byte, ap netip.AddrPort, data []byte) []byte {
	ip := ap.Addr().Unmap()
	if ip.Is4() {
		a := ip.As4()
		b = append(b, 0x04)
		b = append(b, a[:]...)
	} else {
		a := ip.As16()
		b = append(b, 0x06)
		b = append(b, a[:]...)
	}
	b = binary.BigEndian.AppendUint16(b, ap.Port())
	return append(b, data...)
}

// ParseAddressed splits an addressed message. Type 0 (no address) gives an
// invalid address; unknown types and truncation are errors.
func ParseAddressed(m []byte) (netip.AddrPort, []byte, error) {
	if len(m) == 0 {
		return netip.AddrPort{}, nil, errors.New("empty relay message")
	}
	switch m[0] {
	case 0x00:
		return netip.AddrPort{}, m[1:], nil
	case 0x04:
		if len(m) < 7 {
			return netip.AddrPort{}, nil, errors.New("truncated IPv4 relay message")
		}
		return netip.AddrPortFrom(netip.AddrFrom4([4]byte(m[1:5])), binary.BigEndian.Uint16(m[5:7])), m[7:], nil
	case 0x06:
		if len(m) < 19 {
			return netip.AddrPort{}, nil, errors.New("truncated IPv6 relay message")
		}
		return netip.AddrPortFrom(netip.AddrFrom16([16]byte(m[1:17])), binary.BigEndian.Uint16(m[17:19])), m[19:], nil
	}
	return netip.AddrPort{}, nil, fmt.Errorf("relay message type %#x", m[0])
}

// TCPTunnel is the client side of ZeroTier's TCP fallback: one connection
// to a relay that carries datagrams to and from any UDP address. It
// reconnects with backoff while it is wanted. Send never waits on the
// relay: datagrams go into the connection's bounded queue (relayqueue.go).
type TCPTunnel struct {
	relay   string
	version [4]byte // major, minor, revision (u16)
	deliver func(from netip.AddrPort, data []byte)

	// QueueLen bounds the datagrams waiting for the relay (0 = 256);
	// WriteTimeout is how long the relay may take to accept queued
	// datagrams before the connection is dropped and made again (0 = 10 s).
	// Set them before the first Want.
	QueueLen     int
	WriteTimeout time.Duration

	counters relayCounters
	oversize atomic.Uint64
	connects atomic.Uint64

	mu      sync.Mutex
	cur     *tunnelConn // nil while down
	wanted  bool
	running bool // a loop goroutine is running
	backoff time.Duration
	closed  bool
	stop    chan struct{}
	wg      sync.WaitGroup
}

// tunnelConn is one relay connection and the queue its writer drains.
type tunnelConn struct {
	c     net.Conn
	queue chan *relayRecord
}

// TunnelStats counts the datagrams a tunnel was given, for the node to
// publish. Every datagram passed to Send is counted exactly once in Sent,
// DroppedFull, DroppedDown or DroppedOversize, once it has left the queue.
type TunnelStats struct {
	Sent            uint64 // written to a relay connection
	DroppedFull     uint64 // the queue was full: the relay is slower than the traffic
	DroppedDown     uint64 // no connection was up, or it failed before writing them
	DroppedOversize uint64 // too long to frame as one relay record
	WriteTimeouts   uint64 // connections dropped because the relay stopped reading
	Connects        uint64 // connections made
}

// NewTCPTunnel makes a tunnel to relay (host:port); deliver gets every
// datagram that comes back.
func NewTCPTunnel(relay string, major, minor uint8, revision uint16, deliver func(from netip.AddrPort, data []byte)) *TCPTunnel {
	t := &TCPTunnel{relay: relay, deliver: deliver, stop: make(chan struct{})}
	t.version[0], t.version[1] = major, minor
	binary.BigEndian.PutUint16(t.version[2:], revision)
	return t
}

// Stats returns the tunnel's counters since NewTCPTunnel.
func (t *TCPTunnel) Stats() TunnelStats {
	return TunnelStats{
		Sent:            t.counters.sent.Load(),
		DroppedFull:     t.counters.droppedFull.Load(),
		DroppedDown:     t.counters.droppedDown.Load(),
		DroppedOversize: t.oversize.Load(),
		WriteTimeouts:   t.counters.writeTimeouts.Load(),
		Connects:        t.connects.Load(),
	}
}

// Up reports whether the tunnel is connected.
func (t *TCPTunnel) Up() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.cur != nil
}

// Want opens (true) or closes (false) the tunnel.
func (t *TCPTunnel) Want(on bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed || t.wanted == on {
		return
	}
	t.wanted = on
	if on {
		if !t.running { // a loop still waiting out its backoff carries on
			t.running = true
			t.wg.Add(1)
			go t.loop()
		}
		return
	}
	if t.cur != nil {
		t.cur.c.Close()
	}
}

// loop keeps a connection up while wanted, with exponential backoff.
func (t *TCPTunnel) loop() {
	defer t.wg.Done()
	for {
		t.mu.Lock()
		if !t.wanted || t.closed {
			t.running = false
			t.mu.Unlock()
			return
		}
		t.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		c, err := (&net.Dialer{}).DialContext(ctx, "tcp", t.relay)
		cancel()
		if err == nil {
			t.serve(c)
		}
		t.mu.Lock()
		if err == nil {
			t.backoff = 0
		}
		t.backoff = min(max(2*t.backoff, 500*time.Millisecond), 30*time.Second)
		wait := t.backoff
		t.mu.Unlock()
		select {
		case <-time.After(wait):
		case <-t.stop:
			return
		}
	}
}

// serve runs one connection: its writer goroutine drains the queue, this
// goroutine reads, and either failing ends both.
func (t *TCPTunnel) serve(c net.Conn) {
	defer c.Close()
	timeout := cmp.Or(t.WriteTimeout, defaultRelayWriteTimeout)
	c.SetWriteDeadline(time.Now().Add(timeout))
	if _, err := c.Write(AppendRecord(nil, t.version[:])); err != nil {
		return
	}
	tc := &tunnelConn{c: c, queue: make(chan *relayRecord, cmp.Or(t.QueueLen, defaultRelayQueue))}
	t.mu.Lock()
	if !t.wanted || t.closed {
		t.mu.Unlock()
		return
	}
	t.cur = tc
	t.mu.Unlock()
	t.connects.Add(1)

	stop, written := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(written)
		if writeRecords(c, tc.queue, stop, timeout, &t.counters) != nil {
			c.Close() // ends the read below
		}
	}()
	t.read(c)
	t.mu.Lock()
	t.cur = nil // from here on Send cannot reach tc.queue
	t.mu.Unlock()
	close(stop)
	<-written
	t.counters.discard(tc.queue)
}

// read delivers what the relay sends until the connection fails.
func (t *TCPTunnel) read(c net.Conn) {
	r := bufio.NewReaderSize(c, 1<<17)
	buf := make([]byte, maxRecord)
	for {
		m, err := ReadRecord(r, buf)
		if err != nil {
			return
		}
		if len(m) == relayHelloLen {
			continue
		}
		from, data, err := ParseAddressed(m)
		if err != nil {
			return // unknown types close the connection, as 1.14.1 does
		}
		if from.IsValid() && len(data) > 0 {
			t.deliver(from, data)
		}
	}
}

// Send queues datagrams for to and returns at once; it reports false when
// the tunnel is down. Datagrams the queue has no room for are dropped and
// counted.
func (t *TCPTunnel) Send(bufs [][]byte, to netip.AddrPort) bool {
	for i, b := range bufs {
		r := addressedRecord(to, b)
		if r == nil {
			t.oversize.Add(1)
			continue
		}
		if !t.enqueue(r) {
			t.counters.droppedDown.Add(uint64(len(bufs) - i))
			return false
		}
	}
	return true
}

// enqueue hands r to the live connection's queue (which may drop it) or
// reports false when there is none. The lock is never held across I/O.
func (t *TCPTunnel) enqueue(r *relayRecord) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.cur == nil {
		r.release()
		return false
	}
	t.counters.enqueue(t.cur.queue, r)
	return true
}

// Close stops the tunnel for good.
func (t *TCPTunnel) Close() {
	t.mu.Lock()
	if !t.closed {
		close(t.stop)
	}
	t.closed, t.wanted = true, false
	if t.cur != nil {
		t.cur.c.Close()
	}
	t.mu.Unlock()
	t.wg.Wait()
}
