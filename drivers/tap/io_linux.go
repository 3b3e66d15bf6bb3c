//go:build linux

package tap

import (
	"errors"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"unsafe"

	"github.com/ztgo/ztgo/drivers/tap/offload"
	"github.com/ztgo/ztgo/internal/fastsys"
	"golang.org/x/sys/unix"
)

// Frame I/O with offloads. The TAP is opened with IFF_VNET_HDR and told
// (TUNSETOFFLOAD) that it may take TCP and UDP super-frames and partial
// checksums, so the kernel hands over up to 64 KB of a flow per read and
// takes as much per write: its stack and the syscalls cost once per 64 KB
// instead of once per frame. What crosses the device
// boundary toward VL2 is unchanged: Read cuts super-frames into frames of
// the network's MTU with their checksums done, Write merges the frames of
// the wire back into super-frames. Other ZeroTier nodes only ever see
// plain frames.

// offloadEnv, set to 0, opens TAPs without offloads (to compare).
const offloadEnv = "ZTGO_TAP_OFFLOAD"

// offloadBatch is what one Read can return: a 64 KB super-frame cut at
// the smallest MTU a network has (1280) makes 55 frames.
const offloadBatch = 64

// readBufLen holds the largest super-frame with its vnet header, room to
// spare: a read longer than the buffer would lose the frame.
const readBufLen = 1 << 17

// openTAP creates the TAP named name, with offloads when wanted and the
// kernel can do them, and returns its non-blocking descriptor and the
// TUN_F_ offload flags in force (0: a plain TAP).
func openTAP(name string, wantOffloads bool) (fd, offloads int, err error) {
	if wantOffloads {
		fd, err := createTAP(name, unix.IFF_VNET_HDR)
		if err == nil {
			if offloads, err := enableOffloads(fd); err == nil {
				return fd, offloads, nil
			}
			unix.Close(fd) // the interface goes with its only descriptor
		}
	}
	fd, err = createTAP(name, 0)
	return fd, 0, err
}

func createTAP(name string, flags uint16) (int, error) {
	fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		return -1, err
	}
	ifr, err := unix.NewIfreq(name)
	if err == nil {
		ifr.SetUint16(unix.IFF_TAP | unix.IFF_NO_PI | flags)
		err = unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr)
	}
	if err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

// enableOffloads asks for checksum offload, TSO and, where the kernel has
// it (6.2 on), USO; an older kernel refuses the whole set with EINVAL.
func enableOffloads(fd int) (int, error) {
	tso := unix.TUN_F_CSUM | unix.TUN_F_TSO4 | unix.TUN_F_TSO6 | unix.TUN_F_TSO_ECN
	if uso := tso | unix.TUN_F_USO4 | unix.TUN_F_USO6; unix.IoctlSetInt(fd, unix.TUNSETOFFLOAD, uso) == nil {
		return uso, nil
	}
	return tso, unix.IoctlSetInt(fd, unix.TUNSETOFFLOAD, tso)
}

// vnetIO is the I/O of a TAP opened with IFF_VNET_HDR.
type vnetIO struct {
	rc       syscall.RawConn
	mtu      int
	offloads int // TUN_F_ flags

	rmu    sync.Mutex
	rbuf   []byte
	seg    offload.Segmenter // what remains of the last frame read
	block  bool              // readOnce waits for a frame
	waited bool              // readOnce had to wait: the device was idle
	rn     int
	rerr   error
	readFn func(fd uintptr) bool // readOnce, bound once: Read allocates nothing

	wmu     sync.Mutex
	coal    offload.Coalescer
	frames  [][]byte
	iov     []unix.Iovec
	werr    error
	writeFn func(fd uintptr) bool

	superFramesRead    atomic.Uint64
	superFramesWritten atomic.Uint64
	dropped            atomic.Uint64 // frames the kernel sent that could not be cut
}

func newVnetIO(f *os.File, mtu, offloads int) (*vnetIO, error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return nil, err
	}
	v := &vnetIO{rc: rc, mtu: mtu, offloads: offloads, rbuf: make([]byte, readBufLen)}
	v.readFn, v.writeFn = v.readOnce, v.writeOnce
	return v, nil
}

var errNoFrame = errors.New("tap: no frame waiting")

