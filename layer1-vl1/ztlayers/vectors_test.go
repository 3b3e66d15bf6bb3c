package ztlayers

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/ztgo/ztgo/internal/testutil"
	transport "github.com/ztgo/ztgo/layer0-transport"
	"github.com/ztgo/ztgo/layer1-vl1/identity"
	"github.com/ztgo/ztgo/layer1-vl1/wire"
)

// The UDP path every real-bytes test decodes through.
var udpPath = []gopacket.LayerType{layers.LayerTypeEthernet, layers.LayerTypeIPv4, layers.LayerTypeUDP}

func path(ls ...gopacket.LayerType) []gopacket.LayerType { return append(slices.Clone(udpPath), ls...) }

// parserPath is what the DecodingLayerParser reports: the Classifier's
// LayerTypeZeroTier comes before the real layer.
func parserPath(ls ...gopacket.LayerType) []gopacket.LayerType {
	return append(path(LayerTypeZeroTier), ls...)
}

func TestFragmentsVector(t *testing.T) {
	var v struct {
		MTU       int
		Packet    string
		Datagrams []string
	}
	testutil.Vectors(t, "fragments.json", &v)
	whole := wire.Packet(testutil.Hex(t, v.Packet))
	s := newStack(layers.LayerTypeEthernet)
	for i, h := range v.Datagrams {
		d := testutil.Hex(t, h)
		frame := wrapUDP(t, d, 9993, 9993)
		p := gopacket.NewPacket(frame, layers.LayerTypeEthernet, strict)
		if i == 0 {
			// The head: a packet with the fragmented flag; its envelope
			// (suite 3, and cut short) stays opaque.
			wantLayers(t, p, path(LayerTypeZeroTierPacket, gopacket.LayerTypePayload)...)
			pkt := p.Layer(LayerTypeZeroTierPacket).(*Packet)
			if !pkt.Fragmented || pkt.Cipher != wire.SuiteAESGMACSIV || pkt.PacketID != whole.ID() ||
				pkt.Destination != whole.Destination() || pkt.Source != whole.Source() || pkt.Hops != 0 ||
				pkt.MAC != whole.MAC() || pkt.Flags != whole.Flags() {
				t.Errorf("head: %+v", pkt)
			}
			if pkt.NextLayerType() != gopacket.LayerTypePayload {
				t.Error("fragmented head would decode its envelope")
			}
			s.decode(t, frame, parserPath(LayerTypeZeroTierPacket, gopacket.LayerTypePayload)...)
			if s.pkt.PacketID != whole.ID() || !s.pkt.Fragmented {
				t.Errorf("parser head: %+v", s.pkt)
			}
		} else {
			wantLayers(t, p, path(LayerTypeZeroTierFragment, gopacket.LayerTypeFragment)...)
			f := p.Layer(LayerTypeZeroTierFragment).(*Fragment)
			if f.Total != 3 || int(f.Number) != i || f.PacketID != whole.ID() ||
				f.Destination != whole.Destination() || f.Hops != 0 || !f.Valid() {
				t.Errorf("fragment %d: %+v", i, f)
			}
			if chunk := p.Layer(gopacket.LayerTypeFragment).LayerContents(); !bytes.Equal(chunk, d[16:]) {
				t.Errorf("fragment %d: chunk differs", i)
			}
			s.decode(t, frame, parserPath(LayerTypeZeroTierFragment, gopacket.LayerTypeFragment)...)
			if s.frag.Total != 3 || int(s.frag.Number) != i {
				t.Errorf("parser fragment: %+v", s.frag)
			}
		}
		reserialize(t, p, frame)
		// The datagram alone, from LayerTypeZeroTier.
		reserialize(t, gopacket.NewPacket(d, LayerTypeZeroTier, strict), d)
	}
}

