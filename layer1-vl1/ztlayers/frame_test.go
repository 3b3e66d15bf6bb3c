package ztlayers

import (
	"bytes"
	"encoding/binary"
	"net"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/ztgo/ztgo/internal/testutil"
	"github.com/ztgo/ztgo/layer1-vl1/wire"
)

// The lab network of testdata/captures/basic: za pings zb.
const testNetworkID = 0x6a65e33cf6e2a383

var (
	zaMAC = net.HardwareAddr{0x82, 0x83, 0xd7, 0xb6, 0xd1, 0xbc}
	zbMAC = net.HardwareAddr{0x82, 0x0a, 0x41, 0xad, 0x25, 0x11}
	zaIP4 = net.IP{10, 147, 20, 249}
	zbIP4 = net.IP{10, 147, 20, 156}
	zaIP6 = net.ParseIP("fd6a:65e3:3cf6:e2a3:8399:9320:3540:ed5f")
	zbIP6 = net.ParseIP("fd6a:65e3:3cf6:e2a3:8399:93a9:a35b:19f2")
	build = gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}
)

func icmpEcho(t testing.TB) []gopacket.SerializableLayer {
	t.Helper()
	ip := &layers.IPv4{Version: 4, TTL: 64, Id: 0x1234, Protocol: layers.IPProtocolICMPv4, SrcIP: zaIP4, DstIP: zbIP4}
	icmp := &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(layers.ICMPv4TypeEchoRequest, 0), Id: 7, Seq: 1}
	return []gopacket.SerializableLayer{ip, icmp, gopacket.Payload("ztgo ping")}
}

func arpRequest() *layers.ARP {
	return &layers.ARP{
		AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4,
		HwAddressSize: 6, ProtAddressSize: 4, Operation: layers.ARPRequest,
		SourceHwAddress: zaMAC, SourceProtAddress: zaIP4,
		DstHwAddress: make(net.HardwareAddr, 6), DstProtAddress: zbIP4,
	}
}

func icmp6Echo(t testing.TB) []gopacket.SerializableLayer {
	t.Helper()
	ip := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolICMPv6, SrcIP: zaIP6, DstIP: zbIP6}
	icmp := &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(layers.ICMPv6TypeEchoRequest, 0)}
	if err := icmp.SetNetworkLayerForChecksum(ip); err != nil {
		t.Fatal(err)
	}
	echo := &layers.ICMPv6Echo{Identifier: 9, SeqNumber: 3}
	return []gopacket.SerializableLayer{ip, icmp, echo, gopacket.Payload("ztgo ping6")}
}

// testCOM is a certificate of membership shaped as the 1.14.1 controller
// issues it: 7 qualifiers, signed (272 bytes), or unsigned (176 bytes).
func testCOM(signed bool) []byte {
	b := []byte{comType, 0, 7}
	for id := range uint64(7) {
		b = binary.BigEndian.AppendUint64(b, id)
		b = binary.BigEndian.AppendUint64(b, 0x1000+id)
		b = binary.BigEndian.AppendUint64(b, ^uint64(0))
	}
	if !signed {
		return append(b, 0, 0, 0, 0, 0)
	}
	b = append(b, 0x6a, 0x65, 0xe3, 0x3c, 0xf6)
	return append(b, bytes.Repeat([]byte{0x5a}, comSignatureLen)...)
}

