package transport

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/ztgo/ztgo/internal/testutil"
)

// These tests hold on every system and with offloads on or off: what goes
// into one Send arrives as the same datagrams, in order, from the right
// endpoint. On Linux "offload" means GSO/GRO when the kernel has them;
// udp_linux_test.go checks that they were really used.

var offloadModes = []struct {
	name string
	off  bool
}{{"offload", false}, {"plain", true}}

func loopback(v6 bool) netip.Addr {
	if v6 {
		return netip.IPv6Loopback()
	}
	return netip.MustParseAddr("127.0.0.1")
}

// openLoopback opens a bind on one loopback address and closes it when
// the test ends.
func openLoopback(tb testing.TB, v6, disableOffload bool) (*UDP, ReceiveFunc, netip.AddrPort) {
	tb.Helper()
	opts := UDPOptions{IPv4Only: !v6, ListenAddr4: loopback(false), DisableOffload: disableOffload}
	if v6 {
		opts.ListenAddr6 = loopback(true)
	}
	u := NewUDP(opts)
	fns, port, err := u.Open(0)
	if err != nil {
		if v6 {
			tb.Skipf("no IPv6 loopback: %v", err)
		}
		tb.Fatal(err)
	}
	tb.Cleanup(func() { u.Close() })
	fn := fns[0]
	if v6 {
		if len(fns) < 2 {
			tb.Skip("no IPv6 socket")
		}
		fn = fns[1]
	}
	return u, fn, netip.AddrPortFrom(loopback(v6), port)
}

// datagrams makes one datagram per size, each with content its index and
// a seed make unique.
func datagrams(seed int, sizes ...int) [][]byte {
	out := make([][]byte, len(sizes))
	for i, n := range sizes {
		out[i] = make([]byte, n)
		for j := range out[i] {
			out[i][j] = byte(seed + 31*i + 7*j)
		}
	}
	return out
}

func repeat(size, n int) []int { return slices.Repeat([]int{size}, n) }

type received struct {
	data []byte
	ep   Endpoint
}

// receiveN reads n datagrams with slots caller buffers per call; a
// receive that hangs fails the test (the bind is closed under it).
func receiveN(tb testing.TB, u *UDP, fn ReceiveFunc, n, slots int) []received {
	tb.Helper()
	stuck := time.AfterFunc(10*time.Second, func() { u.Close() })
	defer stuck.Stop()
	bufs := make([][]byte, slots)
	for i := range bufs {
		bufs[i] = make([]byte, MaxDatagram)
	}
	sizes, eps := make([]int, slots), make([]Endpoint, slots)
	var out []received
	for len(out) < n {
		k, err := fn(bufs, sizes, eps)
		if err != nil {
			tb.Fatalf("after %d of %d datagrams: %v", len(out), n, err)
		}
		if k < 1 || k > slots {
			tb.Fatalf("receive returned %d datagrams for %d slots", k, slots)
		}
		for i := range k {
			out = append(out, received{bytes.Clone(bufs[i][:sizes[i]]), eps[i]})
		}
	}
	return out
}

var sendPatterns = []struct {
	name  string
	sizes []int
}{
	{"run with a shorter last", append(repeat(1432, 5), 700)},
	{"heads then tails", slices.Concat(repeat(1432, 32), repeat(1368, 16), []int{800, 800, 200}, repeat(1368, 13))},
	{"mixed sizes", []int{100, 1432, 1432, 60, 60, 61, 1000, 1001, 999, 999, 999, 1, 1432}},
	{"two-segment run", []int{1200, 1200}},
	{"two-segment run with a shorter last", []int{1200, 1199}},
	{"more than 64 full-size", repeat(1432, 150)},
	{"more than 64 small", repeat(120, 200)},
	{"empty datagram inside a run", []int{500, 500, 0, 500, 500}},
	{"large datagrams", []int{9000, 9000, 9000, 4000}},
	{"single", []int{1432}},
}

// TestUDPSendArrivesExactly sends each pattern in one Send between every
// pairing of offload modes, in both families, and reads it back with a
// full batch and with too few buffers (the rest must wait, not vanish).
func TestUDPSendArrivesExactly(t *testing.T) {
	for _, v6 := range []bool{false, true} {
		for _, tx := range offloadModes {
			for _, rx := range offloadModes {
				t.Run(fmt.Sprintf("v6=%v/send=%s/receive=%s", v6, tx.name, rx.name), func(t *testing.T) {
					sender, _, from := openLoopback(t, v6, tx.off)
					receiver, fn, to := openLoopback(t, v6, rx.off)
					for p, pat := range sendPatterns {
						for _, slots := range []int{UDPBatchSize, 5} {
							want := datagrams(p*slots, pat.sizes...)
							if err := sender.Send(want, Endpoint{Addr: to}); err != nil {
								t.Fatalf("%s: %v", pat.name, err)
							}
							got := receiveN(t, receiver, fn, len(want), slots)
							for i, g := range got {
								if !bytes.Equal(g.data, want[i]) {
									t.Fatalf("%s, %d slots: datagram %d is %d bytes %x…, want %d bytes %x…",
										pat.name, slots, i, len(g.data), head(g.data), len(want[i]), head(want[i]))
								}
								if g.ep != (Endpoint{Addr: from, Socket: 0}) {
									t.Fatalf("%s: datagram %d from %+v, want %v", pat.name, i, g.ep, from)
								}
							}
						}
					}
				})
			}
		}
	}
}

func head(b []byte) []byte { return b[:min(len(b), 4)] }