func TestHelloVector(t *testing.T) {
	var v struct{ Wire string }
	testutil.Vectors(t, "hello.json", &v)
	d := testutil.Hex(t, v.Wire)
	frame := wrapUDP(t, d, 9993, 9993)
	p := gopacket.NewPacket(frame, layers.LayerTypeEthernet, strict)
	wantLayers(t, p, path(LayerTypeZeroTierPacket, LayerTypeZeroTierVerb)...)

	pkt := p.Layer(LayerTypeZeroTierPacket).(*Packet)
	if pkt.Cipher != wire.SuitePoly1305None || pkt.Fragmented || !pkt.Cleartext() ||
		pkt.Destination.String() != "171093a349" || pkt.Source.String() != "8e4df28b72" ||
		pkt.PacketID != 0x112233445566778f {
		t.Errorf("header: %+v", pkt)
	}
	verb := p.Layer(LayerTypeZeroTierVerb).(*Verb)
	hello, ok := verb.Message.(*wire.Hello)
	if verb.Verb != wire.VerbHELLO || verb.Compressed || !ok {
		t.Fatalf("verb layer: %+v", verb)
	}
	// The identity in a HELLO is the sender's: the packet's source.
	if got := hello.Identity.Address(); got != pkt.Source {
		t.Errorf("HELLO identity %v, packet source %v", got, pkt.Source)
	}
	if hello.ProtocolVersion != wire.ProtocolVersion || hello.Timestamp != 1700000000000 ||
		transport.FormatAddrPort(hello.PhysicalDestination) != "198.51.100.7/9993" {
		t.Errorf("HELLO: %+v", hello)
	}
	if len(verb.LayerContents()) != len(d)-wire.HeaderLength || len(verb.LayerPayload()) != 0 {
		t.Errorf("verb contents %d payload %d bytes", len(verb.LayerContents()), len(verb.LayerPayload()))
	}
	reserialize(t, p, frame)

	s := newStack(layers.LayerTypeEthernet)
	s.decode(t, frame, parserPath(LayerTypeZeroTierPacket, LayerTypeZeroTierVerb)...)
	if h, ok := s.verb.Message.(*wire.Hello); !ok || h.Identity.Address() != pkt.Source {
		t.Errorf("parser verb: %+v", s.verb)
	}
	// The HELLO's envelope alone.
	env := gopacket.NewPacket(d[wire.HeaderLength:], LayerTypeZeroTierVerb, strict)
	wantLayers(t, env, LayerTypeZeroTierVerb)
	reserialize(t, env, d[wire.HeaderLength:])
}

func TestPacketArmorVectors(t *testing.T) {
	var v struct {
		Vectors []struct {
			Cipher     wire.CipherSuite
			Fragmented bool
			Verb       wire.Verb
			Plain      string
			Wire       string
		}
	}
	testutil.Vectors(t, "packet_armor.json", &v)
	suites := map[wire.CipherSuite]int{}
	for _, vec := range v.Vectors {
		suites[vec.Cipher]++
		name := vec.Cipher.String() + "/" + vec.Verb.String()
		if vec.Fragmented {
			name += "/fragmented"
		}
		t.Run(name, func(t *testing.T) {
			d := testutil.Hex(t, vec.Wire)
			frame := wrapUDP(t, d, 9993, 9993)
			p := gopacket.NewPacket(frame, layers.LayerTypeEthernet, strict)
			pkt, ok := p.Layer(LayerTypeZeroTierPacket).(*Packet)
			if !ok || pkt.Cipher != vec.Cipher || pkt.Fragmented != vec.Fragmented {
				t.Fatalf("packet layer %+v", pkt)
			}
			clear := vec.Cipher == wire.SuitePoly1305None && !vec.Fragmented
			switch {
			case !clear:
				// Encrypted, or a head: the envelope is an opaque payload.
				wantLayers(t, p, path(LayerTypeZeroTierPacket, gopacket.LayerTypePayload)...)
				if pl := p.ApplicationLayer().Payload(); !bytes.Equal(pl, d[wire.HeaderLength:]) {
					t.Errorf("payload differs from the envelope")
				}
				reserialize(t, p, frame)
			case vec.Verb == wire.VerbHELLO:
				// This vector's HELLO carries 40 random bytes, not an
				// identity: the verb layer is tried and fails cleanly.
				e := p.ErrorLayer()
				if e == nil || !strings.Contains(e.Error().Error(), "HELLO") {
					t.Fatalf("want a HELLO decode failure, got %v", p.Layers())
				}
			default:
				wantLayers(t, p, path(LayerTypeZeroTierPacket, LayerTypeZeroTierVerb)...)
				reserialize(t, p, frame)
			}

			// Once dearmored (plain is what wire.Dearmor gives back, but
			// with the MAC field zero and the cipher bits unset) every
			// envelope is in clear text.
			plain := testutil.Hex(t, vec.Plain)
			inner := gopacket.NewPacket(plain, DearmoredDecoder, strict)
			verb, ok := inner.Layer(LayerTypeZeroTierVerb).(*Verb)
			if vec.Verb == wire.VerbHELLO {
				if ok || inner.ErrorLayer() == nil {
					t.Errorf("random HELLO decoded: %v", inner.Layers())
				}
				return
			}
			if !ok || verb.Verb != vec.Verb || verb.Message == nil || verb.Message.Verb() != vec.Verb {
				t.Fatalf("dearmored layers %v", inner.Layers())
			}
			reserialize(t, inner, plain)
		})
	}
	if suites[0] == 0 || suites[1] == 0 || suites[3] == 0 {
		t.Errorf("vectors cover suites %v", suites)
	}
}