// read fills bufs with frames: it waits for the first, then takes what
// else the kernel has queued while there is room. Frames of a super-frame
// that do not fit stay for the next read.
func (v *vnetIO) read(bufs [][]byte, sizes []int, offset int) (int, error) {
	v.rmu.Lock()
	defer v.rmu.Unlock()
	n := 0
	v.waited = false
	lone := false
	for n < len(bufs) {
		if lone && !v.seg.Pending() {
			// A plain frame that ended a wait goes out at once: looking
			// for a second would cost a read that finds nothing, on the
			// latency of every ping. Frames already queued (no wait)
			// are still taken in batches.
			return n, nil
		}
		if v.seg.Pending() {
			if offset > len(bufs[n]) || v.seg.NextLen() > len(bufs[n])-offset {
				v.seg.Skip() // no buffer of this caller can hold it
				v.dropped.Add(1)
				continue
			}
			k, err := v.seg.Next(bufs[n][offset:])
			if err != nil {
				return n, err
			}
			sizes[n] = k
			n++
			continue
		}
		got, err := v.readFrame(n == 0)
		if err != nil {
			if n > 0 {
				return n, nil // a real error comes again on the next read
			}
			return 0, err
		}
		h, err := offload.DecodeHeader(v.rbuf[:got])
		if err == nil {
			err = v.seg.Reset(v.rbuf[offload.HeaderLen:got], h, v.mtu)
		}
		if err != nil {
			v.dropped.Add(1)
			continue
		}
		if h.GSOType != offload.GSONone {
			v.superFramesRead.Add(1)
		}
		lone = n == 0 && v.waited && h.GSOType == offload.GSONone
	}
	return n, nil
}

// readFrame reads one frame, with its vnet header, into rbuf. Without
// block it returns errNoFrame rather than wait.
func (v *vnetIO) readFrame(block bool) (int, error) {
	v.block = block
	if err := v.rc.Read(v.readFn); err != nil {
		return 0, err
	}
	return v.rn, v.rerr
}

func (v *vnetIO) readOnce(fd uintptr) bool {
	for {
		n, _, err := fastsys.Syscall(unix.SYS_READ, fd, uintptr(unsafe.Pointer(&v.rbuf[0])), uintptr(len(v.rbuf)))
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN && v.block:
			v.waited = true
			return false // the poller waits, and Close ends the wait
		case err == unix.EAGAIN:
			v.rn, v.rerr = 0, errNoFrame
		case err != 0:
			v.rn, v.rerr = 0, os.NewSyscallError("read", err)
		default:
			v.rn, v.rerr = int(n), nil
		}
		return true
	}
}

// write hands frames to the OS, merged where they continue one another.
// Frames over the MTU are dropped, as zerotier-one does.
func (v *vnetIO) write(bufs [][]byte, offset int) (int, error) {
	v.wmu.Lock()
	defer v.wmu.Unlock()
	v.frames = v.frames[:0]
	for _, b := range bufs {
		if len(b) < offset+14 || len(b)-offset-14 > v.mtu {
			continue
		}
		v.frames = append(v.frames, b[offset:])
	}
	done := 0
	for _, w := range v.coal.Coalesce(v.frames) {
		v.iov = v.iov[:0]
		for _, p := range w.Parts {
			if len(p) > 0 {
				vec := unix.Iovec{Base: &p[0]}
				vec.SetLen(len(p))
				v.iov = append(v.iov, vec)
			}
		}
		err := v.rc.Write(v.writeFn)
		if err == nil {
			err = v.werr
		}
		if err != nil {
			return done, err
		}
		done += w.Frames
		if w.Frames > 1 {
			v.superFramesWritten.Add(1)
		}
	}
	return len(bufs), nil
}

// writeOnce writes one vnet header and frame from v.iov: a TAP takes a
// packet per write, so the merged payloads go straight from the callers'
// buffers without a copy.
func (v *vnetIO) writeOnce(fd uintptr) bool {
	for {
		_, _, e := fastsys.Syscall(unix.SYS_WRITEV, fd, uintptr(unsafe.Pointer(&v.iov[0])), uintptr(len(v.iov)))
		switch e {
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return false
		case 0:
			v.werr = nil
		default:
			v.werr = os.NewSyscallError("writev", e)
		}
		return true
	}
}
