package transport

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ztgo/ztgo/internal/testutil"
)

// fakeClock is a Fallback's clock that moves only when told.
type fakeClock struct{ ns atomic.Int64 }

func newFakeClock() *fakeClock {
	c := &fakeClock{}
	c.ns.Store(time.Unix(1_000_000_000, 0).UnixNano())
	return c
}

func (c *fakeClock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

// fallbackRig is a Fallback on loopback UDP with a real relay server on
// loopback, and a UDP peer that records who sends it what.
type fallbackRig struct {
	t       *testing.T
	b       *Fallback
	clock   *fakeClock
	relay   *RelayServer
	peer    *net.UDPConn
	peerAP  netip.AddrPort
	udpAP   netip.AddrPort // the fallback's UDP socket, as the peer sees it
	got     chan datagram  // what the peer received
	back    chan datagram  // what the fallback's receive functions returned
	tunSock int
	stop    func()
}

type datagram struct {
	from   netip.AddrPort
	socket int
	data   string
}

const fallbackAfter = 10 * time.Second // on the fake clock

func newFallbackRig(t *testing.T, opts FallbackOptions) *fallbackRig {
	t.Helper()
	r := &fallbackRig{t: t, clock: newFakeClock(), got: make(chan datagram, 64), back: make(chan datagram, 64)}
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r.relay = &RelayServer{IdleTimeout: time.Minute}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); r.relay.Serve(ctx, ln) }()

	r.peer, err = net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	r.peerAP = netip.MustParseAddrPort(r.peer.LocalAddr().String())
	wg.Add(1)
	go func() {
		defer wg.Done()
		buf := make([]byte, 2048)
		for {
			n, from, err := r.peer.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			r.got <- datagram{from: from, data: string(buf[:n])}
		}
	}()

	opts.Relay = ln.Addr().String()
	opts.After = fallbackAfter
	opts.Now = r.clock.Now
	r.b, err = NewFallback(NewUDP(UDPOptions{ListenAddr4: netip.MustParseAddr("127.0.0.1"), IPv4Only: true}), opts)
	if err != nil {
		t.Fatal(err)
	}
	fns, port, err := r.b.Open(0)
	if err != nil {
		t.Fatal(err)
	}
	r.udpAP = netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), port)
	r.tunSock = r.b.TunnelSocket()
	if r.tunSock != 1 || len(fns) != 2 {
		t.Fatalf("one UDP socket: tunnel socket %d, %d receive functions", r.tunSock, len(fns))
	}
	for _, fn := range fns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			bufs, sizes, eps := [][]byte{make([]byte, 2048)}, make([]int, 1), make([]Endpoint, 1)
			for {
				n, err := fn(bufs, sizes, eps)
				if errors.Is(err, ErrClosed) {
					return
				}
				for i := range n {
					r.back <- datagram{from: eps[i].Addr, socket: eps[i].Socket, data: string(bufs[i][:sizes[i]])}
				}
			}
		}()
	}
	r.stop = func() {
		if err := r.b.Close(); err != nil {
			t.Error(err)
		}
		r.peer.Close()
		cancel()
		wg.Wait()
	}
	return r
}

// send sends msg to the peer from the fallback, through socket.
func (r *fallbackRig) send(msg string, socket int) {
	r.t.Helper()
	if err := r.b.Send([][]byte{[]byte(msg)}, Endpoint{Addr: r.peerAP, Socket: socket}); err != nil {
		r.t.Fatalf("send %q: %v", msg, err)
	}
}

// expect waits for msg at the peer and says where it came from: "udp" or
// "relay".
func (r *fallbackRig) expect(msg string) string {
	r.t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case d := <-r.got:
			if d.data != msg {
				continue
			}
			if d.from == r.udpAP {
				return "udp"
			}
			return "relay"
		case <-timeout:
			r.t.Fatalf("%q never arrived", msg)
		}
	}
}

// quiet checks that nothing more reaches the peer for a while.
func (r *fallbackRig) quiet() {
	r.t.Helper()
	select {
	case d := <-r.got:
		r.t.Fatalf("unexpected %q from %v", d.data, d.from)
	case <-time.After(300 * time.Millisecond):
	}
}