func TestFrameICMP(t *testing.T) {
	verb := &Verb{Verb: wire.VerbFRAME, Frame: FrameHeader{NetworkID: testNetworkID, EtherType: layers.EthernetTypeIPv4}}
	env := serialize(t, build, append([]gopacket.SerializableLayer{verb}, icmpEcho(t)...)...)
	// vl2.md §2.1: verb, network ID, ethertype, then the IP packet.
	if want := testutil.Hex(t, "06"+"6a65e33cf6e2a383"+"0800"+"45"); !bytes.HasPrefix(env, want) {
		t.Fatalf("FRAME envelope %x", env)
	}

	p := gopacket.NewPacket(env, LayerTypeZeroTierVerb, strict)
	wantLayers(t, p, LayerTypeZeroTierVerb, layers.LayerTypeIPv4, layers.LayerTypeICMPv4, gopacket.LayerTypePayload)
	v := p.Layer(LayerTypeZeroTierVerb).(*Verb)
	if m, ok := v.Message.(*wire.VL2); !ok || m.NetworkID != testNetworkID || v.Frame.NetworkID != testNetworkID ||
		v.Frame.EtherType != layers.EthernetTypeIPv4 || len(v.Contents) != 11 {
		t.Errorf("verb layer %+v", v)
	}
	ip := p.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
	icmp := p.Layer(layers.LayerTypeICMPv4).(*layers.ICMPv4)
	if !ip.SrcIP.Equal(zaIP4) || !ip.DstIP.Equal(zbIP4) || icmp.TypeCode.Type() != layers.ICMPv4TypeEchoRequest ||
		icmp.Id != 7 || icmp.Seq != 1 || string(p.ApplicationLayer().Payload()) != "ztgo ping" {
		t.Errorf("inner packet: %v", p)
	}
	reserialize(t, p, env)

	// The same FRAME in a trusted-path packet (suite 2, clear text) on the
	// wire: Ethernet all the way down to ICMP and back up.
	hdr := &Packet{PacketID: 0xfeedface, Destination: 0xa9a35b19f2, Source: 0x203540ed5f, Cipher: wire.SuiteTrustedPath, MAC: 42}
	datagram := serialize(t, gopacket.SerializeOptions{}, hdr, gopacket.Payload(env))
	frame := wrapUDP(t, datagram, 9993, 9993)
	p = gopacket.NewPacket(frame, layers.LayerTypeEthernet, strict)
	wantLayers(t, p, path(LayerTypeZeroTierPacket, LayerTypeZeroTierVerb, layers.LayerTypeIPv4,
		layers.LayerTypeICMPv4, gopacket.LayerTypePayload)...)
	reserialize(t, p, frame)

	// A DecodingLayerParser holds one layer per type, so the inner IPv4
	// needs a parser of its own, started at the verb.
	var (
		vl      Verb
		ip4     layers.IPv4
		icmp4   layers.ICMPv4
		payload gopacket.Payload
		decoded []gopacket.LayerType
	)
	parser := gopacket.NewDecodingLayerParser(LayerTypeZeroTierVerb, &vl, &ip4, &icmp4, &payload)
	if err := parser.DecodeLayers(env, &decoded); err != nil || len(decoded) != 4 || !ip4.DstIP.Equal(zbIP4) ||
		icmp4.Seq != 1 {
		t.Errorf("parser: %v %v", err, decoded)
	}
}

func TestFrameARP(t *testing.T) {
	verb := &Verb{Verb: wire.VerbFRAME, Frame: FrameHeader{NetworkID: testNetworkID, EtherType: layers.EthernetTypeARP}}
	env := serialize(t, build, verb, arpRequest())
	p := gopacket.NewPacket(env, LayerTypeZeroTierVerb, strict)
	wantLayers(t, p, LayerTypeZeroTierVerb, layers.LayerTypeARP)
	arp := p.Layer(layers.LayerTypeARP).(*layers.ARP)
	if arp.Operation != layers.ARPRequest || !bytes.Equal(arp.SourceHwAddress, zaMAC) ||
		!bytes.Equal(arp.DstProtAddress, zbIP4) {
		t.Errorf("ARP %+v", arp)
	}
	reserialize(t, p, env)
}

func TestFrameUnknownEtherType(t *testing.T) {
	// gopacket maps an ethertype it does not know to LayerTypeZero; the
	// bytes must still show up, as a payload.
	verb := &Verb{Verb: wire.VerbFRAME, Frame: FrameHeader{NetworkID: testNetworkID, EtherType: 0x88b5}}
	env := serialize(t, build, verb, gopacket.Payload("local experimental"))
	p := gopacket.NewPacket(env, LayerTypeZeroTierVerb, strict)
	wantLayers(t, p, LayerTypeZeroTierVerb, gopacket.LayerTypePayload)
	reserialize(t, p, env)
	// An empty FRAME (the header only) ends at the verb.
	env = serialize(t, build, verb)
	p = gopacket.NewPacket(env, LayerTypeZeroTierVerb, strict)
	wantLayers(t, p, LayerTypeZeroTierVerb)
	reserialize(t, p, env)
}

