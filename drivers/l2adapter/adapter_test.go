package l2adapter

import (
	"bytes"
	"net"
	"net/netip"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// fakeL3 is an L3 device: packets the OS sends come from out; packets for
// the OS land in in.
type fakeL3 struct {
	out    chan []byte
	in     chan []byte
	closed chan struct{}
}

func newFake() *fakeL3 {
	return &fakeL3{out: make(chan []byte, 16), in: make(chan []byte, 16), closed: make(chan struct{})}
}

func (f *fakeL3) Read(bufs [][]byte, sizes []int, offset int) (int, error) {
	select {
	case p := <-f.out:
		sizes[0] = copy(bufs[0][offset:], p)
		return 1, nil
	case <-f.closed:
		return 0, ErrClosed
	}
}
func (f *fakeL3) Write(bufs [][]byte, offset int) (int, error) {
	for _, b := range bufs {
		f.in <- append([]byte(nil), b[offset:]...)
	}
	return len(bufs), nil
}
func (f *fakeL3) BatchSize() int { return 1 }
func (f *fakeL3) Close() error   { close(f.closed); return nil }

var (
	ourMAC   = [6]byte{0x32, 1, 2, 3, 4, 5}
	theirMAC = [6]byte{0x32, 9, 9, 9, 9, 9}
)

func serialize(t *testing.T, ls ...gopacket.SerializableLayer) []byte {
	t.Helper()
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
		t.Fatal(err)
	}
	return append([]byte(nil), buf.Bytes()...)
}

func readFrame(t *testing.T, a *Adapter) gopacket.Packet {
	t.Helper()
	bufs := [][]byte{make([]byte, 2000)}
	sizes := []int{0}
	if _, err := a.Read(bufs, sizes, 0); err != nil {
		t.Fatal(err)
	}
	return gopacket.NewPacket(bufs[0][:sizes[0]], layers.LayerTypeEthernet, gopacket.Default)
}

func setup(t *testing.T) (*Adapter, *fakeL3) {
	f := newFake()
	a := New(f, "utun9", ourMAC, 2800)
	a.SetAddresses([]netip.Prefix{netip.MustParsePrefix("10.1.0.1/24"), netip.MustParsePrefix("fd00::1/64")}, nil)
	t.Cleanup(func() { a.Close() })
	return a, f
}

func TestIPv4ResolveThenSend(t *testing.T) {
	a, f := setup(t)
	ipPkt := serialize(t, &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolICMPv4, SrcIP: net.IP{10, 1, 0, 1}, DstIP: net.IP{10, 1, 0, 2}},
		&layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(8, 0)}, gopacket.Payload("hi"))
	f.out <- ipPkt
	p := readFrame(t, a)
	arp, _ := p.Layer(layers.LayerTypeARP).(*layers.ARP)
	eth := p.Layer(layers.LayerTypeEthernet).(*layers.Ethernet)
	if arp == nil || arp.Operation != 1 || !bytes.Equal(arp.DstProtAddress, []byte{10, 1, 0, 2}) || !bytes.Equal(eth.DstMAC, net.HardwareAddr(broadcast[:])) {
		t.Fatalf("want an ARP request, got %v", p)
	}
	reply := serialize(t, &layers.Ethernet{SrcMAC: theirMAC[:], DstMAC: ourMAC[:], EthernetType: layers.EthernetTypeARP},
		&layers.ARP{AddrType: 1, Protocol: 0x0800, HwAddressSize: 6, ProtAddressSize: 4, Operation: 2,
			SourceHwAddress: theirMAC[:], SourceProtAddress: []byte{10, 1, 0, 2}, DstHwAddress: ourMAC[:], DstProtAddress: []byte{10, 1, 0, 1}})
	a.Write([][]byte{reply}, 0)
	p = readFrame(t, a)
	eth = p.Layer(layers.LayerTypeEthernet).(*layers.Ethernet)
	if !bytes.Equal(eth.DstMAC, theirMAC[:]) || !bytes.Equal(eth.SrcMAC, ourMAC[:]) || !bytes.Equal(eth.Payload, ipPkt) {
		t.Fatalf("queued packet not sent to the resolved MAC: %v", p)
	}
	// Known now: the next packet goes straight out.
	f.out <- ipPkt
	if p := readFrame(t, a); p.Layer(layers.LayerTypeIPv4) == nil {
		t.Fatalf("second packet: %v", p)
	}
	// An IPv4 frame from the network reaches the OS without its header.
	frame := append(append(append([]byte(nil), ourMAC[:]...), theirMAC[:]...), 0x08, 0x00)
	a.Write([][]byte{append(frame, ipPkt...)}, 0)
	if got := <-f.in; !bytes.Equal(got, ipPkt) {
		t.Fatal("IP packet to the OS changed")
	}
}

