package tap

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"runtime"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/ztgo/ztgo/internal/fastsys"
	"github.com/ztgo/ztgo/internal/netlab"
	"golang.org/x/sys/unix"
)

// inNS runs fn on a thread that has entered the named network namespace;
// sockets and interfaces fn creates live there. The thread is never
// unlocked, so it ends with fn instead of going back to the scheduler in
// the wrong namespace.
func inNS(t testing.TB, ns string, fn func() error) {
	t.Helper()
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		f, err := os.Open("/var/run/netns/" + ns)
		if err != nil {
			errc <- err
			return
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("setns %s: %w", ns, err)
			return
		}
		errc <- fn()
	}()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

// newIn creates a TAP of MTU 1500 in the named namespace, its MAC
// 32:00:00:00:00:mac.
func newIn(t testing.TB, ns string, nwid uint64, mac byte) *Device {
	t.Helper()
	var d *Device
	inNS(t, ns, func() (err error) {
		d, err = New(nwid, [6]byte{0x32, 0, 0, 0, 0, mac}, 1500)
		return err
	})
	return d
}

// tapPair is two TAPs in two namespaces, joined by this process copying
// frames between them, as a ZeroTier node would between its TAP and the
// wire: every frame crosses Read (segmentation) and Write (coalescing).
type tapPair struct {
	a, b     *Device
	nsA, nsB string
	mtu      int
	oversize sync.Map // a frame Read returned over MTU+14, by device name
}

func newTapPair(t testing.TB, mtu int) *tapPair {
	lab := netlab.New(t)
	p := &tapPair{nsA: lab.NS("a"), nsB: lab.NS("b"), mtu: mtu}
	mk := func(ns string, nwid uint64, mac byte, addrs ...string) *Device {
		var d *Device
		inNS(t, ns, func() error {
			var err error
			if d, err = New(nwid, [6]byte{0x32, 0, 0, 0, 0, mac}, mtu); err != nil {
				return err
			}
			var ps []netip.Prefix
			for _, a := range addrs {
				ps = append(ps, netip.MustParsePrefix(a))
			}
			d.Configure(true, ps, nil)
			return nil
		})
		t.Cleanup(func() { d.Close() })
		return d
	}
	p.a = mk(p.nsA, 0x1111, 0xa, "198.18.7.1/24", "fd5a:7a47::1/64")
	p.b = mk(p.nsB, 0x2222, 0xb, "198.18.7.2/24", "fd5a:7a47::2/64")
	go p.relay(p.a, p.b)
	go p.relay(p.b, p.a)
	return p
}

// relay copies frames from one TAP to the other until from closes, with
// the headroom VL2 leaves.
func (p *tapPair) relay(from, to *Device) {
	const headroom = 32
	bufs := make([][]byte, from.BatchSize())
	for i := range bufs {
		bufs[i] = make([]byte, headroom+p.mtu+14)
	}
	sizes := make([]int, len(bufs))
	frames := make([][]byte, len(bufs))
	for {
		n, err := from.Read(bufs, sizes, headroom)
		if err != nil {
			return
		}
		for i := range n {
			if sizes[i] > p.mtu+14 {
				p.oversize.Store(from.Name(), sizes[i])
			}
			frames[i] = bufs[i][:headroom+sizes[i]]
		}
		to.Write(frames[:n], headroom)
	}
}

// transfer sends size bytes over TCP from namespace a to b and returns
// how long it took, failing unless the bytes arrive as sent.
func (p *tapPair) transfer(t *testing.T, network, server string, size int) time.Duration {
	t.Helper()
	var ln net.Listener
	inNS(t, p.nsB, func() (err error) {
		ln, err = net.Listen(network, server)
		return err
	})
	defer ln.Close()
	data := make([]byte, size)
	for i := range data {
		data[i] = byte(i*131 + i>>10)
	}
	got := make(chan []byte, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			got <- nil
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(20 * time.Second))
		b, _ := io.ReadAll(c)
		got <- b
	}()
	start := time.Now()
	inNS(t, p.nsA, func() error {
		c, err := net.DialTimeout(network, ln.Addr().String(), 10*time.Second)
		if err != nil {
			return err
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(20 * time.Second))
		_, err = c.Write(data)
		return err
	})
	b := <-got
	elapsed := time.Since(start)
	if !bytes.Equal(b, data) {
		t.Fatalf("%s: %d bytes arrived of %d sent, or they differ", network, len(b), size)
	}
	return elapsed
}

