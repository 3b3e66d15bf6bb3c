//go:build linux

package transport

import (
	"encoding/binary"
	"net/netip"
	"os"
	"sync"
	"syscall"
	"unsafe"

	"github.com/ztgo/ztgo/internal/fastsys"
	"golang.org/x/sys/unix"
)

const (
	// maxGSOSegments is UDP_MAX_SEGMENTS of the kernels that brought GSO
	// (newer ones allow more).
	maxGSOSegments = 64
	// maxGSOPayload is the most one IPv4 datagram carries (65535 less the
	// IP and UDP headers), the bound for a message the kernel segments;
	// IPv6 could carry 20 bytes more.
	maxGSOPayload = 65535 - 20 - 8
)

// gsoCtrlSpace fits the UDP_SEGMENT control message: the segment size, a u16.
var gsoCtrlSpace = unix.CmsgSpace(2)

// gsoRun is how many datagrams from the start of bufs one UDP_SEGMENT
// message can carry: equal sizes, the last possibly shorter (the kernel
// cuts the payload every segment-size bytes), within the kernel's limits.
// VL1 puts a batch's 1432-byte fragment heads first, so they form long runs.
func gsoRun(bufs [][]byte) int {
	size := len(bufs[0])
	total, n := size, 1
	for size > 0 && n < len(bufs) && n < maxGSOSegments {
		l := len(bufs[n])
		if l == 0 || l > size || total+l > maxGSOPayload {
			break
		}
		total += l
		n++
		if l < size {
			break
		}
	}
	return n
}

// sendmmsgBatch is reusable storage for sendmmsg calls to one address:
// pooled, so that sending a batch allocates nothing once warm.
type sendmmsgBatch struct {
	msgs  []unix.Mmsghdr
	iovs  []unix.Iovec // one per datagram: a GSO message gathers its run, nothing is copied
	ctrl  []byte       // gsoCtrlSpace per message
	first []int        // bufs index of each message's first datagram, then len(bufs)

	name    unix.RawSockaddrInet6 // or a RawSockaddrInet4 over its start
	namelen uint32

	// In and out of sendmmsg; write is its method value, made once so that
	// RawConn.Write allocates nothing.
	sent  int
	errno syscall.Errno
	write func(fd uintptr) bool
}

var sendmmsgBatches = sync.Pool{New: func() any {
	b := new(sendmmsgBatch)
	b.write = b.sendmmsg
	return b
}}

func (c *udpConn) sendMany(u *UDP, bufs [][]byte, to netip.AddrPort) error {
	b := sendmmsgBatches.Get().(*sendmmsgBatch)
	defer sendmmsgBatches.Put(b)
	b.setAddr(to, c.v6)
	lone := len(bufs) == 1
	for len(bufs) > 0 {
		sent, err := b.send(c.sys.raw, bufs, c.sys.gso.Load(), &u.stats)
		bufs = bufs[sent:]
		if err == nil {
			if lone {
				fastsys.YieldAfterLone() // let the peer this woke run first
			}
			return nil
		}
		errno, ok := err.(syscall.Errno)
		if !ok {
			return err
		}
		refused := b.first[b.sent+1] - b.first[b.sent]
		switch {
		case refused < 2:
			return wrapErrno(err)
		case errno == unix.EMSGSIZE:
			// The route's MTU is below the segment size; sent one by one,
			// IP may still fragment them.
			if _, err := b.send(c.sys.raw, bufs[:refused], false, &u.stats); err != nil {
				return wrapErrno(err)
			}
			bufs = bufs[refused:]
		case errno == unix.EIO || errno == unix.EINVAL:
			// This socket cannot segment (a NIC without checksum offload,
			// for one): turn GSO off on it and send the rest plainly.
			if c.sys.gso.CompareAndSwap(true, false) {
				u.stats.gsoDisabled.Add(1)
				u.log.Warn("udp: kernel refused a segmented send, GSO off for this socket",
					"local", c.conn.LocalAddr().String(), "err", err)
			}
		default:
			return wrapErrno(err)
		}
	}
	return nil
}

func wrapErrno(err error) error {
	if errno, ok := err.(syscall.Errno); ok {
		return os.NewSyscallError("sendmmsg", errno)
	}
	return err
}

