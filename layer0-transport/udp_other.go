//go:build !linux

package transport

import (
	"net"
	"net/netip"
	"sync"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// Outside Linux there are no UDP offloads: batches go through x/net's packet
// conns, which use recvmmsg/sendmmsg where the system has them and read or
// write one datagram at a time elsewhere.
type udpSys struct {
	batch batchConn
}

// batchConn is ipv4.PacketConn or ipv6.PacketConn: both move socket.Message
// batches (ipv4.Message and ipv6.Message are one type).
type batchConn interface {
	ReadBatch(ms []ipv4.Message, flags int) (int, error)
	WriteBatch(ms []ipv4.Message, flags int) (int, error)
}

func (c *udpConn) setup(bool) error {
	if c.v6 {
		c.sys.batch = ipv6.NewPacketConn(c.conn)
	} else {
		c.sys.batch = c.ttl
	}
	return nil
}

func (c *udpConn) offloads() (gso, gro bool) { return false, false }

func (c *udpConn) receiver(u *UDP, socket int) ReceiveFunc {
	msgs := make([]ipv4.Message, UDPBatchSize)
	for i := range msgs {
		msgs[i].Buffers = make([][]byte, 1)
	}
	return func(bufs [][]byte, sizes []int, eps []Endpoint) (int, error) {
		n := min(len(bufs), len(sizes), len(eps), len(msgs))
		if n == 0 {
			return 0, nil
		}
		for i := range n {
			msgs[i].Buffers[0] = bufs[i]
		}
		got, err := c.sys.batch.ReadBatch(msgs[:n], 0)
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

func udpAddrPort(a net.Addr) netip.AddrPort {
	if ua, ok := a.(*net.UDPAddr); ok {
		ap := ua.AddrPort()
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	}
	return netip.AddrPort{}
}

// sendBatch is reusable storage for one sendmmsg call, so that sending a
// fragmented packet allocates nothing.
type sendBatch struct {
	msgs  []ipv4.Message
	slots [][1][]byte
	addr  net.UDPAddr
	ip    [16]byte
}

// sendOneBatched: a lone datagram goes through WriteTo.
const sendOneBatched = false

var sendBatches = sync.Pool{New: func() any { return new(sendBatch) }}

func (c *udpConn) sendMany(_ *UDP, bufs [][]byte, to netip.AddrPort) error {
	b := sendBatches.Get().(*sendBatch)
	defer sendBatches.Put(b)
	ip := to.Addr().AsSlice()
	b.addr = net.UDPAddr{IP: b.ip[:copy(b.ip[:], ip)], Port: int(to.Port()), Zone: to.Addr().Zone()}
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
		k, err := c.sys.batch.WriteBatch(b.msgs[done:], 0)
		if err != nil {
			return err
		}
		done += k
	}
	return nil
}

// udpIdle has nothing to release here: x/net reads into the caller's buffers.
type udpIdle struct{}

func (udpIdle) stop()           {}
func (udpIdle) forget(*udpConn) {}
