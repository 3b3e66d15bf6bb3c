package ztlayers

import (
	"bytes"
	"encoding/binary"
	"net"
	"slices"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/ztgo/ztgo/internal/testutil"
)

// strict decodes without gopacket's panic recovery, so a panic in a
// decoder fails the test instead of turning into a DecodeFailure layer.
var strict = gopacket.DecodeOptions{SkipDecodeRecovery: true}

// wrapUDP puts a datagram into Ethernet/IPv4/UDP from srcPort to dstPort,
// as gopacket serializes them (lengths and checksums computed).
func wrapUDP(t testing.TB, datagram []byte, srcPort, dstPort uint16) []byte {
	t.Helper()
	eth := &layers.Ethernet{
		SrcMAC:       net.HardwareAddr{0x02, 0, 0, 0, 0, 0x0b},
		DstMAC:       net.HardwareAddr{0x02, 0, 0, 0, 0, 0x0c},
		EthernetType: layers.EthernetTypeIPv4,
	}
	ip := &layers.IPv4{
		Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP, Flags: layers.IPv4DontFragment,
		SrcIP: net.IP{198, 18, 0, 11}, DstIP: net.IP{198, 18, 0, 12},
	}
	udp := &layers.UDP{SrcPort: layers.UDPPort(srcPort), DstPort: layers.UDPPort(dstPort)}
	if err := udp.SetNetworkLayerForChecksum(ip); err != nil {
		t.Fatal(err)
	}
	return serialize(t, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
		eth, ip, udp, gopacket.Payload(datagram))
}

func serialize(t testing.TB, opts gopacket.SerializeOptions, ls ...gopacket.SerializableLayer) []byte {
	t.Helper()
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, opts, ls...); err != nil {
		t.Fatalf("serialize %v: %v", ls, err)
	}
	return slices.Clone(buf.Bytes())
}

// layerTypes lists a packet's layer types, failing on a decode failure.
func layerTypes(t testing.TB, p gopacket.Packet) []gopacket.LayerType {
	t.Helper()
	if e := p.ErrorLayer(); e != nil {
		t.Fatalf("decode failure: %v\n%s", e.Error(), p.Dump())
	}
	var out []gopacket.LayerType
	for _, l := range p.Layers() {
		out = append(out, l.LayerType())
	}
	return out
}

func wantLayers(t testing.TB, p gopacket.Packet, want ...gopacket.LayerType) {
	t.Helper()
	if got := layerTypes(t, p); !slices.Equal(got, want) {
		t.Fatalf("layers %v, want %v", got, want)
	}
}

// reserialize serializes every layer of p again; it must give back data,
// except that gopacket's Ethernet layer pads frames to 60 bytes.
func reserialize(t testing.TB, p gopacket.Packet, data []byte) {
	t.Helper()
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializePacket(buf, gopacket.SerializeOptions{}, p); err != nil {
		t.Fatalf("serialize decoded packet: %v", err)
	}
	got := buf.Bytes()
	if len(got) > len(data) && len(got) <= 60 && !bytes.ContainsFunc(got[len(data):], func(r rune) bool { return r != 0 }) {
		got = got[:len(data)]
	}
	if !bytes.Equal(got, data) {
		t.Fatalf("decode→serialize differs:\n got %x\nwant %x", got, data)
	}
}

// stack is a DecodingLayerParser from Ethernet down to the ZeroTier verb,
// with its layers.
type stack struct {
	eth     layers.Ethernet
	ip4     layers.IPv4
	udp     layers.UDP
	zt      Classifier
	pkt     Packet
	frag    Fragment
	verb    Verb
	payload gopacket.Payload
	chunk   gopacket.Fragment
	parser  *gopacket.DecodingLayerParser
	decoded []gopacket.LayerType
}

func newStack(first gopacket.LayerType) *stack {
	s := &stack{}
	s.parser = gopacket.NewDecodingLayerParser(first,
		&s.eth, &s.ip4, &s.udp, &s.zt, &s.pkt, &s.frag, &s.verb, &s.payload, &s.chunk)
	s.parser.IgnorePanic = true // let a panic fail the test
	return s
}

func (s *stack) decode(t testing.TB, data []byte, want ...gopacket.LayerType) {
	t.Helper()
	if err := s.parser.DecodeLayers(data, &s.decoded); err != nil {
		t.Fatalf("DecodeLayers: %v (decoded %v)", err, s.decoded)
	}
	if !slices.Equal(s.decoded, want) {
		t.Fatalf("parser decoded %v, want %v", s.decoded, want)
	}
}

// pcapFrames reads the frames of a classic little- or big-endian pcap file
// with Ethernet link type. (gopacket's pcapgo reader is not used because
// that package needs modules this repository does not require.)
func pcapFrames(t testing.TB, parts ...string) [][]byte {
	t.Helper()
	b := testutil.ReadFile(t, parts...)
	if len(b) < 24 {
		t.Fatal("pcap: short file header")
	}
	var order binary.ByteOrder
	switch binary.LittleEndian.Uint32(b) {
	case 0xa1b2c3d4, 0xa1b23c4d:
		order = binary.LittleEndian
	case 0xd4c3b2a1, 0x4d3cb2a1:
		order = binary.BigEndian
	default:
		t.Fatalf("pcap: bad magic %x", b[:4])
	}
	if lt := order.Uint32(b[20:]); lt != 1 {
		t.Fatalf("pcap: link type %d, want Ethernet", lt)
	}
	var frames [][]byte
	for off := 24; off < len(b); {
		if len(b)-off < 16 {
			t.Fatal("pcap: short record header")
		}
		n := int(order.Uint32(b[off+8:]))
		off += 16
		if len(b)-off < n {
			t.Fatal("pcap: short record")
		}
		frames = append(frames, b[off:off+n:off+n])
		off += n
	}
	return frames
}
