//go:build linux

package transport

import (
	"bytes"
	"net/netip"
	"slices"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ztgo/ztgo/internal/fastsys"
)

// kernelOffloads reports whether this kernel has UDP GSO and GRO, asked
// of a scratch socket, so that the tests below know what to expect.
func kernelOffloads(t *testing.T) (gso, gro bool) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	_, err = unix.GetsockoptInt(fd, unix.SOL_UDP, unix.UDP_SEGMENT)
	return err == nil, unix.SetsockoptInt(fd, unix.SOL_UDP, unix.UDP_GRO, 1) == nil
}

// sendAndCheck sends sizes in one Send and requires them back exactly.
func sendAndCheck(t *testing.T, sender, receiver *UDP, fn ReceiveFunc, to Endpoint, sizes ...int) {
	t.Helper()
	want := datagrams(len(sizes), sizes...)
	if err := sender.Send(want, to); err != nil {
		t.Fatal(err)
	}
	for i, g := range receiveN(t, receiver, fn, len(want), UDPBatchSize) {
		if !bytes.Equal(g.data, want[i]) {
			t.Fatalf("datagram %d: %d bytes, want %d", i, len(g.data), len(want[i]))
		}
	}
}

// TestUDPOffloadEngaged: with offload on, a batch of fragment heads leaves
// as one segmented message and arrives as one coalesced message; with it
// off (by option or environment), neither happens.
func TestUDPOffloadEngaged(t *testing.T) {
	gso, gro := kernelOffloads(t)
	if !gso || !gro {
		t.Skipf("kernel offloads: GSO %v, GRO %v", gso, gro)
	}
	sender, _, _ := openLoopback(t, false, false)
	receiver, fn, to := openLoopback(t, false, false)
	if g, r := sender.Offload(); !g || !r {
		t.Fatalf("offload on a capable kernel: GSO %v, GRO %v", g, r)
	}
	sendAndCheck(t, sender, receiver, fn, Endpoint{Addr: to}, append(repeat(1432, 40), 900)...)
	if s := sender.Stats(); s.GSOMessages != 1 || s.GSODatagrams != 41 {
		t.Fatalf("sender %+v, want one message of 41 datagrams", s)
	}
	if s := receiver.Stats(); s.GROMessages != 1 || s.GRODatagrams != 41 {
		t.Fatalf("receiver %+v, want one coalesced message of 41 datagrams", s)
	}

	plain, _, _ := openLoopback(t, false, true)
	t.Setenv(offloadEnv, "0")
	plainByEnv, fnByEnv, toByEnv := openLoopback(t, false, false)
	for _, u := range []*UDP{plain, plainByEnv} {
		if g, r := u.Offload(); g || r {
			t.Fatalf("offload switched off, yet GSO %v, GRO %v", g, r)
		}
	}
	sendAndCheck(t, plain, plainByEnv, fnByEnv, Endpoint{Addr: toByEnv}, repeat(1432, 40)...)
	if s, r := plain.Stats(), plainByEnv.Stats(); s != (UDPStats{}) || r != (UDPStats{}) {
		t.Fatalf("plain sockets counted offloads: %+v, %+v", s, r)
	}
}