func TestExtFrame(t *testing.T) {
	for _, tc := range []struct {
		name  string
		flags uint8
		com   []byte
	}{
		{"plain", 0x00, nil},
		{"tee", 0x02, nil},
		{"com-signed-wants-ok", ExtFrameFlagCOM | ExtFrameFlagWantOK, testCOM(true)},
		{"com-unsigned", ExtFrameFlagCOM, testCOM(false)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			verb := &Verb{Verb: wire.VerbEXT_FRAME, Frame: FrameHeader{NetworkID: testNetworkID, Flags: tc.flags, COM: tc.com}}
			eth := &layers.Ethernet{SrcMAC: zaMAC, DstMAC: zbMAC, EthernetType: layers.EthernetTypeIPv6}
			env := serialize(t, build, append([]gopacket.SerializableLayer{verb, eth}, icmp6Echo(t)...)...)
			if want := 1 + 8 + 1 + len(tc.com); !bytes.Equal(env[want:want+6], zbMAC) {
				t.Fatalf("destination MAC not at offset %d: %x", want, env)
			}

			p := gopacket.NewPacket(env, LayerTypeZeroTierVerb, strict)
			wantLayers(t, p, LayerTypeZeroTierVerb, layers.LayerTypeEthernet, layers.LayerTypeIPv6,
				layers.LayerTypeICMPv6, layers.LayerTypeICMPv6Echo, gopacket.LayerTypePayload)
			v := p.Layer(LayerTypeZeroTierVerb).(*Verb)
			if v.Frame.Flags != tc.flags || !bytes.Equal(v.Frame.COM, tc.com) || v.Frame.NetworkID != testNetworkID {
				t.Errorf("frame header %+v", v.Frame)
			}
			e := p.Layer(layers.LayerTypeEthernet).(*layers.Ethernet)
			ip := p.Layer(layers.LayerTypeIPv6).(*layers.IPv6)
			echo := p.Layer(layers.LayerTypeICMPv6Echo).(*layers.ICMPv6Echo)
			if !bytes.Equal(e.SrcMAC, zaMAC) || !bytes.Equal(e.DstMAC, zbMAC) || !ip.SrcIP.Equal(zaIP6) ||
				!ip.DstIP.Equal(zbIP6) || echo.SeqNumber != 3 {
				t.Errorf("inner frame %v", p)
			}
			reserialize(t, p, env)
		})
	}
}

func TestMulticastFrame(t *testing.T) {
	for _, tc := range []struct {
		name string
		hdr  FrameHeader
	}{
		{"plain", FrameHeader{}},
		{"gather", FrameHeader{Flags: MulticastFrameFlagGatherLimit, GatherLimit: 32}},
		{"bridged", FrameHeader{Flags: MulticastFrameFlagSource | MulticastFrameFlagReplicate, Source: zbMAC}},
		{"everything", FrameHeader{Flags: 0x0f, COM: testCOM(true), GatherLimit: 5, Source: zbMAC}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hdr := tc.hdr
			hdr.NetworkID = testNetworkID
			hdr.Group = layers.EthernetBroadcast
			hdr.GroupADI = binary.BigEndian.Uint32(zbIP4) // the ARP group
			hdr.EtherType = layers.EthernetTypeARP
			verb := &Verb{Verb: wire.VerbMULTICAST_FRAME, Frame: hdr}
			env := serialize(t, build, verb, arpRequest())
			p := gopacket.NewPacket(env, LayerTypeZeroTierVerb, strict)
			wantLayers(t, p, LayerTypeZeroTierVerb, layers.LayerTypeARP)
			got := p.Layer(LayerTypeZeroTierVerb).(*Verb).Frame
			if got.Flags != hdr.Flags || got.GatherLimit != hdr.GatherLimit || !bytes.Equal(got.Source, hdr.Source) ||
				!bytes.Equal(got.Group, hdr.Group) || got.GroupADI != hdr.GroupADI || !bytes.Equal(got.COM, hdr.COM) {
				t.Errorf("header %+v, want %+v", got, hdr)
			}
			reserialize(t, p, env)
		})
	}
}

