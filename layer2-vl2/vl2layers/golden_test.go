package vl2layers

import (
	"bytes"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/ztgo/ztgo/layer1-vl1/identity"
	"github.com/ztgo/ztgo/layer1-vl1/wire"
	"github.com/ztgo/ztgo/layer2-vl2/vl2wire"
)

var strict = gopacket.DecodeOptions{SkipDecodeRecovery: true}

const labNetwork = 0x6a65e33cf6e2a383

// TestCapturedGolden decodes every VL2 payload and OK body of the lab
// capture through gopacket.NewPacket and a DecodingLayerParser, checks the
// fields of one of each kind against what 1.14.1 sent, and serializes each
// back to the captured bytes.
func TestCapturedGolden(t *testing.T) {
	var decoded []gopacket.LayerType
	seen := map[gopacket.LayerType]int{}
	for _, c := range loadCaptured(t) {
		p := gopacket.NewPacket(c.data, c.t, strict)
		l := p.Layer(c.t)
		if l == nil || p.ErrorLayer() != nil {
			t.Fatalf("frame %d: %v: %v", c.frame, p.Layers(), p.ErrorLayer())
		}
		roundTrip(t, l, c.data)
		parser := gopacket.NewDecodingLayerParser(c.t, DecodingLayers()...)
		parser.IgnoreUnsupported = true
		if err := parser.DecodeLayers(c.data, &decoded); err != nil || len(decoded) != 1 || decoded[0] != c.t {
			t.Errorf("frame %d: parser decoded %v (%v)", c.frame, decoded, err)
		}
		if seen[c.t] == 0 {
			checkGolden(t, c.frame, p)
		}
		seen[c.t]++
	}
	want := map[gopacket.LayerType]int{LayerTypeMulticastLike: 29, LayerTypeMulticastGather: 22, LayerTypeNetworkConfigRequest: 6,
		LayerTypeNetworkConfig: 2, LayerTypeNetworkCredentials: 4, LayerTypeMulticastFrame: 3, LayerTypeFrame: 8,
		LayerTypeOKNetworkConfigRequest: 2, LayerTypeOKNetworkConfig: 2, LayerTypeOKMulticastGather: 2, LayerTypeOKMulticastFrame: 3}
	for lt, n := range want {
		if seen[lt] != n {
			t.Errorf("%v: %d in the capture, want %d", lt, seen[lt], n)
		}
	}
}

