package netstack

import (
	"context"
	"io"
	"net/netip"
	"testing"
	"time"
)

// wire connects two devices back to back, as a switch would.
func wire(a, b *Device) {
	pump := func(from, to *Device) {
		bufs := [][]byte{make([]byte, 9000)}
		sizes := []int{0}
		for {
			n, err := from.Read(bufs, sizes, 0)
			if err != nil {
				return
			}
			for i := range n {
				to.Write([][]byte{bufs[i][:sizes[i]]}, 0)
			}
		}
	}
	go pump(a, b)
	go pump(b, a)
}

func TestTwoStacksPingAndTCP(t *testing.T) {
	a, err := New("a", [6]byte{0x02, 0, 0, 0, 0, 1}, 2800)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := New("b", [6]byte{0x02, 0, 0, 0, 0, 2}, 2800)
	defer a.Close()
	defer b.Close()
	a.Configure(true, []netip.Prefix{netip.MustParsePrefix("10.9.0.1/24")}, nil)
	b.Configure(true, []netip.Prefix{netip.MustParsePrefix("10.9.0.2/24")}, nil)
	wire(a, b)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := a.Ping(ctx, netip.MustParseAddr("10.9.0.2"), 1); err != nil {
		t.Fatal(err)
	}
	ln, err := b.ListenTCP(8080)
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		c, err := ln.Accept()
		if err == nil {
			c.Write([]byte("hello over the virtual LAN"))
			c.Close()
		}
	}()
	c, err := a.DialTCP(ctx, netip.MustParseAddrPort("10.9.0.2:8080"))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(c)
	if string(got) != "hello over the virtual LAN" {
		t.Fatalf("got %q", got)
	}
	a.Configure(false, nil, nil)
	if len(a.Addresses()) != 0 {
		t.Fatal("addresses kept after configure down")
	}
}

// BenchmarkPingRTT is the round trip through two stacks wired back to
// back: what the userspace device adds to a ping (libzt's polled stack
// added ~30 ms; the target is well under 1 ms).
func BenchmarkPingRTT(b *testing.B) {
	a, _ := New("a", [6]byte{0x02, 0, 0, 0, 0, 1}, 2800)
	c, _ := New("b", [6]byte{0x02, 0, 0, 0, 0, 2}, 2800)
	defer a.Close()
	defer c.Close()
	a.Configure(true, []netip.Prefix{netip.MustParsePrefix("10.9.0.1/24")}, nil)
	c.Configure(true, []netip.Prefix{netip.MustParsePrefix("10.9.0.2/24")}, nil)
	wire(a, c)
	ctx := context.Background()
	dst := netip.MustParseAddr("10.9.0.2")
	if _, err := a.Ping(ctx, dst, 0); err != nil {
		b.Fatal(err)
	}
	var total time.Duration
	seq := uint16(1)
	for b.Loop() {
		rtt, err := a.Ping(ctx, dst, seq)
		if err != nil {
			b.Fatal(err)
		}
		total += rtt
		seq++
	}
	b.ReportMetric(float64(total.Microseconds())/float64(b.N), "µs-rtt")
}
