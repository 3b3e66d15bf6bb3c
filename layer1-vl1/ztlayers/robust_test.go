package ztlayers

import (
	"bytes"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/ztgo/ztgo/internal/testutil"
	"github.com/ztgo/ztgo/layer1-vl1/wire"
)

// checkDecode runs every entry point on data and checks that nothing
// panics and that whatever the ZeroTier layers decoded serializes back to
// the same bytes. It is the body of FuzzDecode.
func checkDecode(t *testing.T, data []byte) {
	orig := slices.Clone(data)
	defer func() {
		if !bytes.Equal(data, orig) {
			t.Fatalf("decoding changed its input: %x, was %x", data, orig)
		}
	}()
	for _, dec := range []gopacket.Decoder{LayerTypeZeroTier, LayerTypeZeroTierVerb, DearmoredDecoder} {
		p := gopacket.NewPacket(data, dec, strict)
		ztRoundTrip(t, p, data)
		// Serializing inner gopacket layers may fail on odd input; it
		// must not panic.
		_ = gopacket.SerializePacket(gopacket.NewSerializeBuffer(), gopacket.SerializeOptions{}, p)
	}
	var (
		cls     Classifier
		pkt     Packet
		frag    Fragment
		verb    Verb
		payload gopacket.Payload
		chunk   gopacket.Fragment
		eth     layers.Ethernet
		ip4     layers.IPv4
		ip6     layers.IPv6
		arp     layers.ARP
		decoded []gopacket.LayerType
	)
	parser := gopacket.NewDecodingLayerParser(LayerTypeZeroTier,
		&cls, &pkt, &frag, &verb, &payload, &chunk, &eth, &ip4, &ip6, &arp)
	parser.IgnorePanic = true
	parser.IgnoreUnsupported = true
	_ = parser.DecodeLayers(data, &decoded)
	parser = gopacket.NewDecodingLayerParser(LayerTypeZeroTierVerb, &verb, &payload, &eth, &ip4, &ip6, &arp)
	parser.IgnorePanic = true
	parser.IgnoreUnsupported = true
	_ = parser.DecodeLayers(data, &decoded)
}

// ztRoundTrip serializes the ZeroTier layers of p, followed by the last
// one's payload, and compares with the bytes they were decoded from.
func ztRoundTrip(t *testing.T, p gopacket.Packet, data []byte) {
	t.Helper()
	var ls []gopacket.SerializableLayer
	var last gopacket.Layer
	for _, l := range p.Layers() {
		switch l.(type) {
		case *Packet, *Fragment, *Verb:
			ls = append(ls, l.(gopacket.SerializableLayer))
			last = l
		}
	}
	if last == nil {
		return
	}
	ls = append(ls, gopacket.Payload(last.LayerPayload()))
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{}, ls...); err != nil {
		t.Fatalf("serialize %v decoded from %x: %v", p.Layers(), data, err)
	}
	if !bytes.Equal(buf.Bytes(), data) {
		t.Fatalf("round trip of %v:\n got %x\nwant %x", p.Layers(), buf.Bytes(), data)
	}
}

// samples are datagrams and envelopes from the vectors and built by hand.
func samples(t *testing.T) [][]byte {
	t.Helper()
	var out [][]byte
	var frags struct{ Datagrams []string }
	testutil.Vectors(t, "fragments.json", &frags)
	for _, d := range frags.Datagrams {
		out = append(out, testutil.Hex(t, d))
	}
	var hello struct{ Wire string }
	testutil.Vectors(t, "hello.json", &hello)
	out = append(out, testutil.Hex(t, hello.Wire))
	var armor struct {
		Vectors []struct{ Plain, Wire string }
	}
	testutil.Vectors(t, "packet_armor.json", &armor)
	for _, v := range armor.Vectors {
		out = append(out, testutil.Hex(t, v.Wire), testutil.Hex(t, v.Plain))
	}
	var lz struct {
		Compressed string `json:"compressed_packet"`
	}
	testutil.Vectors(t, "lz4.json", &lz)
	out = append(out, testutil.Hex(t, lz.Compressed))

	frame := &Verb{Verb: wire.VerbFRAME, Frame: FrameHeader{NetworkID: testNetworkID, EtherType: layers.EthernetTypeIPv4}}
	ext := &Verb{Verb: wire.VerbEXT_FRAME, Frame: FrameHeader{NetworkID: testNetworkID, Flags: 1, COM: testCOM(true)}}
	mc := &Verb{Verb: wire.VerbMULTICAST_FRAME, Frame: FrameHeader{NetworkID: testNetworkID, Flags: 0x0f,
		COM: testCOM(false), GatherLimit: 9, Source: zaMAC, Group: layers.EthernetBroadcast,
		EtherType: layers.EthernetTypeARP}}
	envs := [][]byte{
		serialize(t, build, append([]gopacket.SerializableLayer{frame}, icmpEcho(t)...)...),
		serialize(t, build, append([]gopacket.SerializableLayer{ext,
			&layers.Ethernet{SrcMAC: zaMAC, DstMAC: zbMAC, EthernetType: layers.EthernetTypeIPv6}}, icmp6Echo(t)...)...),
		serialize(t, build, mc, arpRequest()),
	}
	hdr := &Packet{PacketID: 1, Destination: 0xa9a35b19f2, Source: 0x203540ed5f, Cipher: wire.SuiteTrustedPath}
	for _, env := range envs {
		out = append(out, env, serialize(t, gopacket.SerializeOptions{}, hdr, gopacket.Payload(env)))
	}
	return out
}