// TestUDPReceiveSplitsBySender interleaves runs from two senders: every
// datagram must carry its own sender's endpoint, even when a coalesced
// message is handed out across several receive calls.
func TestUDPReceiveSplitsBySender(t *testing.T) {
	for _, mode := range offloadModes {
		t.Run(mode.name, func(t *testing.T) {
			receiver, fn, to := openLoopback(t, false, mode.off)
			var senders []*UDP
			var froms []netip.AddrPort
			for range 2 {
				s, _, from := openLoopback(t, false, mode.off)
				senders, froms = append(senders, s), append(froms, from)
			}
			const rounds, run = 6, 20
			for r := range rounds {
				for id, s := range senders {
					batch := datagrams(0, repeat(1000, run)...)
					for i, d := range batch {
						d[0], d[1], d[2] = byte(id), byte(r), byte(i)
					}
					if err := s.Send(batch, Endpoint{Addr: to}); err != nil {
						t.Fatal(err)
					}
				}
			}
			next := make([]int, len(senders))
			for _, g := range receiveN(t, receiver, fn, rounds*run*len(senders), 3) {
				id := int(g.data[0])
				if id >= len(senders) || g.ep.Addr != froms[id] {
					t.Fatalf("datagram of sender %d from %v (senders %v)", id, g.ep.Addr, froms)
				}
				if seq := int(g.data[1])*run + int(g.data[2]); seq != next[id] {
					t.Fatalf("sender %d: datagram %d arrived as number %d", id, seq, next[id])
				}
				next[id]++
			}
		})
	}
}

// TestUDPOversizedDropped: a datagram larger than the caller's buffer is
// dropped and counted, not cut short and not blocking the ones after it.
func TestUDPOversizedDropped(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("x/net's batches hand truncated datagrams over")
	}
	for _, mode := range offloadModes {
		t.Run(mode.name, func(t *testing.T) {
			sender, _, _ := openLoopback(t, false, mode.off)
			receiver, fn, to := openLoopback(t, false, mode.off)
			for _, d := range datagrams(1, 20000, 300) {
				if err := sender.Send([][]byte{d}, Endpoint{Addr: to}); err != nil {
					t.Fatal(err)
				}
			}
			got := receiveN(t, receiver, fn, 1, UDPBatchSize)
			if len(got[0].data) != 300 {
				t.Fatalf("got a %d-byte datagram, want the 300-byte one", len(got[0].data))
			}
			if s := receiver.Stats(); s.Oversized != 1 {
				t.Fatalf("oversized count %d, want 1", s.Oversized)
			}
		})
	}
}

// TestUDPMappedAddress: an IPv4-mapped IPv6 address leaves through the
// IPv4 socket (the IPv6 sockets are v6-only) and arrives from a plain IPv4
// address.
func TestUDPMappedAddress(t *testing.T) {
	sender, _, from := openLoopback(t, true, false)
	receiver, fn, _ := openLoopback(t, false, false)
	to4 := netip.AddrPortFrom(loopback(false), receiver.Ports()[0])
	mapped := netip.AddrPortFrom(netip.AddrFrom16(to4.Addr().As16()), to4.Port())
	if err := sender.Send(datagrams(3, 100, 100), Endpoint{Addr: mapped}); err != nil {
		t.Fatal(err)
	}
	if err := sender.SendTTL(datagrams(4, 100)[0], Endpoint{Addr: mapped}, 8); err != nil {
		t.Fatal(err)
	}
	for _, g := range receiveN(t, receiver, fn, 3, UDPBatchSize) {
		if g.ep.Addr != netip.AddrPortFrom(loopback(false), from.Port()) {
			t.Fatalf("from %v", g.ep.Addr)
		}
	}
}

// TestUDPCloseUnblocksReceiver in both modes, with nothing to read.
func TestUDPCloseUnblocksReceiver(t *testing.T) {
	testutil.NoGoroutineLeak(t)
	for _, mode := range offloadModes {
		t.Run(mode.name, func(t *testing.T) {
			u, fn, _ := openLoopback(t, false, mode.off)
			done := make(chan error)
			go func() {
				bufs, sizes, eps := [][]byte{make([]byte, MaxDatagram)}, []int{0}, []Endpoint{{}}
				_, err := fn(bufs, sizes, eps)
				done <- err
			}()
			time.Sleep(20 * time.Millisecond) // let it block in the poller
			u.Close()
			select {
			case err := <-done:
				if !errors.Is(err, ErrClosed) {
					t.Fatalf("receive after Close: %v", err)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("Close did not unblock the receiver")
			}
		})
	}
}

// TestUDPSteadyStateAllocs: once warm, sending a batch and receiving it
// allocates nothing, whether GSO/GRO or plain recvmmsg/sendmmsg carry it.
func TestUDPSteadyStateAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items on purpose under the race detector")
	}
	for _, mode := range offloadModes {
		for _, batch := range []int{1, 2, 64} {
			t.Run(fmt.Sprintf("%s/%d", mode.name, batch), func(t *testing.T) {
				sender, _, _ := openLoopback(t, false, mode.off)
				_, fn, to := openLoopback(t, false, mode.off)
				out := datagrams(0, repeat(1432, batch)...)
				bufs := make([][]byte, UDPBatchSize)
				for i := range bufs {
					bufs[i] = make([]byte, MaxDatagram)
				}
				sizes, eps := make([]int, len(bufs)), make([]Endpoint, len(bufs))
				ep := Endpoint{Addr: to}
				roundTrip := func() {
					if err := sender.Send(out, ep); err != nil {
						t.Fatal(err)
					}
					for got := 0; got < batch; {
						n, err := fn(bufs, sizes, eps)
						if err != nil {
							t.Fatal(err)
						}
						got += n
					}
				}
				roundTrip()
				if allocs := testing.AllocsPerRun(200, roundTrip); allocs != 0 {
					t.Fatalf("%.1f allocations per batch of %d", allocs, batch)
				}
			})
		}
	}
}
