package memnet

import (
	"bytes"
	"net/netip"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
	transport "github.com/ztgo/ztgo/layer0-transport"
)

type got struct {
	from netip.AddrPort
	data string
}

// open gives h a socket on port and records what arrives on it.
func open(t *testing.T, h *Host, port uint16) *[]got {
	t.Helper()
	if _, _, err := h.Open(port); err != nil {
		t.Fatal(err)
	}
	var rx []got
	h.SetHandler(func(ep transport.Endpoint, data []byte) {
		rx = append(rx, got{ep.Addr, string(data)})
	})
	return &rx
}

func send(t *testing.T, h *Host, to netip.AddrPort, s string) {
	t.Helper()
	if err := h.Send([][]byte{[]byte(s)}, transport.Endpoint{Addr: to}); err != nil {
		t.Fatal(err)
	}
}

var (
	pubIP  = netip.MustParseAddr("198.18.0.1")
	natIP  = netip.MustParseAddr("198.18.0.2")
	thirdI = netip.MustParseAddr("198.18.0.3")
	lanIP  = netip.MustParseAddr("10.0.0.2")
)

// TestNATFiltering sends from a host behind each NAT type to a public
// server, then checks who may answer on the mapping.
func TestNATFiltering(t *testing.T) {
	for _, kind := range NATTypes {
		t.Run(kind.String(), func(t *testing.T) {
			in := New(Options{Virtual: true})
			server, _ := in.AddHost(pubIP, Link{Latency: 10 * time.Millisecond})
			third, _ := in.AddHost(thirdI, Link{})
			nat, _ := in.AddNAT(natIP, kind, Link{})
			inside, _ := nat.AddHost(lanIP, Link{})
			srx := open(t, server, 9993)
			server.Open(9994)
			open(t, third, 9993)
			irx := open(t, inside, 9993)

			send(t, inside, netip.AddrPortFrom(pubIP, 9993), "out")
			in.Advance(time.Second)
			if len(*srx) != 1 || (*srx)[0].from.Addr() != natIP {
				t.Fatalf("server got %v", *srx)
			}
			mapped := (*srx)[0].from
			send(t, server, mapped, "reply")
			send(t, third, mapped, "stranger")
			// Same IP, another port.
			server.Send([][]byte{[]byte("other-port")}, transport.Endpoint{Addr: mapped, Socket: 1})
			in.Advance(2 * time.Second)
			var names []string
			for _, g := range *irx {
				names = append(names, g.data)
			}
			want := map[NATType][]string{
				FullCone:          {"stranger", "reply", "other-port"}, // the stranger has no link latency
				AddressRestricted: {"reply", "other-port"},
				PortRestricted:    {"reply"},
				Symmetric:         {"reply"},
			}[kind]
			if !equalStrings(names, want) {
				t.Fatalf("inside got %v, want %v", names, want)
			}
			// Mapping: symmetric NATs use a new port per destination.
			send(t, inside, netip.AddrPortFrom(thirdI, 9993), "second")
			in.Advance(3 * time.Second)
			if n := nat.Mappings(); (kind == Symmetric) != (n == 2) {
				t.Fatalf("%v holds %d mappings", kind, n)
			}
		})
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestLatencyOrderAndTTL(t *testing.T) {
	in := New(Options{Virtual: true})
	a, _ := in.AddHost(pubIP, Link{Latency: 5 * time.Millisecond})
	b, _ := in.AddHost(thirdI, Link{Latency: 7 * time.Millisecond})
	open(t, a, 1)
	rx := open(t, b, 2)
	to := netip.AddrPortFrom(thirdI, 2)
	send(t, a, to, "1")
	send(t, a, to, "2")
	a.SendTTL([]byte("ttl"), transport.Endpoint{Addr: to}, 2)
	if at, ok := in.NextEvent(); !ok || at != 12*time.Millisecond {
		t.Fatalf("next event at %v", at)
	}
	in.Advance(11 * time.Millisecond)
	if len(*rx) != 0 {
		t.Fatal("delivered early")
	}
	in.Advance(12 * time.Millisecond)
	if len(*rx) != 2 || (*rx)[0].data != "1" || (*rx)[1].data != "2" {
		t.Fatalf("got %v", *rx)
	}
	if in.Stats().TTLExpired != 1 {
		t.Fatalf("stats %+v", in.Stats())
	}
}

func TestLossIsSeeded(t *testing.T) {
	count := func() int {
		in := New(Options{Virtual: true, Seed: 7})
		a, _ := in.AddHost(pubIP, Link{Loss: 0.5})
		b, _ := in.AddHost(thirdI, Link{})
		open(t, a, 1)
		rx := open(t, b, 2)
		for range 200 {
			send(t, a, netip.AddrPortFrom(thirdI, 2), "x")
		}
		in.Advance(time.Second)
		return len(*rx)
	}
	n := count()
	if n < 60 || n > 140 || count() != n {
		t.Fatalf("delivered %d of 200 at 50%% loss", n)
	}
}

func TestReceiveFuncsAndClose(t *testing.T) {
	in := New(Options{})
	a, _ := in.AddHost(pubIP, Link{})
	b, _ := in.AddHost(thirdI, Link{})
	a.Open(1)
	fns, port, err := b.Open(0)
	if err != nil || port == 0 {
		t.Fatal(port, err)
	}
	send(t, a, netip.AddrPortFrom(thirdI, port), "hello")
	bufs := [][]byte{make([]byte, 100), make([]byte, 100)}
	sizes := make([]int, 2)
	eps := make([]transport.Endpoint, 2)
	n, err := fns[0](bufs, sizes, eps)
	if err != nil || n != 1 || string(bufs[0][:sizes[0]]) != "hello" || eps[0].Addr != netip.AddrPortFrom(pubIP, 1) {
		t.Fatalf("n=%d err=%v %q %v", n, err, bufs[0][:sizes[0]], eps[0])
	}
	done := make(chan error)
	go func() { _, err := fns[0](bufs, sizes, eps); done <- err }()
	b.Close()
	if err := <-done; err != transport.ErrClosed {
		t.Fatalf("after close: %v", err)
	}
}

func TestPcapWriter(t *testing.T) {
	var buf bytes.Buffer
	w, err := NewPcapWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	in := New(Options{Virtual: true})
	a, _ := in.AddHost(pubIP, Link{})
	b, _ := in.AddHost(netip.MustParseAddr("2001:db8::1"), Link{})
	c, _ := in.AddHost(netip.MustParseAddr("2001:db8::2"), Link{})
	a.Capture(w)
	b.Capture(w)
	open(t, a, 9993)
	open(t, b, 9993)
	open(t, c, 9993)
	send(t, a, netip.AddrPortFrom(thirdI, 9993), "unroutable but captured")
	send(t, a, netip.MustParseAddrPort("[2001:db8::1]:9993"), "wrong family, dropped")
	send(t, b, netip.MustParseAddrPort("[2001:db8::2]:9993"), "v6")
	in.Advance(time.Second)
	r, err := pcapgo.NewReader(&buf)
	if err != nil {
		t.Fatal(err)
	}
	var payloads []string
	for {
		data, _, err := r.ReadPacketData()
		if err != nil {
			break
		}
		p := gopacket.NewPacket(data, layers.LayerTypeEthernet, gopacket.Default)
		udp, _ := p.Layer(layers.LayerTypeUDP).(*layers.UDP)
		if udp == nil || udp.DstPort != 9993 {
			t.Fatalf("not UDP to 9993: %v", p)
		}
		payloads = append(payloads, string(udp.Payload))
	}
	if !equalStrings(payloads, []string{"unroutable but captured", "v6"}) || w.Err() != nil {
		t.Fatalf("captured %q (%v)", payloads, w.Err())
	}
}

// TestNATUDPTimeout: a mapping stays open while the inside host keeps
// sending; after UDPTimeout without an outbound datagram, answers are
// dropped, and the next outbound datagram gets a new mapping.
func TestNATUDPTimeout(t *testing.T) {
	for _, kind := range NATTypes {
		t.Run(kind.String(), func(t *testing.T) {
			in := New(Options{Virtual: true})
			server, _ := in.AddHost(pubIP, Link{})
			nat, _ := in.AddNAT(natIP, kind, Link{})
			nat.UDPTimeout = 30 * time.Second
			inside, _ := nat.AddHost(lanIP, Link{})
			srx := open(t, server, 9993)
			irx := open(t, inside, 9993)
			serverAt := netip.AddrPortFrom(pubIP, 9993)
			at := time.Duration(0)
			wait := func(d time.Duration) { at += d; in.Advance(at) }

			send(t, inside, serverAt, "out")
			wait(time.Second)
			mapped := (*srx)[0].from
			for i := range 4 { // every 22 s an outbound datagram refreshes the mapping
				wait(20 * time.Second)
				send(t, inside, serverAt, "keepalive")
				wait(time.Second)
				send(t, server, mapped, "answer")
				wait(time.Second)
				if len(*irx) != i+1 {
					t.Fatalf("round %d: inside got %d answers, want %d", i, len(*irx), i+1)
				}
			}
			wait(31 * time.Second) // quiet past the timeout
			send(t, server, mapped, "late")
			wait(time.Second)
			if n := len(*irx); n != 4 {
				t.Fatalf("an answer crossed an expired mapping (%d answers)", n)
			}
			send(t, inside, serverAt, "again")
			wait(time.Second)
			if got := (*srx)[len(*srx)-1].from; got == mapped {
				t.Fatalf("the expired mapping %v was reused", mapped)
			}
		})
	}
}