func TestShortDatagrams(t *testing.T) {
	// Hole-punch probes are 4 bytes, the legacy LAN beacon 13; neither is a
	// packet or fragment. 16 bytes with 0xff at 13 is a bare fragment
	// header, still too short to be a fragment.
	beacon := append(bytes.Repeat([]byte{0x42}, 8), 0x17, 0x10, 0x93, 0xa3, 0x49)
	bareHeader := make([]byte, 16)
	bareHeader[13] = 0xff
	for _, d := range [][]byte{{1, 2, 3, 4}, beacon, bareHeader, make([]byte, 27)} {
		if Classify(d) != gopacket.LayerTypePayload {
			t.Errorf("%d bytes classified as %v", len(d), Classify(d))
		}
		frame := wrapUDP(t, d, 9993, 9993)
		p := gopacket.NewPacket(frame, layers.LayerTypeEthernet, strict)
		wantLayers(t, p, path(gopacket.LayerTypePayload)...)
		reserialize(t, p, frame)
		s := newStack(layers.LayerTypeEthernet)
		s.decode(t, frame, parserPath(gopacket.LayerTypePayload)...)
		if !bytes.Equal(s.payload, d) {
			t.Errorf("parser payload %x", []byte(s.payload))
		}
	}
}

// testPort is registered at init so that no test writes gopacket's port
// table while another decodes.
const testPort = 19993

func init() { RegisterPort(testPort) }

func TestRegisterPort(t *testing.T) {
	var v struct{ Wire string }
	testutil.Vectors(t, "hello.json", &v)
	d := testutil.Hex(t, v.Wire)
	for _, ports := range [][2]uint16{{testPort, 40000}, {40000, testPort}, {40000, 9993}} {
		p := gopacket.NewPacket(wrapUDP(t, d, ports[0], ports[1]), layers.LayerTypeEthernet, strict)
		wantLayers(t, p, path(LayerTypeZeroTierPacket, LayerTypeZeroTierVerb)...)
	}
	p := gopacket.NewPacket(wrapUDP(t, d, 40000, 40001), layers.LayerTypeEthernet, strict)
	wantLayers(t, p, path(gopacket.LayerTypePayload)...)
}

func TestLayerTypes(t *testing.T) {
	for lt, name := range map[gopacket.LayerType]string{
		LayerTypeZeroTier: "ZeroTier", LayerTypeZeroTierPacket: "ZeroTierPacket",
		LayerTypeZeroTierFragment: "ZeroTierFragment", LayerTypeZeroTierVerb: "ZeroTierVerb",
	} {
		if lt.String() != name || lt < 2000 {
			t.Errorf("layer type %d is %q", int(lt), lt.String())
		}
		if gopacket.DecodersByLayerName[name] == nil {
			t.Errorf("no decoder registered under %q", name)
		}
	}
	if layers.UDPPort(9993).LayerType() != LayerTypeZeroTier {
		t.Error("port 9993 is not registered")
	}
	var (
		_ gopacket.DecodingLayer     = &Classifier{}
		_ gopacket.Layer             = &Classifier{}
		_ gopacket.SerializableLayer = &Packet{}
		_ gopacket.DecodingLayer     = &Packet{}
		_ gopacket.SerializableLayer = &Fragment{}
		_ gopacket.DecodingLayer     = &Fragment{}
		_ gopacket.SerializableLayer = &Verb{}
		_ gopacket.DecodingLayer     = &Verb{}
	)
}

// TestBuildPacket serializes a packet from fields and checks every header
// bit lands where vl1.md §4.1–4.2 puts it.
func TestBuildPacket(t *testing.T) {
	pkt := &Packet{
		PacketID:    0x0102030405060708,
		Destination: 0x171093a349, Source: 0x8e4df28b72,
		Flags: FlagEncryptedLegacy, Cipher: wire.SuitePoly1305Salsa20, Fragmented: true, Hops: 5,
		MAC: 0x1112131415161718,
	}
	got := serialize(t, gopacket.SerializeOptions{}, pkt, gopacket.Payload{0xaa})
	want := testutil.Hex(t, "0102030405060708"+"171093a349"+"8e4df28b72"+"cd"+"1112131415161718"+"aa")
	if !bytes.Equal(got, want) {
		t.Fatalf("got %x\nwant %x", got, want)
	}
	frag := &Fragment{PacketID: 1, Destination: 0x171093a349, Total: 3, Number: 2, Hops: 1}
	got = serialize(t, gopacket.SerializeOptions{}, frag, gopacket.Payload{0xbb})
	if want := testutil.Hex(t, "0000000000000001171093a349ff3201bb"); !bytes.Equal(got, want) {
		t.Fatalf("fragment %x", got)
	}
	for _, bad := range []gopacket.SerializableLayer{
		&Packet{Hops: 8}, &Packet{Cipher: 8}, &Packet{Source: 1 << 40},
		&Fragment{Total: 16}, &Fragment{Destination: identity.Address(1) << 40},
		&Verb{Verb: 0x20}, &Verb{Verb: wire.VerbHELLO},
		&Verb{Verb: wire.VerbHELLO, Message: &wire.Echo{}},
	} {
		if err := gopacket.SerializeLayers(gopacket.NewSerializeBuffer(), gopacket.SerializeOptions{}, bad); err == nil {
			t.Errorf("%+v serialized", bad)
		}
	}
}
