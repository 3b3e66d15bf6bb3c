package vl2_test

import (
	"net"
	"net/netip"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/ztgo/ztgo/internal/testutil"
	"github.com/ztgo/ztgo/layer2-vl2/vl2wire"
)

func hw(m vl2wire.MAC) net.HardwareAddr { return net.HardwareAddr(m.Append(nil)) }

// serialize is testutil.Serialize.
var serialize = testutil.Serialize

func arpRequest(t *testing.T, src vl2wire.MAC, srcIP, dstIP netip.Addr) []byte {
	return serialize(t,
		&layers.Ethernet{SrcMAC: hw(src), DstMAC: layers.EthernetBroadcast, EthernetType: layers.EthernetTypeARP},
		&layers.ARP{AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4, HwAddressSize: 6, ProtAddressSize: 4,
			Operation: layers.ARPRequest, SourceHwAddress: hw(src), SourceProtAddress: srcIP.AsSlice(),
			DstHwAddress: make([]byte, 6), DstProtAddress: dstIP.AsSlice()})
}

func arpReply(t *testing.T, src, dst vl2wire.MAC, srcIP, dstIP netip.Addr) []byte {
	return serialize(t,
		&layers.Ethernet{SrcMAC: hw(src), DstMAC: hw(dst), EthernetType: layers.EthernetTypeARP},
		&layers.ARP{AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4, HwAddressSize: 6, ProtAddressSize: 4,
			Operation: layers.ARPReply, SourceHwAddress: hw(src), SourceProtAddress: srcIP.AsSlice(),
			DstHwAddress: hw(dst), DstProtAddress: dstIP.AsSlice()})
}

func icmpEcho(t testing.TB, src, dst vl2wire.MAC, srcIP, dstIP netip.Addr, seq uint16) []byte {
	return serialize(t,
		&layers.Ethernet{SrcMAC: hw(src), DstMAC: hw(dst), EthernetType: layers.EthernetTypeIPv4},
		&layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolICMPv4, SrcIP: srcIP.AsSlice(), DstIP: dstIP.AsSlice()},
		&layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(layers.ICMPv4TypeEchoRequest, 0), Id: 7, Seq: seq},
		gopacket.Payload([]byte("ztgo ping payload")))
}

func tcpSYN(t *testing.T, src, dst vl2wire.MAC, srcIP, dstIP netip.Addr, port uint16) []byte {
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: srcIP.AsSlice(), DstIP: dstIP.AsSlice()}
	tcp := &layers.TCP{SrcPort: 40000, DstPort: layers.TCPPort(port), SYN: true, Seq: 1, Window: 65535}
	tcp.SetNetworkLayerForChecksum(ip)
	return serialize(t, &layers.Ethernet{SrcMAC: hw(src), DstMAC: hw(dst), EthernetType: layers.EthernetTypeIPv4}, ip, tcp)
}

func rawFrame(t *testing.T, src, dst vl2wire.MAC, et layers.EthernetType, payload string) []byte {
	return serialize(t, &layers.Ethernet{SrcMAC: hw(src), DstMAC: hw(dst), EthernetType: et}, gopacket.Payload([]byte(payload)))
}

// decode describes a delivered frame for assertions.
func decode(f []byte) gopacket.Packet {
	return gopacket.NewPacket(f, layers.LayerTypeEthernet, gopacket.Default)
}