// TestUDPGSORefusedFallsBack: a socket whose sends the kernel will not
// segment (UDP checksums off make it answer EINVAL, as a NIC without
// checksum offload makes it answer EIO) turns GSO off and loses nothing.
func TestUDPGSORefusedFallsBack(t *testing.T) {
	if gso, _ := kernelOffloads(t); !gso {
		t.Skip("kernel without UDP GSO")
	}
	sender, _, _ := openLoopback(t, false, false)
	receiver, fn, to := openLoopback(t, false, false)
	err := sender.sockets[0].v4.sys.raw.Control(func(fd uintptr) {
		if err := unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_NO_CHECK, 1); err != nil {
			t.Fatal(err)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	sendAndCheck(t, sender, receiver, fn, Endpoint{Addr: to}, slices.Concat(repeat(300, 3), repeat(1432, 50), []int{700})...)
	if g, _ := sender.Offload(); g {
		t.Fatal("GSO still on after the kernel refused it")
	}
	if s := sender.Stats(); s.GSODisabled != 1 || s.GSOMessages != 0 {
		t.Fatalf("sender %+v, want GSO disabled once and nothing segmented", s)
	}
	sendAndCheck(t, sender, receiver, fn, Endpoint{Addr: to}, repeat(1432, 10)...)
}

// TestUDPGSOOverMTU: segments larger than the path MTU make the kernel
// answer EMSGSIZE; that run goes out as single datagrams (IP fragments
// them) and GSO stays on for the next.
func TestUDPGSOOverMTU(t *testing.T) {
	if gso, _ := kernelOffloads(t); !gso {
		t.Skip("kernel without UDP GSO")
	}
	sender, _, _ := openLoopback(t, true, false)
	receiver, fn, to := openLoopback(t, true, false)
	err := sender.sockets[0].v6.sys.raw.Control(func(fd uintptr) {
		if err := unix.SetsockoptInt(int(fd), unix.IPPROTO_IPV6, unix.IPV6_MTU, 1280); err != nil {
			t.Fatal(err)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	sendAndCheck(t, sender, receiver, fn, Endpoint{Addr: to}, slices.Concat(repeat(1432, 10), repeat(1000, 10))...)
	if g, _ := sender.sockets[0].v6.offloads(); !g {
		t.Fatal("GSO turned off for a per-route limit")
	}
	// The refused run took the first 1000-byte datagram as its shorter last.
	if s := sender.Stats(); s.GSOMessages != 1 || s.GSODatagrams != 9 || s.GSODisabled != 0 {
		t.Fatalf("sender %+v, want only the nine other 1000-byte datagrams segmented", s)
	}
}

// TestUDPQuietSocketReleasesBuffers: after a burst and a quiet period the
// reader gives its pages back and says so with an empty read; the socket
// then receives as before, and a socket with nothing new to give back
// stays blocked.
func TestUDPQuietSocketReleasesBuffers(t *testing.T) {
	sender, _, _ := openLoopback(t, false, false)
	u := NewUDP(UDPOptions{IPv4Only: true, ListenAddr4: loopback(false)})
	u.idle.period = 20 * time.Millisecond
	fns, port, err := u.Open(0)
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	fn, to := fns[0], Endpoint{Addr: netip.AddrPortFrom(loopback(false), port)}
	bufs, sizes, eps := [][]byte{make([]byte, MaxDatagram)}, []int{0}, []Endpoint{{}}
	quietRead := func() (int, error) {
		stuck := time.AfterFunc(5*time.Second, func() { u.Close() })
		defer stuck.Stop()
		return fn(bufs, sizes, eps)
	}

	for round := range 2 {
		sendAndCheck(t, sender, u, fn, to, append(repeat(1432, 40), 900)...)
		if k, err := quietRead(); k != 0 || err != nil {
			t.Fatalf("round %d: quiet read gave %d, %v; want an empty read", round, k, err)
		}
		r := u.idle.receivers[0]
		if r.arena != nil && bytes.ContainsFunc(r.arena, func(c rune) bool { return c != 0 }) {
			t.Fatalf("round %d: GRO buffers still hold data after the release", round)
		}
	}

	// Nothing read since the release: the next quiet period releases
	// nothing, so the read waits for the datagram sent after it.
	go func() {
		time.Sleep(10 * u.idle.period)
		sender.Send([][]byte{{1, 2, 3}}, to)
	}()
	if k, err := quietRead(); k != 1 || err != nil || sizes[0] != 3 {
		t.Fatalf("after a release with nothing new, read gave %d, %v (size %d); want the one datagram", k, err, sizes[0])
	}
}

// TestUDPYieldsAfterLoneDatagram: a send of one datagram hands the CPU
// over (to the peer it may have woken), a batch does not. (Whether it
// yields then is the back-off's business, tested in internal/fastsys.)
func TestUDPYieldsAfterLoneDatagram(t *testing.T) {
	if !fastsys.Raw() || !fastsys.YieldsOn() {
		t.Skip("ZTGO_RAWSYSCALL=0 or ZTGO_YIELD=0: nothing yields")
	}
	sender, _, _ := openLoopback(t, false, false)
	receiver, fn, to := openLoopback(t, false, false)
	before := fastsys.LonePackets()
	sendAndCheck(t, sender, receiver, fn, Endpoint{Addr: to}, 100)
	if got := fastsys.LonePackets() - before; got != 1 {
		t.Fatalf("a lone datagram was reported %d times, want 1", got)
	}
	before = fastsys.LonePackets()
	sendAndCheck(t, sender, receiver, fn, Endpoint{Addr: to}, 100, 200, 300)
	if got := fastsys.LonePackets() - before; got != 0 {
		t.Fatalf("a batch of datagrams was reported %d times, want 0", got)
	}
}