// TestFallbackToRelayAndBack: UDP silent for After → packets go through the
// relay as well as UDP, and replies come back on the tunnel socket; UDP
// heard again → UDP only, and the relay connection closes.
func TestFallbackToRelayAndBack(t *testing.T) {
	testutil.NoGoroutineLeak(t)
	r := newFallbackRig(t, FallbackOptions{})
	defer r.stop()
	if r.b.BatchSize() != UDPBatchSize {
		t.Fatalf("batch size %d", r.b.BatchSize())
	}

	// Within the start-up grace: UDP only, the relay is not even dialled.
	r.send("first, sixteen bytes or more", 0)
	if from := r.expect("first, sixteen bytes or more"); from != "udp" {
		t.Fatalf("first packet via %s", from)
	}
	r.quiet()
	if r.b.Tunneled() {
		t.Fatal("tunneled before the delay")
	}
	if s, ok := r.b.RelayStats(); !ok || s.Connects != 0 {
		t.Fatalf("relay stats %+v %v", s, ok)
	}

	// Silence for longer than After: the next send dials the relay, and
	// once it is up packets go both ways.
	r.clock.Advance(fallbackAfter + time.Second)
	r.send("dials the relay, sixteen bytes", 0)
	if from := r.expect("dials the relay, sixteen bytes"); from != "udp" {
		t.Fatalf("via %s", from)
	}
	eventually(t, 5*time.Second, r.b.Tunneled)
	r.send("tunnelled and direct, 16 bytes", 0)
	seen := map[string]bool{}
	seen[r.expect("tunnelled and direct, 16 bytes")] = true
	seen[r.expect("tunnelled and direct, 16 bytes")] = true
	if !seen["udp"] || !seen["relay"] {
		t.Fatalf("want both paths, got %v", seen)
	}
	// A reply to the relay's address comes back on the tunnel socket, from
	// the peer; sending on that socket uses the relay only.
	var relayAP netip.AddrPort
	r.send("learn the relay's address......", r.tunSock)
	timeout := time.After(5 * time.Second)
	for !relayAP.IsValid() {
		select {
		case d := <-r.got:
			if d.data == "learn the relay's address......" {
				if d.from == r.udpAP {
					t.Fatal("tunnel socket sent over UDP")
				}
				relayAP = d.from
			}
		case <-timeout:
			t.Fatal("nothing through the tunnel socket")
		}
	}
	r.quiet()
	r.peer.WriteToUDPAddrPort([]byte("reply through the relay, 16+"), relayAP)
	select {
	case d := <-r.back:
		if d.socket != r.tunSock || d.from != r.peerAP || d.data != "reply through the relay, 16+" {
			t.Fatalf("reply %+v", d)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no reply through the relay")
	}
	// Still silent on UDP: the relay's traffic does not count as UDP.
	r.send("still tunnelled, sixteen bytes", 0)
	seen = map[string]bool{}
	seen[r.expect("still tunnelled, sixteen bytes")] = true
	seen[r.expect("still tunnelled, sixteen bytes")] = true
	if !seen["udp"] || !seen["relay"] {
		t.Fatalf("want both paths, got %v", seen)
	}

	// UDP heard: the next send goes by UDP only and hangs up on the relay.
	r.peer.WriteToUDPAddrPort([]byte("direct reply, sixteen bytes"), r.udpAP)
	select {
	case d := <-r.back:
		if d.socket != 0 || d.from != r.peerAP {
			t.Fatalf("direct reply %+v", d)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no direct reply")
	}
	r.send("back to UDP only, sixteen bytes", 0)
	if from := r.expect("back to UDP only, sixteen bytes"); from != "udp" {
		t.Fatalf("via %s", from)
	}
	r.quiet()
	eventually(t, 5*time.Second, func() bool { return !r.b.Tunneled() })
	eventually(t, 5*time.Second, func() bool { return r.relay.Active() == 0 })
	if s, _ := r.b.RelayStats(); s.Connects != 1 || s.Sent < 3 {
		t.Fatalf("relay stats %+v", s)
	}

	// Silent again for After: back through the relay.
	r.clock.Advance(fallbackAfter + time.Second)
	r.send("silent again, sixteen bytes...", 0)
	r.expect("silent again, sixteen bytes...")
	eventually(t, 5*time.Second, r.b.Tunneled)
}

// TestFallbackUDPHeardKeepsRelayOff: while UDP is heard the relay is never
// dialled, however long the bind has been open.
func TestFallbackUDPHeardKeepsRelayOff(t *testing.T) {
	testutil.NoGoroutineLeak(t)
	r := newFallbackRig(t, FallbackOptions{})
	defer r.stop()
	for i := range 3 {
		r.clock.Advance(fallbackAfter / 3)
		r.peer.WriteToUDPAddrPort([]byte("keepalive, sixteen bytes"), r.udpAP)
		<-r.back
		r.clock.Advance(fallbackAfter / 3)
		r.send("udp works, sixteen bytes", 0)
		if from := r.expect("udp works, sixteen bytes"); from != "udp" {
			t.Fatalf("round %d via %s", i, from)
		}
	}
	time.Sleep(100 * time.Millisecond)
	if s, _ := r.b.RelayStats(); s.Connects != 0 || r.relay.Active() != 0 {
		t.Fatalf("relay dialled: %+v", s)
	}
}

// TestFallbackForce: forceTcpRelay sends through the relay only, from the
// first packet, and no TTL probes.
func TestFallbackForce(t *testing.T) {
	testutil.NoGoroutineLeak(t)
	r := newFallbackRig(t, FallbackOptions{Force: true})
	defer r.stop()
	r.send("dials at once, sixteen bytes", 0) // lost: the relay is not up yet
	eventually(t, 5*time.Second, r.b.Tunneled)
	r.send("forced through the relay......", 0)
	if from := r.expect("forced through the relay......"); from != "relay" {
		t.Fatalf("via %s", from)
	}
	if err := r.b.SendTTL([]byte("ttl probe, sixteen bytes"), Endpoint{Addr: r.peerAP}, 2); err != nil {
		t.Fatal(err)
	}
	r.quiet()
}

// TestFallbackNoRelay: without a relay the bind is plain UDP.
func TestFallbackNoRelay(t *testing.T) {
	testutil.NoGoroutineLeak(t)
	if _, err := NewFallback(NewUDP(UDPOptions{}), FallbackOptions{Relay: "not an address"}); err == nil {
		t.Fatal("bad relay address accepted")
	}
	b, err := NewFallback(NewUDP(UDPOptions{ListenAddr4: netip.MustParseAddr("127.0.0.1"), IPv4Only: true}), FallbackOptions{Force: true, After: time.Nanosecond})
	if err != nil {
		t.Fatal(err)
	}
	fns, port, err := b.Open(0)
	if err != nil || len(fns) != 1 || port == 0 {
		t.Fatalf("open: %d functions, port %d, %v", len(fns), port, err)
	}
	if _, _, err := b.Open(0); err == nil {
		t.Fatal("opened twice")
	}
	peer, _ := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	defer peer.Close()
	// Force without a relay is ignored: UDP still carries everything.
	time.Sleep(time.Millisecond)
	if err := b.Send([][]byte{[]byte("plain udp, sixteen bytes")}, Endpoint{Addr: netip.MustParseAddrPort(peer.LocalAddr().String())}); err != nil {
		t.Fatal(err)
	}
	peer.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 64)
	if n, _, err := peer.ReadFromUDPAddrPort(buf); err != nil || string(buf[:n]) != "plain udp, sixteen bytes" {
		t.Fatalf("%q %v", buf[:n], err)
	}
	if b.Tunneled() || b.TunnelSocket() != -2 {
		t.Fatal("tunnel without a relay")
	}
	if _, ok := b.RelayStats(); ok {
		t.Fatal("relay stats without a relay")
	}
	b.Close()
	if _, err := fns[0]([][]byte{buf}, []int{0}, []Endpoint{{}}); !errors.Is(err, ErrClosed) {
		t.Fatalf("receive after close: %v", err)
	}
}

// TestFallbackReopen: Open, Close, Open again works, and Close unblocks
// every receive function (the relay's too) and leaks nothing.
func TestFallbackReopen(t *testing.T) {
	testutil.NoGoroutineLeak(t)
	ln, _ := net.Listen("tcp4", "127.0.0.1:0")
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error)
	go func() { served <- (&RelayServer{}).Serve(ctx, ln) }()
	b, err := NewFallback(NewUDP(UDPOptions{ListenAddr4: netip.MustParseAddr("127.0.0.1"), IPv4Only: true}),
		FallbackOptions{Relay: ln.Addr().String(), Force: true})
	if err != nil {
		t.Fatal(err)
	}
	for round := range 2 {
		fns, _, err := b.Open(0)
		if err != nil || len(fns) != 2 {
			t.Fatalf("round %d: %d functions, %v", round, len(fns), err)
		}
		b.Send([][]byte{[]byte("connect, sixteen bytes")}, Endpoint{Addr: netip.MustParseAddrPort("127.0.0.1:5000")})
		eventually(t, 5*time.Second, b.Tunneled)
		done := make(chan error, len(fns))
		for _, fn := range fns {
			go func() {
				for {
					_, err := fn([][]byte{make([]byte, 2048)}, []int{0}, []Endpoint{{}})
					if err != nil {
						done <- err
						return
					}
				}
			}()
		}
		b.Close()
		for range fns {
			if err := <-done; !errors.Is(err, ErrClosed) {
				t.Fatalf("round %d: receive ended with %v", round, err)
			}
		}
		if b.Tunneled() {
			t.Fatal("tunneled after close")
		}
		if err := b.Send([][]byte{[]byte("closed, sixteen bytes")}, Endpoint{Addr: netip.MustParseAddrPort("127.0.0.1:5000")}); !errors.Is(err, ErrClosed) {
			t.Fatalf("send after close: %v", err)
		}
	}
	b.Close() // twice is fine
	cancel()
	if err := <-served; err != nil {
		t.Fatal(err)
	}
}