// TestOffloadTransfer: a TCP flow of the real kernel crosses two TAPs
// and this package's Read and Write, over IPv4 and IPv6, with offloads
// (super-frames both ways) and without.
func TestOffloadTransfer(t *testing.T) {
	const size = 16 << 20
	for _, off := range []string{"1", "0"} {
		t.Run("offload="+off, func(t *testing.T) {
			t.Setenv(offloadEnv, off)
			p := newTapPair(t, 2800)
			if p.a.Offloads() != (off == "1") {
				t.Fatalf("Offloads() = %v with %s=%s", p.a.Offloads(), offloadEnv, off)
			}
			if off == "1" && p.a.BatchSize() < 55 {
				t.Fatalf("BatchSize %d cannot hold a 64 KB super-frame at MTU 1280", p.a.BatchSize())
			}
			for _, c := range []struct{ network, server string }{{"tcp4", "198.18.7.2:0"}, {"tcp6", "[fd5a:7a47::2]:0"}} {
				d := p.transfer(t, c.network, c.server, size)
				t.Logf("%s offload=%s: %d MB in %v (%.0f MB/s)", c.network, off, size>>20, d.Round(time.Millisecond), float64(size)/d.Seconds()/1e6)
			}
			p.oversize.Range(func(k, v any) bool {
				t.Errorf("%v: Read returned a %v-byte frame, over MTU+14", k, v)
				return true
			})
			if off == "1" {
				read, written := p.a.vnet.superFramesRead.Load(), p.b.vnet.superFramesWritten.Load()
				t.Logf("super-frames: %d read from the sender's TAP, %d written to the receiver's; dropped %d", read, written, p.a.vnet.dropped.Load())
				if read == 0 || written == 0 {
					t.Fatalf("no super-frames: %d read, %d written", read, written)
				}
			}
		})
	}
}

// TestCloseUnblocksRead: Close ends a Read that waits for a frame.
func TestCloseUnblocksRead(t *testing.T) {
	lab := netlab.New(t)
	ns := lab.NS("c")
	for _, off := range []string{"1", "0"} {
		t.Setenv(offloadEnv, off)
		d := newIn(t, ns, 0x3333, 0xc)
		done := make(chan error, 1)
		go func() {
			bufs, sizes := [][]byte{make([]byte, 2000)}, []int{0}
			for {
				// The kernel's own IPv6 chatter may come first.
				if _, err := d.Read(bufs, sizes, 0); err != nil {
					done <- err
					return
				}
			}
		}()
		time.Sleep(100 * time.Millisecond)
		d.Close()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatalf("offload=%s: Read still blocked after Close", off)
		}
	}
}