// checkGolden checks the first payload of each kind in the capture.
func checkGolden(t *testing.T, frame int, p gopacket.Packet) {
	t.Helper()
	group := func(g vl2wire.MulticastGroup, mac string, adi uint32) bool {
		return g.MAC.String() == mac && g.ADI == adi
	}
	ok := true
	switch l := p.Layers()[0].(type) {
	case *MulticastLike: // frame 46: the IPv4 all-hosts group
		r := l.Message.Records
		ok = frame == 46 && len(r) == 1 && r[0].NetworkID == labNetwork && group(r[0].Group, "01:00:5e:00:00:01", 0)
	case *NetworkConfigRequest: // frame 49
		d, err := vl2wire.ParseDictionary(l.Message.Metadata)
		_, hasOS := d.GetString("o")
		ok = frame == 49 && l.Message.NetworkID == labNetwork && err == nil && hasOS
	case *NetworkConfig: // frame 79: the whole config in one signed chunk
		c := l.Message
		ok = frame == 79 && c.NetworkID == labNetwork && !c.Legacy && c.Offset == 0 && int(c.TotalLength) == len(c.Chunk) &&
			c.SignatureType == 1 && bytes.Contains(c.Chunk, []byte("ztlab-basic"))
	case *OKNetworkConfigRequest: // frame 78: the same config, answering the request
		c := l.Message.ConfigChunk
		ok = frame == 78 && c.NetworkID == labNetwork && c.Offset == 0 && int(c.TotalLength) == len(c.Chunk)
	case *OKNetworkConfig: // frame 80, sent as OK in re ECHO
		ok = frame == 80 && l.Message.NetworkID == labNetwork && l.Message.UpdateID != 0
	case *MulticastGather: // frame 81: IPv6 all-nodes, with a COM
		m := l.Message
		ok = frame == 81 && m.NetworkID == labNetwork && m.Flags == vl2wire.GatherFlagCOM && m.COM != nil &&
			group(m.Group, "33:33:00:00:00:16", 0) && m.Limit == 33
	case *OKMulticastGather: // frame 186: the broadcast group's member
		m := l.Message
		ok = frame == 186 && m.NetworkID == labNetwork && group(m.Group, "ff:ff:ff:ff:ff:ff", 0x0a93149c) &&
			len(m.Members) == 1 && m.Members[0] == identity.Address(0xa9a35b19f2)
	case *NetworkCredentials: // frame 190: a COM and a certificate of ownership
		m := l.Message
		ok = frame == 190 && len(m.COMs) == 1 && m.COMs[0].NetworkID() == labNetwork && len(m.COOs) == 1
	case *MulticastFrame: // frame 194: an ARP request to the broadcast group
		m := l.Message
		arp, isARP := p.Layer(layers.LayerTypeARP).(*layers.ARP)
		ok = frame == 194 && m.NetworkID == labNetwork && m.Flags == vl2wire.MulticastFlagGatherLimit && m.GatherLimit == 0x21 &&
			group(m.Group, "ff:ff:ff:ff:ff:ff", 0x0a93149c) && isARP && arp.Operation == layers.ARPRequest &&
			bytes.Equal(l.LayerPayload(), m.Payload)
	case *OKMulticastFrame: // frame 210
		m := l.Message
		ok = frame == 210 && m.NetworkID == labNetwork && m.Flags&vl2wire.OKMulticastFlagGather != 0 && len(m.Members) == 1
	case *Frame: // frame 213: the ARP reply
		arp, isARP := p.Layer(layers.LayerTypeARP).(*layers.ARP)
		ok = frame == 213 && l.Message.NetworkID == labNetwork && l.Message.EtherType == uint16(layers.EthernetTypeARP) &&
			len(l.Contents) == 10 && isARP && arp.Operation == layers.ARPReply
	default:
		t.Errorf("frame %d: no golden check for %T", frame, l)
	}
	if !ok {
		t.Errorf("frame %d: %v decoded as %+v", frame, p.Layers()[0].LayerType(), p.Layers()[0])
	}
}

// TestExtFrameRoundTrip builds an EXT_FRAME carrying an ICMP echo with
// gopacket's layers, decodes it and serializes it back; and the form
// without a frame.
func TestExtFrameRoundTrip(t *testing.T) {
	eth := &layers.Ethernet{SrcMAC: []byte{2, 1, 2, 3, 4, 5}, DstMAC: []byte{2, 6, 7, 8, 9, 10}, EthernetType: layers.EthernetTypeIPv4}
	ip := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: layers.IPProtocolICMPv4, SrcIP: []byte{10, 0, 0, 1}, DstIP: []byte{10, 0, 0, 2}}
	icmp := &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(layers.ICMPv4TypeEchoRequest, 0), Id: 7, Seq: 1}
	head := &ExtFrame{Message: &vl2wire.ExtFrame{NetworkID: labNetwork, Flags: vl2wire.ExtFrameFlagOKRequested}}
	buf := gopacket.NewSerializeBuffer()
	opts := gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}
	if err := gopacket.SerializeLayers(buf, opts, head, eth, ip, icmp, gopacket.Payload("ping")); err != nil {
		t.Fatal(err)
	}
	data := buf.Bytes()
	p := gopacket.NewPacket(data, LayerTypeExtFrame, strict)
	l, _ := p.Layer(LayerTypeExtFrame).(*ExtFrame)
	got, _ := p.Layer(layers.LayerTypeICMPv4).(*layers.ICMPv4)
	if l == nil || got == nil || got.Id != 7 || l.Message.Dest.String() != "02:06:07:08:09:0a" || !l.Message.OKRequested() || len(l.Contents) != 9 {
		t.Fatalf("decoded %v", p.Layers())
	}
	roundTrip(t, l, data)
	nf, err := Decode(LayerTypeExtFrame, data[:9])
	if err != nil || !nf.(*ExtFrame).Message.NoFrame || nf.(*ExtFrame).NextLayerType() != gopacket.LayerTypeZero {
		t.Fatalf("EXT_FRAME without a frame: %v %v", nf, err)
	}
	roundTrip(t, nf, data[:9])
}