func (b *sendmmsgBatch) setAddr(to netip.AddrPort, v6 bool) {
	b.name = unix.RawSockaddrInet6{}
	var port *uint16
	if v6 {
		b.name.Family = unix.AF_INET6
		b.name.Addr = to.Addr().As16()
		b.name.Scope_id = zoneIndex(to.Addr().Zone())
		b.namelen, port = unix.SizeofSockaddrInet6, &b.name.Port
	} else {
		sa := (*unix.RawSockaddrInet4)(unsafe.Pointer(&b.name))
		sa.Family = unix.AF_INET
		sa.Addr = to.Addr().As4()
		b.namelen, port = unix.SizeofSockaddrInet4, &sa.Port
	}
	binary.BigEndian.PutUint16((*[2]byte)(unsafe.Pointer(port))[:], to.Port())
}

// send writes bufs in as few messages as gso allows and returns how many
// datagrams left. On an error b.sent is the message that failed.
func (b *sendmmsgBatch) send(raw syscall.RawConn, bufs [][]byte, gso bool, stats *udpCounters) (int, error) {
	b.pack(bufs, gso)
	defer clear(b.iovs[:len(bufs)]) // the pool must not keep the caller's buffers alive
	b.sent, b.errno = 0, 0
	if err := raw.Write(b.write); err != nil {
		return 0, err
	}
	var msgs, datagrams uint64
	for k := range b.sent {
		if run := b.first[k+1] - b.first[k]; run > 1 {
			msgs, datagrams = msgs+1, datagrams+uint64(run)
		}
	}
	if msgs > 0 {
		stats.gsoMessages.Add(msgs)
		stats.gsoDatagrams.Add(datagrams)
	}
	if b.errno != 0 {
		return b.first[b.sent], b.errno
	}
	return len(bufs), nil
}

// pack lays bufs out as messages: with gso each run of datagrams gsoRun
// finds is one message with a UDP_SEGMENT control message, else every
// datagram is its own.
func (b *sendmmsgBatch) pack(bufs [][]byte, gso bool) {
	if cap(b.iovs) < len(bufs) {
		// Sized before any message points into them, so nothing moves.
		b.iovs = make([]unix.Iovec, len(bufs))
		b.msgs = make([]unix.Mmsghdr, 0, len(bufs))
		b.first = make([]int, 0, len(bufs)+1)
		b.ctrl = make([]byte, len(bufs)*gsoCtrlSpace)
	}
	b.msgs, b.first = b.msgs[:0], b.first[:0]
	for i := 0; i < len(bufs); {
		run := 1
		if gso {
			run = gsoRun(bufs[i:])
		}
		for j, buf := range bufs[i : i+run] {
			b.iovs[i+j].Base = unsafe.SliceData(buf)
			b.iovs[i+j].SetLen(len(buf))
		}
		var m unix.Mmsghdr
		m.Hdr.Name = (*byte)(unsafe.Pointer(&b.name))
		m.Hdr.Namelen = b.namelen
		m.Hdr.Iov = &b.iovs[i]
		m.Hdr.SetIovlen(run)
		if run > 1 {
			ctrl := b.ctrl[len(b.msgs)*gsoCtrlSpace:][:gsoCtrlSpace]
			h := (*unix.Cmsghdr)(unsafe.Pointer(&ctrl[0]))
			h.Level, h.Type = unix.SOL_UDP, unix.UDP_SEGMENT
			h.SetLen(unix.CmsgLen(2))
			binary.NativeEndian.PutUint16(ctrl[unix.CmsgLen(0):], uint16(len(bufs[i])))
			m.Hdr.Control = &ctrl[0]
			m.Hdr.SetControllen(gsoCtrlSpace)
		}
		b.msgs = append(b.msgs, m)
		b.first = append(b.first, i)
		i += run
	}
	b.first = append(b.first, len(bufs))
}

// sendmmsg runs inside RawConn.Write: false means "wait until writable".
// It goes on from b.sent, so a batch interrupted by a full socket buffer
// resumes where it stopped.
func (b *sendmmsgBatch) sendmmsg(fd uintptr) bool {
	for b.sent < len(b.msgs) {
		n, _, e := fastsys.Syscall6(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&b.msgs[b.sent])), uintptr(len(b.msgs)-b.sent), 0, 0, 0)
		switch {
		case e == unix.EINTR:
		case e == unix.EAGAIN:
			return false
		case e != 0:
			b.errno = e
			return true
		case n == 0: // the kernel errs rather than send nothing; never spin here
			b.errno = unix.EIO
			return true
		default:
			b.sent += int(n)
		}
	}
	return true
}