func TestFrameHeaderErrors(t *testing.T) {
	com := testCOM(true)
	badType := append([]byte{0x02}, com[1:]...)
	tooMany := append([]byte{comType, 0, 9}, make([]byte, 9*24+5)...)
	for name, env := range map[string][]byte{
		"FRAME without ethertype":      testutil.Hex(t, "06"+"6a65e33cf6e2a383"+"08"),
		"EXT_FRAME without flags":      testutil.Hex(t, "07"+"6a65e33cf6e2a383"),
		"EXT_FRAME short COM":          append(testutil.Hex(t, "07"+"6a65e33cf6e2a383"+"01"), com[:200]...),
		"EXT_FRAME COM type":           append(testutil.Hex(t, "07"+"6a65e33cf6e2a383"+"01"), badType...),
		"EXT_FRAME 9 qualifiers":       append(testutil.Hex(t, "07"+"6a65e33cf6e2a383"+"01"), tooMany...),
		"MULTICAST_FRAME without ADI":  testutil.Hex(t, "0e"+"6a65e33cf6e2a383"+"00"+"ffffffffffff"+"0a93"),
		"MULTICAST_FRAME short source": testutil.Hex(t, "0e"+"6a65e33cf6e2a383"+"04"+"ffff"),
	} {
		var v Verb
		if err := v.DecodeFromBytes(env, gopacket.NilDecodeFeedback); err == nil {
			t.Errorf("%s: decoded %+v", name, v)
		}
	}
	for name, hdr := range map[string]*Verb{
		"COM without flag": {Verb: wire.VerbEXT_FRAME, Frame: FrameHeader{COM: com}},
		"flag without COM": {Verb: wire.VerbEXT_FRAME, Frame: FrameHeader{Flags: ExtFrameFlagCOM}},
		"truncated COM":    {Verb: wire.VerbEXT_FRAME, Frame: FrameHeader{Flags: ExtFrameFlagCOM, COM: com[:271]}},
		"no group":         {Verb: wire.VerbMULTICAST_FRAME},
		"short source": {Verb: wire.VerbMULTICAST_FRAME, Frame: FrameHeader{
			Flags: MulticastFrameFlagSource, Source: zaMAC[:5], Group: layers.EthernetBroadcast}},
	} {
		if err := gopacket.SerializeLayers(gopacket.NewSerializeBuffer(), build, hdr); err == nil {
			t.Errorf("%s: serialized", name)
		}
	}
}

