package transport

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/ztgo/ztgo/internal/testutil"
)

func TestParseEndpoint(t *testing.T) {
	for in, want := range map[string]string{
		"198.18.0.1/9993":      "198.18.0.1/9993",
		"198.18.0.1:9993":      "198.18.0.1/9993",
		"[2001:db8::1]:443":    "2001:db8::1/443",
		"2001:db8::1/443":      "2001:db8::1/443",
		"::ffff:198.18.0.1/12": "198.18.0.1/12",
	} {
		ep, err := ParseEndpoint(in)
		if err != nil || ep.String() != want {
			t.Errorf("%s: %v %v, want %s", in, ep, err, want)
		}
	}
	for _, bad := range []string{"", "1.2.3.4", "1.2.3.4/70000", "host:1", "1.2.3.4/x"} {
		if _, err := ParseEndpoint(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

// TestUDPLoopback sends a batch between two binds on 127.0.0.1 and reads it
// back through the batched receive function, from both ports of a bind
// with a secondary port.
func TestUDPLoopback(t *testing.T) {
	testutil.NoGoroutineLeak(t)
	lo := netip.MustParseAddr("127.0.0.1")
	a := NewUDP(UDPOptions{IPv4Only: true, ListenAddr4: lo, SecondaryPort: true})
	b := NewUDP(UDPOptions{IPv4Only: true, ListenAddr4: lo})
	afns, _, err := a.Open(0)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	bfns, bport, err := b.Open(0)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if len(afns) != 2 || len(a.Ports()) != 2 || len(bfns) != 1 {
		t.Fatalf("receive funcs %d/%d ports %v", len(afns), len(bfns), a.Ports())
	}
	to := Endpoint{Addr: netip.AddrPortFrom(lo, bport), Socket: AnySocket}
	if err := a.Send([][]byte{[]byte("one"), []byte("two")}, to); err != nil {
		t.Fatal(err)
	}
	bufs := make([][]byte, UDPBatchSize)
	for i := range bufs {
		bufs[i] = make([]byte, MaxDatagram)
	}
	sizes := make([]int, len(bufs))
	eps := make([]Endpoint, len(bufs))
	seen := map[string]int{}
	ports := map[uint16]bool{}
	deadline := time.Now().Add(5 * time.Second)
	for len(seen) < 2 || seen["one"] < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("got %v", seen)
		}
		n, err := bfns[0](bufs, sizes, eps)
		if err != nil {
			t.Fatal(err)
		}
		for i := range n {
			seen[string(bufs[i][:sizes[i]])]++
			ports[eps[i].Addr.Port()] = true
			if eps[i].Socket != 0 || eps[i].Addr.Addr() != lo {
				t.Fatalf("endpoint %+v", eps[i])
			}
		}
	}
	if len(ports) != 2 || seen["two"] != 2 {
		t.Fatalf("from ports %v, %v", ports, seen)
	}
	// The TTL probe leaves the socket's TTL as it was.
	if err := a.SendTTL([]byte("ttl"), Endpoint{Addr: netip.AddrPortFrom(lo, bport), Socket: 0}, 2); err != nil {
		t.Fatal(err)
	}
	if ttl, _ := a.sockets[0].v4.ttl.TTL(); ttl == 2 {
		t.Fatal("TTL left lowered")
	}
	done := make(chan error)
	go func() {
		for {
			if _, err := afns[0](bufs, sizes, eps); err != nil {
				done <- err
				return
			}
		}
	}()
	a.Close()
	if err := <-done; err != ErrClosed {
		t.Fatalf("after close: %v", err)
	}
	if err := a.Send([][]byte{[]byte("x")}, to); err != ErrClosed {
		t.Fatalf("send after close: %v", err)
	}
}

// BenchmarkUDPSendFragmented sends a packet's two datagrams (head and
// fragment) in one sendmmsg, as a 2800-byte VL2 frame needs.
func BenchmarkUDPSendFragmented(b *testing.B) {
	lo := netip.MustParseAddr("127.0.0.1")
	u := NewUDP(UDPOptions{IPv4Only: true, ListenAddr4: lo})
	if _, _, err := u.Open(0); err != nil {
		b.Fatal(err)
	}
	defer u.Close()
	sink, _ := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	defer sink.Close()
	to := Endpoint{Addr: netip.MustParseAddrPort(sink.LocalAddr().String())}
	bufs := [][]byte{make([]byte, 1432), make([]byte, 1400)}
	b.ReportAllocs()
	for b.Loop() {
		if err := u.Send(bufs, to); err != nil {
			b.Fatal(err)
		}
	}
}