// TestBuiltRoundTrip serializes hand-built values of the payloads without
// Ethernet data and decodes them back.
func TestBuiltRoundTrip(t *testing.T) {
	g := vl2wire.MulticastGroup{MAC: vl2wire.MACFromBytes([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}), ADI: 0x0a000001}
	for _, l := range []gopacket.SerializableLayer{
		&MulticastLike{Message: &vl2wire.MulticastLike{Records: []vl2wire.Like{{NetworkID: labNetwork, Group: g}, {NetworkID: 1, Group: g}}}},
		&MulticastGather{Message: &vl2wire.MulticastGather{NetworkID: labNetwork, Group: g, Limit: 32}},
		&NetworkConfigRequest{Message: &vl2wire.NetworkConfigRequest{NetworkID: labNetwork, Metadata: []byte("v=7\n"), HasRevision: true, Revision: 3}},
		&NetworkConfig{Message: &vl2wire.ConfigChunk{NetworkID: labNetwork, Chunk: []byte("n=x\n"), Legacy: true}},
		&NetworkCredentials{Message: &vl2wire.NetworkCredentials{Lists: 4}},
		&OKExtFrame{Message: &vl2wire.OKExtFrame{NetworkID: labNetwork}},
		&OKNetworkConfig{Message: &vl2wire.OKNetworkConfig{NetworkID: labNetwork, UpdateID: 9}},
		&OKMulticastGather{Message: &vl2wire.OKMulticastGather{NetworkID: labNetwork, Group: g,
			GatherResults: vl2wire.GatherResults{TotalKnown: 2, Members: []identity.Address{0x0102030405, 0xa9a35b19f2}}}},
	} {
		buf := gopacket.NewSerializeBuffer()
		if err := l.SerializeTo(buf, gopacket.SerializeOptions{}); err != nil {
			t.Fatalf("%v: %v", l.LayerType(), err)
		}
		d, err := Decode(l.LayerType(), buf.Bytes())
		if err != nil {
			t.Fatalf("%v: %v", l.LayerType(), err)
		}
		if !bytes.Equal(d.LayerContents(), buf.Bytes()) || len(d.LayerPayload()) != 0 {
			t.Errorf("%v: contents %x of %x", l.LayerType(), d.LayerContents(), buf.Bytes())
		}
		roundTrip(t, d, buf.Bytes())
	}
}

// TestLayerTypes: every VL2 verb has a layer, other verbs none, and a
// payload that does not decode is an error rather than a layer.
func TestLayerTypes(t *testing.T) {
	for _, v := range []wire.Verb{wire.VerbFRAME, wire.VerbEXT_FRAME, wire.VerbMULTICAST_LIKE, wire.VerbNETWORK_CREDENTIALS,
		wire.VerbNETWORK_CONFIG_REQUEST, wire.VerbNETWORK_CONFIG, wire.VerbMULTICAST_GATHER, wire.VerbMULTICAST_FRAME} {
		if _, ok := LayerTypeOf(v); !ok {
			t.Errorf("%v has no layer", v)
		}
	}
	if _, ok := LayerTypeOf(wire.VerbHELLO); ok {
		t.Error("HELLO has a VL2 layer")
	}
	if _, ok := OKLayerTypeOf(wire.VerbWHOIS); ok {
		t.Error("OK(WHOIS) has a VL2 layer")
	}
	if l, err := Decode(LayerTypeMulticastLike, make([]byte, 17)); err == nil {
		t.Errorf("a partial MULTICAST_LIKE record decoded: %v", l)
	}
	p := gopacket.NewPacket(make([]byte, 5), LayerTypeFrame, gopacket.Default)
	if p.ErrorLayer() == nil {
		t.Errorf("a 5-byte FRAME decoded: %v", p.Layers())
	}
	if _, err := Decode(layers.LayerTypeIPv4, nil); err == nil {
		t.Error("Decode took a foreign layer type")
	}
	if err := (&Frame{}).SerializeTo(gopacket.NewSerializeBuffer(), gopacket.SerializeOptions{}); err == nil {
		t.Error("serialized a layer without a Message")
	}
	if len(DecodingLayers()) != len(allTypes()) || len(allTypes()) != 13 {
		t.Errorf("%d decoding layers, %d types", len(DecodingLayers()), len(allTypes()))
	}
}
