//go:build linux

package transport

import (
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"os"
	"strconv"
	"sync/atomic"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/ztgo/ztgo/internal/fastsys"
	"github.com/ztgo/ztgo/internal/pagebuf"
)

// On Linux the bind makes the recvmmsg and sendmmsg calls itself, through
// each socket's syscall.RawConn: Go's poller still parks a reader that has
// nothing to read, and Close still wakes it. Owning the calls lets source
// addresses land in sockaddr storage made once per batch slot (x/net builds
// a net.Addr per datagram) and lets the kernel's UDP offloads in: GSO sends
// a run of equal-sized datagrams as one message (udp_gso_linux.go), GRO
// hands several received datagrams of one flow over as one message.

type udpSys struct {
	raw syscall.RawConn
	gso atomic.Bool // cleared for good when the kernel refuses a segmented send
	gro bool
}

func (c *udpConn) setup(offload bool) error {
	raw, err := c.conn.SyscallConn()
	if err != nil {
		return err
	}
	c.sys.raw = raw
	if !offload {
		return nil
	}
	return raw.Control(func(fd uintptr) {
		// Kernels that can segment (4.18+) know the option; older ones
		// answer ENOPROTOOPT.
		if _, err := unix.GetsockoptInt(int(fd), unix.SOL_UDP, unix.UDP_SEGMENT); err == nil {
			c.sys.gso.Store(true)
		}
		// GRO (5.0+) changes what reads return, so it is on only if the
		// receiver below knows (it then reads into 64 KiB buffers).
		c.sys.gro = unix.SetsockoptInt(int(fd), unix.SOL_UDP, unix.UDP_GRO, 1) == nil
	})
}

func (c *udpConn) offloads() (gso, gro bool) { return c.sys.gso.Load(), c.sys.gro }

const (
	// groBufSize holds the largest message GRO builds: 64 KiB of payload.
	groBufSize = 1 << 16
	// groMessages is how many messages one recvmmsg returns with GRO on. A
	// coalesced message carries up to 45 of ZeroTier's 1432-byte
	// datagrams, so two can fill a batch of 64; sixteen keep traffic that
	// does not coalesce (many peers, a datagram each) batched, for 1 MiB of
	// buffers per socket.
	groMessages = 16
)

// groCtrlSpace fits the UDP_GRO control message: the segment size, an int.
var groCtrlSpace = unix.CmsgSpace(4)

// sendOneBatched sends a lone datagram through sendMany too: sendmmsg of
// one message costs what sendto does, and goes in as a raw call
// (internal/fastsys) where the net package's WriteTo wakes the runtime's
// monitor thread after a pause.
var sendOneBatched = fastsys.Raw()

// mmsgReceiver is one socket's receive function and its reusable recvmmsg
// storage. Without GRO the kernel writes into the caller's buffers
// directly; with GRO a message may be far larger than a caller's buffer, so
// the kernel writes into the receiver's own 64 KiB buffers and each
// datagram is copied once, into a caller's buffer. Datagrams that do not
// fit in the caller's buffers stay for the next call. Like every receive
// function it serves one goroutine at a time.
type mmsgReceiver struct {
	u      *UDP
	c      *udpConn
	socket int

	msgs  []unix.Mmsghdr
	iovs  []unix.Iovec
	names []unix.RawSockaddrInet6 // fits either family's address
	ctrl  []byte                  // GRO: groCtrlSpace per message
	arena []byte                  // GRO: groBufSize per message

	// GRO: messages the last recvmmsg returned, the next one to split and
	// how many of its bytes were handed out already.
	got, next, offset int

	// Idle release (udp_idle_linux.go): reads counts successful reads;
	// seen and clean are the watcher's, the count at its last look and at
	// the last release; release asks the reader to give its pages back.
	reads       atomic.Uint64
	seen, clean uint64
	release     atomic.Bool

	// In and out of recvmmsg; read is its method value, made once so that
	// RawConn.Read allocates nothing.
	want, n int
	errno   syscall.Errno
	read    func(fd uintptr) bool
}