// TestOffloadUDPSegments: datagrams an application sends with UDP_SEGMENT
// reach the TAP as one USO super-frame (where the kernel has USO) and
// arrive at the other end as the datagrams sent.
func TestOffloadUDPSegments(t *testing.T) {
	t.Setenv(offloadEnv, "1")
	p := newTapPair(t, 1500)
	var rx, tx *net.UDPConn
	inNS(t, p.nsB, func() (err error) {
		rx, err = net.ListenUDP("udp4", &net.UDPAddr{IP: net.IP{198, 18, 7, 2}})
		return err
	})
	defer rx.Close()
	inNS(t, p.nsA, func() (err error) {
		tx, err = net.DialUDP("udp4", nil, rx.LocalAddr().(*net.UDPAddr))
		return err
	})
	defer tx.Close()
	const segSize, count = 1200, 20
	data := make([]byte, segSize*count)
	for i := range data {
		data[i] = byte(i / segSize)
	}
	oob := make([]byte, unix.CmsgSpace(2))
	h := (*unix.Cmsghdr)(unsafe.Pointer(&oob[0]))
	h.Level, h.Type = unix.SOL_UDP, unix.UDP_SEGMENT
	h.SetLen(unix.CmsgLen(2))
	binary.NativeEndian.PutUint16(oob[unix.CmsgLen(0):], segSize)
	before := p.a.vnet.superFramesRead.Load()
	// ARP first, so the datagrams are not queued behind it one by one.
	if _, err := tx.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 65536)
	rx.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := rx.Read(buf); err != nil || string(buf[:n]) != "hello" {
		t.Fatalf("first datagram: %q %v", buf[:n], err)
	}
	if _, _, err := tx.WriteMsgUDP(data, oob, nil); err != nil {
		t.Fatalf("send with UDP_SEGMENT: %v", err)
	}
	for i := range count {
		n, err := rx.Read(buf)
		if err != nil {
			t.Fatalf("datagram %d: %v", i, err)
		}
		if !bytes.Equal(buf[:n], data[i*segSize:(i+1)*segSize]) {
			t.Fatalf("datagram %d: %d bytes, not the %d sent", i, n, segSize)
		}
	}
	uso := p.a.vnet.superFramesRead.Load() - before
	t.Logf("USO super-frames read: %d", uso)
	if p.a.vnet.offloads&unix.TUN_F_USO4 != 0 && uso == 0 {
		t.Fatal("the kernel takes USO, yet the datagrams came one by one")
	}
}

// BenchmarkTransfer measures TCP through two TAPs and the relay, with and
// without offloads: go test -run XXX -bench Transfer ./drivers/tap (root).
func BenchmarkTransfer(b *testing.B) {
	for _, off := range []string{"1", "0"} {
		b.Run("offload="+off, func(b *testing.B) {
			b.Setenv(offloadEnv, off)
			p := newTapPair(b, 2800)
			var ln net.Listener
			inNS(b, p.nsB, func() (err error) {
				ln, err = net.Listen("tcp4", "198.18.7.2:0")
				return err
			})
			defer ln.Close()
			go func() {
				c, err := ln.Accept()
				if err == nil {
					io.Copy(io.Discard, c)
					c.Close()
				}
			}()
			var c net.Conn
			inNS(b, p.nsA, func() (err error) {
				c, err = net.Dial("tcp4", ln.Addr().String())
				return err
			})
			defer c.Close()
			chunk := make([]byte, 1<<20)
			b.SetBytes(int64(len(chunk)))
			b.ResetTimer()
			for b.Loop() {
				if _, err := c.Write(chunk); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestWriteYieldsAfterLoneFrame: a write of one frame hands the CPU over
// (to the program the frame may have woken), a batch does not, with
// offloads and without. (Whether it yields then is the back-off's
// business, tested in internal/fastsys.)
func TestWriteYieldsAfterLoneFrame(t *testing.T) {
	if !fastsys.YieldsOn() {
		t.Skip("ZTGO_YIELD=0: nothing yields")
	}
	lab := netlab.New(t)
	ns := lab.NS("y")
	frame := func() []byte {
		f := make([]byte, 60)
		copy(f, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x32, 0, 0, 0, 0, 0xd, 0x88, 0xb5}) // broadcast, local experimental EtherType
		return f
	}
	for _, off := range []string{"1", "0"} {
		t.Setenv(offloadEnv, off)
		d := newIn(t, ns, 0x3334, 0xd)
		before := fastsys.LonePackets()
		if _, err := d.Write([][]byte{frame()}, 0); err != nil {
			t.Fatal(err)
		}
		if got := fastsys.LonePackets() - before; got != 1 {
			t.Errorf("offload=%s: a lone frame was reported %d times, want 1", off, got)
		}
		before = fastsys.LonePackets()
		if _, err := d.Write([][]byte{frame(), frame(), frame()}, 0); err != nil {
			t.Fatal(err)
		}
		if got := fastsys.LonePackets() - before; got != 0 {
			t.Errorf("offload=%s: a batch of frames was reported %d times, want 0", off, got)
		}
		d.Close()
	}
}
