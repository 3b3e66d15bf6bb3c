package transport

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"sync"
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

// ReadRecord reads one record's message; like 1.14.1 it ignores the first
// three header bytes and trusts only the length.
func ReadRecord(r *bufio.Reader, buf []byte) ([]byte, error) {
	var h [recordHeader]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return nil, err
	}
	n := int(binary.BigEndian.Uint16(h[3:5]))
	if n > len(buf) {
		buf = make([]byte, n)
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
// reconnects with backoff while it is wanted.
type TCPTunnel struct {
	relay   string
	version [4]byte // major, minor, revision (u16)
	deliver func(from netip.AddrPort, data []byte)

	mu      sync.Mutex
	conn    net.Conn
	w       *bufio.Writer
	wanted  bool
	backoff time.Duration
	closed  bool
	stop    chan struct{}
	wg      sync.WaitGroup
}

// NewTCPTunnel makes a tunnel to relay (host:port); deliver gets every
// datagram that comes back.
func NewTCPTunnel(relay string, major, minor uint8, revision uint16, deliver func(from netip.AddrPort, data []byte)) *TCPTunnel {
	t := &TCPTunnel{relay: relay, deliver: deliver, stop: make(chan struct{})}
	t.version[0], t.version[1] = major, minor
	binary.BigEndian.PutUint16(t.version[2:], revision)
	return t
}

// Up reports whether the tunnel is connected.
func (t *TCPTunnel) Up() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.conn != nil
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
		t.wg.Add(1)
		go t.loop()
		return
	}
	if t.conn != nil {
		t.conn.Close()
	}
}

// loop keeps a connection up while wanted, with exponential backoff.
func (t *TCPTunnel) loop() {
	defer t.wg.Done()
	for {
		t.mu.Lock()
		if !t.wanted || t.closed {
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

func (t *TCPTunnel) serve(c net.Conn) {
	w := bufio.NewWriter(c)
	w.Write(AppendRecord(nil, t.version[:]))
	if w.Flush() != nil {
		c.Close()
		return
	}
	t.mu.Lock()
	if !t.wanted || t.closed {
		t.mu.Unlock()
		c.Close()
		return
	}
	t.conn, t.w = c, w
	t.mu.Unlock()
	r := bufio.NewReaderSize(c, 1<<17)
	buf := make([]byte, maxRecord)
	for {
		m, err := ReadRecord(r, buf)
		if err != nil {
			break
		}
		if len(m) == relayHelloLen {
			continue
		}
		from, data, err := ParseAddressed(m)
		if err != nil {
			break // unknown types close the connection, as 1.14.1 does
		}
		if from.IsValid() && len(data) > 0 {
			t.deliver(from, data)
		}
	}
	t.mu.Lock()
	if t.conn == c {
		t.conn, t.w = nil, nil
	}
	t.mu.Unlock()
	c.Close()
}

// Send writes datagrams for to into the tunnel; it reports false when the
// tunnel is down.
func (t *TCPTunnel) Send(bufs [][]byte, to netip.AddrPort) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.w == nil {
		return false
	}
	for _, b := range bufs {
		msg := AppendAddressed(nil, to, b)
		t.w.Write(AppendRecord(nil, msg))
	}
	if t.w.Flush() != nil {
		t.conn.Close()
		return false
	}
	return true
}

// Close stops the tunnel for good.
func (t *TCPTunnel) Close() {
	t.mu.Lock()
	if !t.closed {
		close(t.stop)
	}
	t.closed, t.wanted = true, false
	if t.conn != nil {
		t.conn.Close()
	}
	t.mu.Unlock()
	t.wg.Wait()
}