func TestAnswersARPForOwnAddress(t *testing.T) {
	a, _ := setup(t)
	req := serialize(t, &layers.Ethernet{SrcMAC: theirMAC[:], DstMAC: broadcast[:], EthernetType: layers.EthernetTypeARP},
		&layers.ARP{AddrType: 1, Protocol: 0x0800, HwAddressSize: 6, ProtAddressSize: 4, Operation: 1,
			SourceHwAddress: theirMAC[:], SourceProtAddress: []byte{10, 1, 0, 2}, DstHwAddress: make([]byte, 6), DstProtAddress: []byte{10, 1, 0, 1}})
	a.Write([][]byte{req}, 0)
	arp, _ := readFrame(t, a).Layer(layers.LayerTypeARP).(*layers.ARP)
	if arp == nil || arp.Operation != 2 || !bytes.Equal(arp.SourceHwAddress, ourMAC[:]) || !bytes.Equal(arp.DstHwAddress, theirMAC[:]) {
		t.Fatalf("ARP reply %v", arp)
	}
}

func TestIPv6NeighbourDiscovery(t *testing.T) {
	a, f := setup(t)
	ip6 := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolICMPv6, SrcIP: net.ParseIP("fd00::1"), DstIP: net.ParseIP("fd00::2")}
	icmp := &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(128, 0)}
	icmp.SetNetworkLayerForChecksum(ip6)
	pkt := serialize(t, ip6, icmp, gopacket.Payload("ping6"))
	f.out <- pkt
	p := readFrame(t, a)
	ns, _ := p.Layer(layers.LayerTypeICMPv6NeighborSolicitation).(*layers.ICMPv6NeighborSolicitation)
	eth := p.Layer(layers.LayerTypeEthernet).(*layers.Ethernet)
	if ns == nil || !ns.TargetAddress.Equal(net.ParseIP("fd00::2")) || eth.DstMAC.String() != "33:33:ff:00:00:02" {
		t.Fatalf("want a neighbour solicitation, got %v", p)
	}
	if ic := p.Layer(layers.LayerTypeICMPv6).(*layers.ICMPv6); !checksumOK(t, p) {
		t.Fatalf("bad ICMPv6 checksum %x", ic.Checksum)
	}
	// The peer answers for fd00::2 and solicits fd00::1.
	na := a.icmp6Frame(ourMAC, netip.MustParseAddr("fd00::2"), netip.MustParseAddr("fd00::1"),
		append([]byte{136, 0, 0, 0, 0x60, 0, 0, 0}, append(netip.MustParseAddr("fd00::2").AsSlice(), 2, 1, 0x32, 9, 9, 9, 9, 9)...))
	copy(na[6:12], theirMAC[:])
	a.Write([][]byte{na}, 0)
	p = readFrame(t, a)
	if eth := p.Layer(layers.LayerTypeEthernet).(*layers.Ethernet); !bytes.Equal(eth.DstMAC, theirMAC[:]) || !bytes.Equal(eth.Payload, pkt) {
		t.Fatalf("queued IPv6 packet not released: %v", p)
	}
	nsFrame := a.solicit(netip.MustParseAddr("fd00::2"), netip.MustParseAddr("fd00::1"))
	copy(nsFrame[6:12], theirMAC[:])
	a.Write([][]byte{nsFrame}, 0)
	adv, _ := readFrame(t, a).Layer(layers.LayerTypeICMPv6NeighborAdvertisement).(*layers.ICMPv6NeighborAdvertisement)
	if adv == nil || !adv.TargetAddress.Equal(net.ParseIP("fd00::1")) {
		t.Fatalf("no neighbour advertisement for our address: %v", adv)
	}
}

func checksumOK(t *testing.T, p gopacket.Packet) bool {
	ip := p.Layer(layers.LayerTypeIPv6).(*layers.IPv6)
	var s, d [16]byte
	copy(s[:], ip.SrcIP.To16())
	copy(d[:], ip.DstIP.To16())
	msg := ip.Payload
	want := uint16(msg[2])<<8 | uint16(msg[3])
	return icmp6Checksum(s, d, msg) == want
}

func TestMulticastMapping(t *testing.T) {
	a, f := setup(t)
	ip := &layers.IPv4{Version: 4, TTL: 1, Protocol: layers.IPProtocolUDP, SrcIP: net.IP{10, 1, 0, 1}, DstIP: net.IP{224, 0, 0, 251}}
	udp := &layers.UDP{SrcPort: 5353, DstPort: 5353}
	udp.SetNetworkLayerForChecksum(ip)
	f.out <- serialize(t, ip, udp, gopacket.Payload("mdns"))
	if eth := readFrame(t, a).Layer(layers.LayerTypeEthernet).(*layers.Ethernet); eth.DstMAC.String() != "01:00:5e:00:00:fb" {
		t.Fatalf("multicast MAC %v", eth.DstMAC)
	}
}