// TestFallbackCountsBytes: Bytes counts the datagram bytes sent and
// received, by UDP and through the relay.
func TestFallbackCountsBytes(t *testing.T) {
	testutil.NoGoroutineLeak(t)
	r := newFallbackRig(t, FallbackOptions{})
	defer r.stop()
	const out, in = "by UDP, sixteen bytes or more", "a reply of 20 bytes."
	r.send(out, 0)
	r.expect(out)
	r.peer.WriteToUDPAddrPort([]byte(in), r.udpAP)
	<-r.back
	if c := r.b.Bytes(); c != (ByteCounts{UDPSent: uint64(len(out)), UDPReceived: uint64(len(in))}) {
		t.Fatalf("after UDP: %+v", c)
	}

	r.clock.Advance(fallbackAfter + time.Second)
	r.send(out, 0) // dials the relay
	r.expect(out)
	eventually(t, 5*time.Second, r.b.Tunneled)
	const tunneled, reply = "through the relay only, 16+", "reply via the relay"
	r.send(tunneled, r.tunSock)
	var relayAP netip.AddrPort
	for timeout := time.After(5 * time.Second); !relayAP.IsValid(); {
		select {
		case d := <-r.got:
			if d.data == tunneled {
				relayAP = d.from
			}
		case <-timeout:
			t.Fatal("nothing through the relay")
		}
	}
	r.peer.WriteToUDPAddrPort([]byte(reply), relayAP)
	<-r.back
	want := ByteCounts{UDPSent: 2 * uint64(len(out)), UDPReceived: uint64(len(in)), TCPSent: uint64(len(tunneled)), TCPReceived: uint64(len(reply))}
	if c := r.b.Bytes(); c != want {
		t.Fatalf("after the relay: %+v, want %+v", c, want)
	}
}