func TestTruncation(t *testing.T) {
	for _, d := range samples(t) {
		for i := range len(d) + 1 {
			checkDecode(t, d[:i])
		}
	}
}

func TestRandomBytes(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	n := 20000
	if testing.Short() {
		n = 2000
	}
	for i := range n {
		d := make([]byte, rng.IntN(400))
		for j := range d {
			d[j] = byte(rng.Uint32())
		}
		// Steer a share of the inputs into each shape.
		switch i % 4 {
		case 1:
			if len(d) > 13 {
				d[13] = 0xff
			}
		case 2:
			if len(d) > wire.IdxVerb {
				d[wire.IdxFlags] &^= flagCipherMask | wire.FlagFragmented
				d[wire.IdxVerb] = byte(rng.IntN(0x17)) | d[wire.IdxVerb]&(verbFlagCompressed|verbUnusedMask)
			}
		case 3:
			if len(d) > 0 {
				d[0] = []byte{0x06, 0x07, 0x0e, 0x86, 0x87, 0x8e}[rng.IntN(6)]
			}
		}
		checkDecode(t, d)
	}
}

// TestParserMatchesNewPacket checks that a DecodingLayerParser with a
// Classifier and gopacket.NewPacket see the same layers.
func TestParserMatchesNewPacket(t *testing.T) {
	for _, d := range samples(t) {
		frame := wrapUDP(t, d, 9993, 9993)
		p := gopacket.NewPacket(frame, layers.LayerTypeEthernet, strict)
		var want []gopacket.LayerType
		for _, l := range p.Layers() {
			if l.LayerType() != gopacket.LayerTypeDecodeFailure {
				want = append(want, l.LayerType())
			}
		}
		s := newStack(layers.LayerTypeEthernet)
		s.parser.IgnoreUnsupported = true
		_ = s.parser.DecodeLayers(frame, &s.decoded)
		got := slices.DeleteFunc(slices.Clone(s.decoded), func(lt gopacket.LayerType) bool { return lt == LayerTypeZeroTier })
		// The parser stops where it has no layer (the tunnelled IPv4 would
		// need a second IPv4 decoder); compare what both reached.
		if len(got) > len(want) || !slices.Equal(got, want[:len(got)]) || len(got) < 4 {
			t.Errorf("%x: parser %v, NewPacket %v", d[:min(len(d), 32)], got, want)
		}
	}
}

// BenchmarkParser decodes a captured HELLO and a tunnelled ping through
// reused DecodingLayers, the way a capture tool loops over a pcap.
func BenchmarkParser(b *testing.B) {
	var v struct{ Wire string }
	testutil.Vectors(b, "hello.json", &v)
	hello := wrapUDP(b, testutil.Hex(b, v.Wire), 9993, 9993)
	frame := &Verb{Verb: wire.VerbFRAME, Frame: FrameHeader{NetworkID: testNetworkID, EtherType: layers.EthernetTypeIPv4}}
	ping := serialize(b, build, append([]gopacket.SerializableLayer{frame}, icmpEcho(b)...)...)
	b.Run("HELLO", func(b *testing.B) {
		s := newStack(layers.LayerTypeEthernet)
		b.ReportAllocs()
		b.SetBytes(int64(len(hello)))
		for b.Loop() {
			if err := s.parser.DecodeLayers(hello, &s.decoded); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("FRAME", func(b *testing.B) {
		var (
			verb    Verb
			ip4     layers.IPv4
			icmp    layers.ICMPv4
			payload gopacket.Payload
			decoded []gopacket.LayerType
		)
		parser := gopacket.NewDecodingLayerParser(LayerTypeZeroTierVerb, &verb, &ip4, &icmp, &payload)
		b.ReportAllocs()
		b.SetBytes(int64(len(ping)))
		for b.Loop() {
			if err := parser.DecodeLayers(ping, &decoded); err != nil {
				b.Fatal(err)
			}
		}
	})
}