func TestCompressedEnvelope(t *testing.T) {
	var v struct {
		Uncompressed string `json:"uncompressed_packet"`
		Compressed   string `json:"compressed_packet"`
	}
	testutil.Vectors(t, "lz4.json", &v)
	plain := wire.Packet(testutil.Hex(t, v.Uncompressed))
	comp := testutil.Hex(t, v.Compressed)
	env := comp[wire.HeaderLength:]

	p := gopacket.NewPacket(env, LayerTypeZeroTierVerb, strict)
	wantLayers(t, p, LayerTypeZeroTierVerb)
	verb := p.Layer(LayerTypeZeroTierVerb).(*Verb)
	um, ok := verb.Message.(*wire.UserMessage)
	want, _ := wire.ParseUserMessage(plain.Payload())
	if !verb.Compressed || verb.Verb != wire.VerbUSER_MESSAGE || !ok || um.TypeID != want.TypeID ||
		!bytes.Equal(um.Data, want.Data) || !bytes.Equal(verb.Contents, env) {
		t.Fatalf("compressed USER_MESSAGE: %+v", verb)
	}
	if !bytes.Equal(verb.MessagePayload(), plain.Payload()) {
		t.Errorf("MessagePayload %x, want the decompressed payload %x", verb.MessagePayload(), plain.Payload())
	}
	// Unchanged: the compressed bytes as 1.14.1 made them.
	reserialize(t, p, env)

	// Changed: compressed again (the payload is long and repetitive),
	// and it decodes to the change.
	um.TypeID++
	out := serialize(t, gopacket.SerializeOptions{}, verb)
	if out[0] != byte(wire.VerbUSER_MESSAGE)|verbFlagCompressed || len(out) >= len(plain)-wire.HeaderLength {
		t.Errorf("changed message not compressed: %x", out)
	}
	var back Verb
	if err := back.DecodeFromBytes(out, gopacket.NilDecodeFeedback); err != nil {
		t.Fatal(err)
	}
	if m := back.Message.(*wire.UserMessage); m.TypeID != want.TypeID+1 || !bytes.Equal(m.Data, want.Data) {
		t.Errorf("recompressed message %+v", m)
	}

	// Compression is kept only when it helps: a short payload goes out
	// uncompressed with the flag clear.
	short := &Verb{Verb: wire.VerbECHO, Compressed: true, Message: &wire.Echo{Data: []byte("hi")}}
	if out := serialize(t, gopacket.SerializeOptions{}, short); !bytes.Equal(out, []byte{0x08, 'h', 'i'}) {
		t.Errorf("short compressed ECHO: %x", out)
	}

	// A compressed FRAME (1.14.1 compresses rule-generated EXT_FRAME
	// copies; any verb may be) still decodes into its inner layers.
	frame := &Verb{Verb: wire.VerbFRAME, Compressed: true,
		Frame: FrameHeader{NetworkID: testNetworkID, EtherType: layers.EthernetTypeIPv4}}
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolICMPv4, SrcIP: zaIP4, DstIP: zbIP4}
	icmp := &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(layers.ICMPv4TypeEchoReply, 0), Id: 1, Seq: 2}
	env = serialize(t, build, frame, ip, icmp, gopacket.Payload(make([]byte, 400)))
	if env[0] != byte(wire.VerbFRAME)|verbFlagCompressed || len(env) > 200 {
		t.Fatalf("FRAME not compressed (%d bytes)", len(env))
	}
	p = gopacket.NewPacket(env, LayerTypeZeroTierVerb, strict)
	wantLayers(t, p, LayerTypeZeroTierVerb, layers.LayerTypeIPv4, layers.LayerTypeICMPv4, gopacket.LayerTypePayload)
	if got := p.Layer(layers.LayerTypeICMPv4).(*layers.ICMPv4); got.Seq != 2 || len(got.Payload) != 400 {
		t.Errorf("ICMP in compressed FRAME: %+v", got)
	}
	reserialize(t, p, env)

	// A truncated block is an error.
	var bad Verb
	if err := bad.DecodeFromBytes(env[:len(env)-3], gopacket.NilDecodeFeedback); err == nil {
		t.Error("truncated compressed FRAME decoded")
	}
}

// TestVerbReuse decodes different envelopes into one Verb, as a
// DecodingLayerParser does, and checks nothing leaks between them.
func TestVerbReuse(t *testing.T) {
	var v struct {
		Compressed string `json:"compressed_packet"`
	}
	testutil.Vectors(t, "lz4.json", &v)
	comp := testutil.Hex(t, v.Compressed)[wire.HeaderLength:]
	frame := serialize(t, build, &Verb{Verb: wire.VerbMULTICAST_FRAME, Frame: FrameHeader{
		NetworkID: 1, Flags: MulticastFrameFlagSource, Source: zaMAC, Group: layers.EthernetBroadcast,
		EtherType: layers.EthernetTypeARP}}, arpRequest())
	echo := []byte{byte(wire.VerbECHO), 1, 2, 3}
	var verb Verb
	for _, env := range [][]byte{comp, frame, echo, comp, echo, frame} {
		if err := verb.DecodeFromBytes(env, gopacket.NilDecodeFeedback); err != nil {
			t.Fatal(err)
		}
		out := serialize(t, gopacket.SerializeOptions{}, &verb, gopacket.Payload(verb.Payload))
		if !bytes.Equal(out, env) {
			t.Fatalf("after reuse %x, want %x", out, env)
		}
		if isFrameVerb(verb.Verb) != (verb.Frame.Group != nil) {
			t.Fatalf("stale frame header %+v", verb.Frame)
		}
	}
}
