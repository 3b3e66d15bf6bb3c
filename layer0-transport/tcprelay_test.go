package transport

import (
	"bytes"
	"context"
	"crypto/rand"
	"net"
	"net/netip"
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
}
