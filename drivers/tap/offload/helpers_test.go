package offload

import (
	"encoding/binary"
	"net"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/ztgo/ztgo/internal/testutil"
)

var (
	macA = net.HardwareAddr{0x02, 0, 0, 0, 0, 0xa}
	macB = net.HardwareAddr{0x02, 0, 0, 0, 0, 0xb}
	v4A  = net.IP{198, 18, 0, 1}
	v4B  = net.IP{198, 18, 0, 2}
	v6A  = net.ParseIP("fd00::a")
	v6B  = net.ParseIP("fd00::b")
)

// flow describes the TCP segments a test builds.
type flow struct {
	v6               bool
	srcPort, dstPort uint16
	ack              uint32
	window           uint16
	ipID             uint16
	flowLabel        uint32
}

// timestamps is a TCP timestamp option, as Linux sends on every segment.
var timestamps = []layers.TCPOption{
	{OptionType: layers.TCPOptionKindNop}, {OptionType: layers.TCPOptionKindNop},
	{OptionType: layers.TCPOptionKindTimestamps, OptionLength: 10, OptionData: []byte{0, 0, 1, 0, 0, 0, 2, 0}},
}

// serialize is testutil.Serialize.
var serialize = testutil.Serialize

// ipLayers returns the Ethernet and IP layers of a flow's packets.
func (f flow) ipLayers(proto layers.IPProtocol, id uint16) (*layers.Ethernet, gopacket.NetworkLayer, gopacket.SerializableLayer) {
	if f.v6 {
		ip := &layers.IPv6{Version: 6, FlowLabel: f.flowLabel, NextHeader: proto, HopLimit: 64, SrcIP: v6A, DstIP: v6B}
		return &layers.Ethernet{SrcMAC: macA, DstMAC: macB, EthernetType: layers.EthernetTypeIPv6}, ip, ip
	}
	ip := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Id: id, Flags: layers.IPv4DontFragment, Protocol: proto, SrcIP: v4A, DstIP: v4B}
	return &layers.Ethernet{SrcMAC: macA, DstMAC: macB, EthernetType: layers.EthernetTypeIPv4}, ip, ip
}

// segment builds one TCP segment of the flow with valid checksums.
func (f flow) segment(t testing.TB, seq uint32, payload []byte, psh bool) []byte {
	t.Helper()
	return f.tcpFrame(t, seq, payload, func(tcp *layers.TCP) { tcp.PSH = psh }, f.ipID)
}

// tcpFrame builds a TCP segment with valid checksums; set changes its
// TCP header first.
func (f flow) tcpFrame(t testing.TB, seq uint32, payload []byte, set func(*layers.TCP), id uint16) []byte {
	t.Helper()
	eth, nl, ip := f.ipLayers(layers.IPProtocolTCP, id)
	tcp := &layers.TCP{SrcPort: layers.TCPPort(f.srcPort), DstPort: layers.TCPPort(f.dstPort), Seq: seq, Ack: f.ack,
		ACK: true, Window: f.window, Options: timestamps}
	if set != nil {
		set(tcp)
	}
	if err := tcp.SetNetworkLayerForChecksum(nl); err != nil {
		t.Fatal(err)
	}
	return serialize(t, eth, ip, tcp, gopacket.Payload(payload))
}

// stream returns n bytes that show where each byte came from.
func stream(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i>>8)
	}
	return b
}

// tcpOffsets returns where the TCP header and the payload start in a
// frame of the flow.
func (f flow) tcpOffsets() (l4, hdrLen int) {
	l4 = 14 + 20
	if f.v6 {
		l4 = 14 + 40
	}
	return l4, l4 + 32
}

// partialChecksum replaces a frame's transport checksum with what the
// kernel hands over with NEEDS_CSUM: the pseudo-header sum over the given
// length.
func partialChecksum(frame []byte, v6 bool, proto uint8, l4, csumOffset, length int) {
	var ph []byte
	if v6 {
		ph = append(ph, frame[22:54]...)
	} else {
		ph = append(ph, frame[26:34]...)
	}
	ph = append(ph, 0, proto, byte(length>>24), byte(length>>16), byte(length>>8), byte(length))
	binary.BigEndian.PutUint16(frame[l4+csumOffset:], ^naiveChecksum(ph))
}

// naiveChecksum is RFC 1071 word by word, independent of the package's.
func naiveChecksum(b []byte) uint16 {
	var s uint32
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(b[i])<<8 | uint32(b[i+1])
	}
	if len(b)%2 == 1 {
		s += uint32(b[len(b)-1]) << 8
	}
	for s > 0xffff {
		s = s>>16 + s&0xffff
	}
	return ^uint16(s)
}

// decoded is a frame gopacket decoded and whose checksums it verified.
type decoded struct {
	eth     *layers.Ethernet
	ip4     *layers.IPv4
	ip6     *layers.IPv6
	tcp     *layers.TCP
	udp     *layers.UDP
	payload []byte
}

// decode decodes a frame with gopacket and fails the test unless every
// checksum in it is right.
func decode(t testing.TB, frame []byte) decoded {
	t.Helper()
	p := gopacket.NewPacket(frame, layers.LayerTypeEthernet, gopacket.Default)
	if el := p.ErrorLayer(); el != nil {
		t.Fatalf("gopacket: %v", el.Error())
	}
	var d decoded
	d.eth, _ = p.Layer(layers.LayerTypeEthernet).(*layers.Ethernet)
	d.ip4, _ = p.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
	d.ip6, _ = p.Layer(layers.LayerTypeIPv6).(*layers.IPv6)
	d.tcp, _ = p.Layer(layers.LayerTypeTCP).(*layers.TCP)
	d.udp, _ = p.Layer(layers.LayerTypeUDP).(*layers.UDP)
	if d.tcp != nil {
		d.tcp.SetNetworkLayerForChecksum(p.NetworkLayer())
		d.payload = d.tcp.Payload
	}
	if d.udp != nil {
		d.udp.SetNetworkLayerForChecksum(p.NetworkLayer())
		d.payload = d.udp.Payload
	}
	err, bad := p.VerifyChecksums()
	if err != nil {
		t.Fatalf("verify checksums: %v", err)
	}
	if len(bad) > 0 {
		t.Fatalf("bad checksums: %+v", bad)
	}
	l3 := 14
	for _, l := range p.Layers() {
		if l.LayerType() == layers.LayerTypeDot1Q {
			l3 += 4
		}
	}
	padded := len(frame) == 60 // gopacket pads frames to Ethernet's minimum
	if d.ip4 != nil && int(d.ip4.Length) != len(frame)-l3 && !padded {
		t.Fatalf("IPv4 length %d, frame carries %d", d.ip4.Length, len(frame)-l3)
	}
	if d.ip6 != nil && int(d.ip6.Length) != len(frame)-l3-40 && !padded {
		t.Fatalf("IPv6 payload length %d, frame carries %d", d.ip6.Length, len(frame)-l3-40)
	}
	return d
}
