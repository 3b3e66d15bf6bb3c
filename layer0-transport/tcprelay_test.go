package transport

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ztgo/ztgo/internal/testutil"
)

func eventually(t *testing.T, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in time")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestRecordFraming(t *testing.T) {
	hello := AppendRecord(nil, []byte{1, 14, 0, 1})
	if !bytes.Equal(hello, []byte{0x17, 0x03, 0x03, 0x00, 0x04, 0x01, 0x0e, 0x00, 0x01}) {
		t.Fatalf("hello %x (vl1-peers.md §11.2)", hello)
	}
	msg := AppendAddressed(nil, netip.MustParseAddrPort("198.18.0.1:9993"), []byte("data"))
	ap, data, err := ParseAddressed(msg)
	if err != nil || ap != netip.MustParseAddrPort("198.18.0.1:9993") || string(data) != "data" {
		t.Fatalf("%v %q %v", ap, data, err)
	}
	for _, bad := range [][]byte{{}, {0x04, 1, 2}, {0x06, 1}, {0x05, 1, 2, 3, 4, 5, 6}} {
		if _, _, err := ParseAddressed(bad); err == nil {
			t.Errorf("%x parsed", bad)
		}
	}
}

func TestTunnelThroughRelay(t *testing.T) {
	testutil.NoGoroutineLeak(t)
	ln, _ := net.Listen("tcp4", "127.0.0.1:0")
	srv := &RelayServer{IdleTimeout: time.Minute}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error)
	go func() { served <- srv.Serve(ctx, ln) }()
	// A UDP peer that echoes.
	echo, _ := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	go func() {
		buf := make([]byte, 2048)
		for {
			n, from, err := echo.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			echo.WriteToUDPAddrPort(append([]byte("echo:"), buf[:n]...), from)
		}
	}()
	got := make(chan string, 4)
	peer := netip.MustParseAddrPort(echo.LocalAddr().String())
	tun := NewTCPTunnel(ln.Addr().String(), 1, 14, 1, func(from netip.AddrPort, data []byte) {
		if from == peer {
			got <- string(data)
		}
	})
	tun.Want(true)
	eventually(t, 5*time.Second, tun.Up)
	// Garbage from another client does not hurt the relay.
	junk, _ := net.Dial("tcp4", ln.Addr().String())
	garbage := make([]byte, 64<<10)
	rand.Read(garbage)
	junk.Write(garbage)
	junk.Close()
	if !tun.Send([][]byte{[]byte("sixteen bytes...")}, peer) {
		t.Fatal("send failed")
	}
	select {
	case s := <-got:
		if s != "echo:sixteen bytes..." {
			t.Fatalf("got %q", s)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no reply through the relay")
	}
	// Too short for the relay to forward (it wants ≥ 16 bytes).
	tun.Send([][]byte{[]byte("short")}, peer)
	select {
	case s := <-got:
		t.Fatalf("short datagram forwarded: %q", s)
	case <-time.After(200 * time.Millisecond):
	}
	tun.Want(false)
	eventually(t, 5*time.Second, func() bool { return !tun.Up() })
	tun.Close()
	echo.Close()
	cancel()
	if err := <-served; err != nil {
		t.Fatal(err)
	}
}

func TestRelayIdleTimeoutAndLimit(t *testing.T) {
	ln, _ := net.Listen("tcp4", "127.0.0.1:0")
	srv := &RelayServer{IdleTimeout: 200 * time.Millisecond, MaxConns: 1}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go srv.Serve(ctx, ln)
	c1, _ := net.Dial("tcp4", ln.Addr().String())
	defer c1.Close()
	eventually(t, 2*time.Second, func() bool { return srv.Active() == 1 })
	c2, _ := net.Dial("tcp4", ln.Addr().String())
	c2.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := c2.Read(make([]byte, 1)); err == nil {
		t.Fatal("second client accepted over the limit")
	}
	c1.SetReadDeadline(time.Now().Add(3 * time.Second))
	if _, err := c1.Read(make([]byte, 1)); err == nil {
		t.Fatal("idle client not disconnected")
	}
}

