package ztlayers_test

import (
	"fmt"
	"net"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/ztgo/ztgo/layer1-vl1/wire"
	"github.com/ztgo/ztgo/layer1-vl1/ztlayers"
)

// A ping tunnelled in a FRAME over a trusted path (cipher suite 2, so the
// envelope is in clear text), built with gopacket's serializer and decoded
// from the Ethernet frame a capture would hold.
func Example() {
	opts := gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}
	underIP := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP,
		SrcIP: net.IP{198, 18, 0, 11}, DstIP: net.IP{198, 18, 0, 12}}
	udp := &layers.UDP{SrcPort: 9993, DstPort: 9993}
	_ = udp.SetNetworkLayerForChecksum(underIP)
	buf := gopacket.NewSerializeBuffer()
	err := gopacket.SerializeLayers(buf, opts,
		&layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2},
			EthernetType: layers.EthernetTypeIPv4},
		underIP, udp,
		&ztlayers.Packet{PacketID: 0x1234, Source: 0x203540ed5f, Destination: 0xa9a35b19f2,
			Cipher: wire.SuiteTrustedPath, MAC: 0x7e57},
		&ztlayers.Verb{Verb: wire.VerbFRAME, Frame: ztlayers.FrameHeader{
			NetworkID: 0x6a65e33cf6e2a383, EtherType: layers.EthernetTypeIPv4}},
		&layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolICMPv4,
			SrcIP: net.IP{10, 147, 20, 249}, DstIP: net.IP{10, 147, 20, 156}},
		&layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(layers.ICMPv4TypeEchoRequest, 0), Id: 1, Seq: 1},
	)
	if err != nil {
		fmt.Println(err)
		return
	}

	pkt := gopacket.NewPacket(buf.Bytes(), layers.LayerTypeEthernet, gopacket.Default)
	for _, l := range pkt.Layers() {
		fmt.Println(l.LayerType())
	}
	zt := pkt.Layer(ztlayers.LayerTypeZeroTierPacket).(*ztlayers.Packet)
	verb := pkt.Layer(ztlayers.LayerTypeZeroTierVerb).(*ztlayers.Verb)
	inner := pkt.Layers()[5].(*layers.IPv4)
	fmt.Printf("%v → %v %v on %016x: %v → %v\n", zt.Source, zt.Destination, verb.Verb,
		verb.Frame.NetworkID, inner.SrcIP, inner.DstIP)
	// Output:
	// Ethernet
	// IPv4
	// UDP
	// ZeroTierPacket
	// ZeroTierVerb
	// IPv4
	// ICMPv4
	// 203540ed5f → a9a35b19f2 FRAME on 6a65e33cf6e2a383: 10.147.20.249 → 10.147.20.156
}

// Decoding an envelope by itself, as after wire.Dearmor: the bytes from
// the verb on (plain[wire.HeaderLength:]).
func ExampleVerb() {
	envelope := []byte{
		0x06,                                           // FRAME
		0x6a, 0x65, 0xe3, 0x3c, 0xf6, 0xe2, 0xa3, 0x83, // network ID
		0x08, 0x06, // ARP
		0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01, // request
		0x82, 0x83, 0xd7, 0xb6, 0xd1, 0xbc, 10, 147, 20, 249, // sender
		0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 10, 147, 20, 156, // target
	}
	pkt := gopacket.NewPacket(envelope, ztlayers.LayerTypeZeroTierVerb, gopacket.Default)
	arp := pkt.Layer(layers.LayerTypeARP).(*layers.ARP)
	fmt.Printf("who has %v? tell %v\n", net.IP(arp.DstProtAddress), net.HardwareAddr(arp.SourceHwAddress))
	// Output: who has 10.147.20.156? tell 82:83:d7:b6:d1:bc
}