func (c *udpConn) receiver(u *UDP, socket int) ReceiveFunc {
	slots := UDPBatchSize
	if c.sys.gro {
		slots = groMessages
	}
	r := &mmsgReceiver{
		u: u, c: c, socket: socket,
		msgs:  make([]unix.Mmsghdr, slots),
		iovs:  make([]unix.Iovec, slots),
		names: make([]unix.RawSockaddrInet6, slots),
	}
	if c.sys.gro {
		r.ctrl = make([]byte, slots*groCtrlSpace)
		// Mapped outside the Go heap: 1 MiB per socket, mostly idle, would
		// otherwise raise the GC's goal by as much.
		r.arena = pagebuf.Alloc(slots * groBufSize)
	}
	for i := range r.msgs {
		h := &r.msgs[i].Hdr
		h.Name = (*byte)(unsafe.Pointer(&r.names[i]))
		h.Iov = &r.iovs[i]
		h.SetIovlen(1)
		if r.arena != nil {
			r.iovs[i].Base = &r.arena[i*groBufSize]
			r.iovs[i].SetLen(groBufSize)
			h.Control = &r.ctrl[i*groCtrlSpace]
		}
	}
	r.read = r.recvmmsg
	u.idle.watch(r)
	return r.receive
}

func (r *mmsgReceiver) receive(bufs [][]byte, sizes []int, eps []Endpoint) (int, error) {
	room := min(len(bufs), len(sizes), len(eps))
	if room == 0 {
		return 0, nil
	}
	bufs = bufs[:room]
	for {
		if r.arena != nil {
			if n := r.split(bufs, sizes, eps); n > 0 {
				return n, nil
			}
		}
		r.want = min(room, len(r.msgs))
		for i := range r.want {
			h := &r.msgs[i].Hdr
			h.Namelen = unix.SizeofSockaddrInet6
			h.Flags = 0
			if r.arena != nil {
				h.SetControllen(groCtrlSpace)
			} else {
				r.iovs[i].Base = unsafe.SliceData(bufs[i])
				r.iovs[i].SetLen(len(bufs[i]))
			}
		}
		if err := r.c.sys.raw.Read(r.read); err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				if r.releaseIdle() {
					return 0, nil // quiet: the caller may release its buffers too
				}
				continue
			}
			err = r.u.readErr(err)
			if errors.Is(err, ErrClosed) && r.arena != nil {
				// The socket is gone and this goroutine is the arena's
				// only user: give its pages back.
				pagebuf.Free(r.arena)
				r.arena = nil
			}
			return 0, err
		}
		if r.errno != 0 {
			return 0, r.u.readErr(os.NewSyscallError("recvmmsg", r.errno))
		}
		r.reads.Add(1)
		if r.arena != nil {
			r.got, r.next, r.offset = r.n, 0, 0
			continue
		}
		if n := r.compact(bufs, sizes, eps); n > 0 {
			return n, nil
		}
	}
}

// recvmmsg runs inside RawConn.Read: false means "wait until readable".
func (r *mmsgReceiver) recvmmsg(fd uintptr) bool {
	for {
		n, _, e := fastsys.Syscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&r.msgs[0])), uintptr(r.want), 0, 0, 0)
		switch e {
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return false
		case 0:
			r.n, r.errno = int(n), 0
		default:
			r.n, r.errno = 0, e
		}
		return true
	}
}

// compact reports what recvmmsg wrote into the caller's buffers, moving
// datagrams forward over the ones dropped: cut short by a small buffer, or
// from an address family nobody asked for.
func (r *mmsgReceiver) compact(bufs [][]byte, sizes []int, eps []Endpoint) int {
	n := 0
	for i := range r.n {
		m := &r.msgs[i]
		size := int(m.Len)
		ap, ok := sockaddrAddrPort(&r.names[i])
		if m.Hdr.Flags&unix.MSG_TRUNC != 0 || size > len(bufs[n]) {
			r.u.stats.oversized.Add(1)
			continue
		}
		if !ok {
			continue
		}
		if n != i {
			copy(bufs[n], bufs[i][:size])
		}
		sizes[n], eps[n] = size, Endpoint{Addr: ap, Socket: r.socket}
		n++
	}
	return n
}