// TestTCPBindIsABind: the relay behind the Bind interface, as UDP is.
func TestTCPBindIsABind(t *testing.T) {
	ln, _ := net.Listen("tcp4", "127.0.0.1:0")
	srv := &RelayServer{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go srv.Serve(ctx, ln)
	echo, _ := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	defer echo.Close()
	go func() {
		buf := make([]byte, 2048)
		n, from, err := echo.ReadFromUDPAddrPort(buf)
		if err == nil {
			echo.WriteToUDPAddrPort(buf[:n], from)
		}
	}()
	var b Bind = NewTCPBind(ln.Addr().String(), 1, 14, 1)
	defer b.Close()
	fns, _, _ := b.Open(0)
	to := Endpoint{Addr: netip.MustParseAddrPort(echo.LocalAddr().String())}
	if err := b.Send([][]byte{[]byte("0123456789abcdef")}, to); err != ErrTunnelDown {
		t.Fatalf("send while down: %v", err)
	}
	b.(*TCPBind).Connect(true)
	eventually(t, 5*time.Second, b.(*TCPBind).Up)
	if err := b.Send([][]byte{[]byte("0123456789abcdef")}, to); err != nil {
		t.Fatal(err)
	}
	bufs, sizes, eps := [][]byte{make([]byte, 100)}, []int{0}, []Endpoint{{}}
	n, err := fns[0](bufs, sizes, eps)
	if err != nil || n != 1 || string(bufs[0][:sizes[0]]) != "0123456789abcdef" || eps[0].Addr != to.Addr {
		t.Fatalf("%d %v %q %v", n, err, bufs[0][:sizes[0]], eps[0])
	}
	// The writer counts after its write returns, maybe after the echo.
	eventually(t, 5*time.Second, func() bool { return b.(*TCPBind).Stats().Sent == 1 })
	if s := b.(*TCPBind).Stats(); s.DroppedDown != 1 || s.Connects != 1 {
		t.Fatalf("stats %+v, want the one sent while up and the one refused while down", s)
	}
}

// startEcho runs a UDP peer that answers every datagram with "echo:" and
// the datagram, until the test ends.
func startEcho(t *testing.T) netip.AddrPort {
	t.Helper()
	echo, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 2048)
		for {
			n, from, err := echo.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			echo.WriteToUDPAddrPort(append([]byte("echo:"), buf[:n]...), from)
		}
	}()
	t.Cleanup(func() { echo.Close(); <-done })
	return netip.MustParseAddrPort(echo.LocalAddr().String())
}

// startRelay serves a RelayServer on ln until the test ends.
func startRelay(t *testing.T, srv *RelayServer, ln net.Listener) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error)
	go func() { served <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-served; err != nil {
			t.Error(err)
		}
	})
}

// stallListener hands connections to the relay server, except while
// stalled: then it keeps them and never reads a byte, like a relay whose
// host froze after accepting.
type stallListener struct {
	net.Listener
	stalled atomic.Bool
	mu      sync.Mutex
	held    []net.Conn
}

func (l *stallListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil || !l.stalled.Load() {
			return c, err
		}
		c.(*net.TCPConn).SetReadBuffer(4096) // keep the kernel from absorbing much
		l.mu.Lock()
		l.held = append(l.held, c)
		l.mu.Unlock()
	}
}

// resume lets new connections through and drops the stalled ones.
func (l *stallListener) resume() {
	l.stalled.Store(false)
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, c := range l.held {
		c.Close()
	}
	l.held = nil
}

// echoes sends probes through tun every 100 ms until one comes back.
func echoes(t *testing.T, tun *TCPTunnel, peer netip.AddrPort, got <-chan string, within time.Duration) {
	t.Helper()
	probe := []byte("sixteen bytes...")
	deadline := time.After(within)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		tun.Send([][]byte{probe}, peer)
		select {
		case s := <-got:
			if s == "echo:"+string(probe) {
				return
			}
		case <-tick.C:
		case <-deadline:
			t.Fatalf("no echo through the relay within %v (stats %+v)", within, tun.Stats())
		}
	}
}

// TestTunnelStalledRelay: a relay that accepts and then reads nothing
// never holds up Send; the queue's overflow is counted, the stalled
// connection is dropped at its write deadline, and the tunnel works again
// once the relay does.
func TestTunnelStalledRelay(t *testing.T) {
	testutil.NoGoroutineLeak(t)
	inner, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := &stallListener{Listener: inner}
	ln.stalled.Store(true)
	defer ln.resume()
	startRelay(t, &RelayServer{}, ln)
	peer := startEcho(t)
	tun, got := collectingTunnel(ln.Addr().String())
	defer tun.Close()
	tun.QueueLen = 64
	tun.WriteTimeout = 300 * time.Millisecond
	tun.Want(true)
	eventually(t, 5*time.Second, tun.Up)

	// A small send buffer, so that the kernel holds only a few datagrams
	// for the relay that reads nothing and the writer stalls at once.
	tun.mu.Lock()
	tun.cur.c.(*net.TCPConn).SetWriteBuffer(4096)
	tun.mu.Unlock()
	const sends = 10000
	payload := make([]byte, 1400)
	returned := make(chan struct{})
	go func() {
		defer close(returned)
		for range sends {
			tun.Send([][]byte{payload}, peer)
		}
	}()
	select {
	case <-returned:
	case <-time.After(20 * time.Second):
		t.Fatalf("Send blocked behind the stalled relay (stats %+v)", tun.Stats())
	}
	if ln.mu.Lock(); len(ln.held) == 0 {
		t.Fatal("the tunnel never reached the stalled relay")
	}
	ln.mu.Unlock()
	eventually(t, 5*time.Second, func() bool { return tun.Stats().WriteTimeouts >= 1 })
	eventually(t, 5*time.Second, func() bool {
		s := tun.Stats()
		return s.Sent+s.DroppedFull+s.DroppedDown == sends
	})
	if s := tun.Stats(); s.DroppedFull == 0 {
		t.Fatalf("a stalled relay yet nothing dropped for a full queue: %+v", s)
	}

	ln.resume()
	echoes(t, tun, peer, got, 10*time.Second)
	if s := tun.Stats(); s.Connects < 2 {
		t.Fatalf("recovered without reconnecting? %+v", s)
	}
}

// TestTunnelSendCounts: datagrams sent while the tunnel is down, or too
// long for a record, are refused and counted.
func TestTunnelSendCounts(t *testing.T) {
	tun := NewTCPTunnel("127.0.0.1:1", 1, 14, 1, func(netip.AddrPort, []byte) {})
	defer tun.Close()
	peer := netip.MustParseAddrPort("198.18.0.1:9993")
	if tun.Send([][]byte{make([]byte, 100), make([]byte, 100)}, peer) {
		t.Fatal("send while down reported success")
	}
	tun.Send([][]byte{make([]byte, maxRecord)}, peer)
	if s := tun.Stats(); s.DroppedDown != 2 || s.DroppedOversize != 1 || s.Sent != 0 {
		t.Fatalf("%+v", s)
	}
}

// TestRelayServerSlowClient: a client that stops reading loses its
// replies and then its connection, while another client's traffic goes on.
func TestRelayServerSlowClient(t *testing.T) {
	testutil.NoGoroutineLeak(t)
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &RelayServer{QueueLen: 32, WriteTimeout: 2 * time.Second}
	startRelay(t, srv, ln)

	// The slow client says hello, has the relay send one datagram to a
	// UDP sink (which so learns the relay's UDP port for the client), and
	// then never reads.
	slow, err := net.Dial("tcp4", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	slow.(*net.TCPConn).SetReadBuffer(4096)
	sink, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	sinkAddr := netip.MustParseAddrPort(sink.LocalAddr().String())
	hello := AppendRecord(nil, []byte{1, 14, 0, 1})
	if _, err := slow.Write(AppendRecord(hello, AppendAddressed(nil, sinkAddr, []byte("where are you...")))); err != nil {
		t.Fatal(err)
	}
	sink.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, relayForSlow, err := sink.ReadFromUDPAddrPort(make([]byte, 64))
	if err != nil {
		t.Fatal(err)
	}
	stopFlood, flooded := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(flooded)
		junk := make([]byte, 1000)
		for {
			select {
			case <-stopFlood:
				return
			default:
			}
			for range 100 {
				sink.WriteToUDPAddrPort(junk, relayForSlow)
			}
			time.Sleep(time.Millisecond)
		}
	}()
	defer func() { close(stopFlood); <-flooded }()

	peer := startEcho(t)
	tun, got := collectingTunnel(ln.Addr().String())
	defer tun.Close()
	tun.Want(true)
	echoes(t, tun, peer, got, 5*time.Second)
	// The slow client's queue overflows: it is stalled, and for the next
	// WriteTimeout the good client must be served all the same.
	eventually(t, 5*time.Second, func() bool { return srv.Stats().DroppedFull > 0 })
	for range 5 {
		echoes(t, tun, peer, got, 5*time.Second)
	}
	if s := srv.Stats(); s.WriteTimeouts != 0 || s.Active != 2 {
		t.Fatalf("the slow client was dropped before the good one's echoes came back: %+v", s)
	}
	eventually(t, 5*time.Second, func() bool { return srv.Stats().WriteTimeouts == 1 && srv.Active() == 1 })
	echoes(t, tun, peer, got, 5*time.Second)
}