// split hands out the datagrams of the messages GRO returned, one per
// caller buffer, and remembers where it stopped when the buffers run out.
func (r *mmsgReceiver) split(bufs [][]byte, sizes []int, eps []Endpoint) int {
	n := 0
	for n < len(bufs) && r.next < r.got {
		i := r.next
		m := &r.msgs[i]
		ap, ok := sockaddrAddrPort(&r.names[i])
		if !ok || m.Hdr.Flags&unix.MSG_TRUNC != 0 {
			r.next++
			continue
		}
		size := int(m.Len)
		if size == 0 { // an empty datagram is a datagram too
			sizes[n], eps[n] = 0, Endpoint{Addr: ap, Socket: r.socket}
			n++
			r.next++
			continue
		}
		segment := size
		ctrl := r.ctrl[i*groCtrlSpace:]
		if s := groSegmentSize(ctrl[:min(int(m.Hdr.Controllen), groCtrlSpace)]); s > 0 && s < size {
			segment = s
			if r.offset == 0 {
				r.u.stats.groMessages.Add(1)
				r.u.stats.groDatagrams.Add(uint64((size + s - 1) / s))
			}
		}
		data := r.arena[i*groBufSize : i*groBufSize+size]
		for n < len(bufs) && r.offset < size {
			d := data[r.offset:min(r.offset+segment, size)]
			r.offset += len(d)
			if len(d) > len(bufs[n]) {
				r.u.stats.oversized.Add(1)
				continue
			}
			sizes[n], eps[n] = copy(bufs[n], d), Endpoint{Addr: ap, Socket: r.socket}
			n++
		}
		if r.offset >= size {
			r.next, r.offset = r.next+1, 0
		}
	}
	return n
}

// groSegmentSize finds the segment size in a received message's control
// data: 0 when the message holds a single datagram.
func groSegmentSize(ctrl []byte) int {
	for len(ctrl) >= unix.SizeofCmsghdr {
		h := (*unix.Cmsghdr)(unsafe.Pointer(&ctrl[0]))
		l := int(h.Len)
		if l < unix.SizeofCmsghdr || l > len(ctrl) {
			return 0
		}
		if h.Level == unix.SOL_UDP && h.Type == unix.UDP_GRO && l >= unix.CmsgLen(4) {
			return int(int32(binary.NativeEndian.Uint32(ctrl[unix.CmsgLen(0):])))
		}
		ctrl = ctrl[min(unix.CmsgSpace(l-unix.CmsgLen(0)), len(ctrl)):]
	}
	return 0
}

// sockaddrAddrPort reads a source address without allocating (except for
// the zone of a link-local IPv6 address, kept as the interface's number).
func sockaddrAddrPort(sa *unix.RawSockaddrInet6) (netip.AddrPort, bool) {
	p := (*[2]byte)(unsafe.Pointer(&sa.Port)) // network order, at the same offset in both families
	port := uint16(p[0])<<8 | uint16(p[1])
	switch sa.Family {
	case unix.AF_INET:
		sa4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		return netip.AddrPortFrom(netip.AddrFrom4(sa4.Addr), port), true
	case unix.AF_INET6:
		ip := netip.AddrFrom16(sa.Addr).Unmap()
		if sa.Scope_id != 0 && ip.Is6() {
			ip = ip.WithZone(strconv.FormatUint(uint64(sa.Scope_id), 10))
		}
		return netip.AddrPortFrom(ip, port), true
	}
	return netip.AddrPort{}, false
}

// zoneIndex turns an IPv6 zone, a number or an interface name, into a
// scope ID.
func zoneIndex(zone string) uint32 {
	if zone == "" {
		return 0
	}
	if n, err := strconv.ParseUint(zone, 10, 32); err == nil {
		return uint32(n)
	}
	if ifc, err := net.InterfaceByName(zone); err == nil {
		return uint32(ifc.Index)
	}
	return 0
}