// collectingTunnel is a tunnel to relay whose datagrams land in got (up to
// 16 waiting; more are dropped, as a socket would).
func collectingTunnel(relay string) (*TCPTunnel, chan string) {
	got := make(chan string, 16)
	tun := NewTCPTunnel(relay, 1, 14, 1, func(_ netip.AddrPort, data []byte) {
		select {
		case got <- string(data):
		default:
		}
	})
	return tun, got
}

// TestRelayPerIPLimit: one host cannot take every slot (issue 11, defect
// 10); another address still gets in.
func TestRelayPerIPLimit(t *testing.T) {
	ln, _ := net.Listen("tcp4", "127.0.0.1:0")
	srv := &RelayServer{MaxConns: 100, MaxPerIP: 2}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() { srv.Serve(ctx, ln); close(done) }()
	defer func() { cancel(); <-done }()
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for range 2 {
		c, err := net.Dial("tcp4", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	eventually(t, 2*time.Second, func() bool { return srv.Active() == 2 })
	third, _ := net.Dial("tcp4", ln.Addr().String())
	defer third.Close()
	third.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := third.Read(make([]byte, 1)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("a third connection from one address was kept: %v", err)
	}
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}}
	other, err := d.Dial("tcp4", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	conns = append(conns, other)
	eventually(t, 2*time.Second, func() bool { return srv.Active() == 3 })
}

// flakyListener fails its first Accepts with a non-timeout error, as a
// process out of file descriptors sees EMFILE.
type flakyListener struct {
	net.Listener
	fails atomic.Int32
}

func (l *flakyListener) Accept() (net.Conn, error) {
	if l.fails.Add(-1) >= 0 {
		return nil, &net.OpError{Op: "accept", Net: "tcp", Err: syscall.EMFILE}
	}
	return l.Listener.Accept()
}

// TestRelaySurvivesAcceptErrors: EMFILE and the like make the relay wait
// and retry, not exit.
func TestRelaySurvivesAcceptErrors(t *testing.T) {
	inner, _ := net.Listen("tcp4", "127.0.0.1:0")
	ln := &flakyListener{Listener: inner}
	ln.fails.Store(3)
	srv := &RelayServer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	c, err := net.Dial("tcp4", inner.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	eventually(t, 5*time.Second, func() bool { return srv.Active() == 1 })
	select {
	case err := <-done:
		t.Fatalf("Serve returned after accept errors: %v", err)
	default:
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Serve: %v", err)
	}
}

// TestTunnelWantFlap: wanting the tunnel off and on again within the
// reconnect backoff keeps one connection, and Close still returns.
func TestTunnelWantFlap(t *testing.T) {
	testutil.NoGoroutineLeak(t)
	ln, _ := net.Listen("tcp4", "127.0.0.1:0")
	srv := &RelayServer{}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error)
	go func() { served <- srv.Serve(ctx, ln) }()
	tun := NewTCPTunnel(ln.Addr().String(), 1, 14, 1, func(netip.AddrPort, []byte) {})
	tun.Want(true)
	eventually(t, 5*time.Second, tun.Up)
	tun.Want(false)
	eventually(t, 5*time.Second, func() bool { return !tun.Up() && srv.Active() == 0 })
	tun.Want(true)
	eventually(t, 5*time.Second, tun.Up)
	time.Sleep(time.Second) // past the backoff of the first loop
	if n := srv.Active(); n != 1 {
		t.Errorf("%d relay connections, want 1", n)
	}
	closed := make(chan struct{})
	go func() { tun.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Error("Close hangs")
		cancel()
		<-closed
	}
	cancel()
	<-served
}
