package relaylayers

import (
	"bytes"
	"net/netip"
	"testing"

	"github.com/gopacket/gopacket"

	"github.com/ztgo/ztgo/internal/testutil"
	transport "github.com/ztgo/ztgo/layer0-transport"
)

var strict = gopacket.DecodeOptions{SkipDecodeRecovery: true}

type tunnelVector struct {
	ClientHello   string `json:"client_hello"`
	Datagram      string `json:"datagram"`
	ClientToRelay string `json:"client_to_relay"`
	RelayToClient string `json:"relay_to_client"`
}

// reserialize serializes the relay layers of p, then the last one's
// payload, and compares with want.
func reserialize(t *testing.T, p gopacket.Packet, want []byte) {
	t.Helper()
	var ls []gopacket.SerializableLayer
	var last gopacket.Layer
	for _, l := range p.Layers() {
		switch l.(type) {
		case *Record, *Hello, *Addressed:
			ls, last = append(ls, l.(gopacket.SerializableLayer)), l
		}
	}
	if last == nil {
		t.Fatalf("no relay layer in %v", p.Layers())
	}
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{}, append(ls, gopacket.Payload(last.LayerPayload()))...); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), want) {
		t.Fatalf("round trip of %v:\n got %x\nwant %x", p.Layers(), buf.Bytes(), want)
	}
}

// TestTunnelVector decodes the spec's TCP tunnel vector (testdata/vectors
// /tcp_tunnel.json): the client's hello, then the HELLO datagram it sends
// to 104.194.8.134:9993 and the relay's framing of the answer, each alone
// and as one stream, and serializes every record back.
func TestTunnelVector(t *testing.T) {
	var v tunnelVector
	testutil.Vectors(t, "tcp_tunnel.json", &v)
	hello, datagram := testutil.Hex(t, v.ClientHello), testutil.Hex(t, v.Datagram)
	to := netip.MustParseAddrPort("104.194.8.134:9993")

	p := gopacket.NewPacket(hello, LayerTypeRecord, strict)
	rec, _ := p.Layer(LayerTypeRecord).(*Record)
	h, _ := p.Layer(LayerTypeHello).(*Hello)
	if rec == nil || h == nil || len(p.Layers()) != 2 || rec.Type != RecordType || rec.Version != RecordVersion || rec.Length != 4 ||
		h.Major != 1 || h.Minor != 14 || h.Revision != 1 {
		t.Fatalf("hello: %v %+v %+v", p.Layers(), rec, h)
	}
	reserialize(t, p, hello)

	for _, s := range []string{v.ClientToRelay, v.RelayToClient} {
		msg := testutil.Hex(t, s)
		p := gopacket.NewPacket(msg, LayerTypeRecord, strict)
		a, _ := p.Layer(LayerTypeAddressed).(*Addressed)
		if a == nil || a.Type != AddressIPv4 || a.Addr != to || !bytes.Equal(a.Payload, datagram) || len(a.Contents) != 7 ||
			p.Layer(gopacket.LayerTypePayload) == nil {
			t.Fatalf("addressed: %v %+v", p.Layers(), a)
		}
		reserialize(t, p, msg)
	}

	// The stream as the client writes it: hello, then the datagram.
	stream := append(bytes.Clone(hello), testutil.Hex(t, v.ClientToRelay)...)
	var rec1 Record
	var got []gopacket.LayerType
	for len(stream) > 0 {
		if err := rec1.DecodeFromBytes(stream, gopacket.NilDecodeFeedback); err != nil {
			t.Fatal(err)
		}
		got = append(got, rec1.NextLayerType())
		stream = stream[rec1.RecordLength():]
	}
	if len(got) != 2 || got[0] != LayerTypeHello || got[1] != LayerTypeAddressed {
		t.Errorf("stream decoded as %v", got)
	}
}

// TestBuildMatchesTransport: records built with the layers equal what
// layer0-transport's AppendRecord and AppendAddressed write, for IPv4,
// IPv6 and no address, and decode back; an IPv4-mapped address under type
// 6 keeps its type.
func TestBuildMatchesTransport(t *testing.T) {
	data := []byte("0123456789abcdef")
	opts := gopacket.SerializeOptions{FixLengths: true}
	for _, ap := range []netip.AddrPort{netip.MustParseAddrPort("198.18.0.1:9993"), netip.MustParseAddrPort("[fd00::1]:443")} {
		typ := uint8(AddressIPv4)
		if ap.Addr().Is6() {
			typ = AddressIPv6
		}
		got := testutil.Serialize(t, &Record{Type: RecordType, Version: RecordVersion}, &Addressed{Type: typ, Addr: ap}, gopacket.Payload(data))
		want := transport.AppendRecord(nil, transport.AppendAddressed(nil, ap, data))
		if !bytes.Equal(got, want) {
			t.Errorf("%v: built %x, transport writes %x", ap, got, want)
		}
		reserialize(t, gopacket.NewPacket(got, LayerTypeRecord, strict), got)
	}
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, opts, &Record{Type: RecordType, Version: RecordVersion}, &Hello{Major: 1, Minor: 14, Revision: 1}); err != nil {
		t.Fatal(err)
	}
	if want := transport.AppendRecord(nil, []byte{1, 14, 0, 1}); !bytes.Equal(buf.Bytes(), want) {
		t.Errorf("hello %x, want %x", buf.Bytes(), want)
	}
	none := []byte{0x17, 3, 3, 0, 3, AddressNone, 'h', 'i'}
	p := gopacket.NewPacket(none, LayerTypeRecord, strict)
	if a, _ := p.Layer(LayerTypeAddressed).(*Addressed); a == nil || a.Addr.IsValid() || string(a.Payload) != "hi" {
		t.Errorf("untyped message: %v", p.Layers())
	}
	reserialize(t, p, none)
	mapped := netip.AddrPortFrom(netip.MustParseAddr("::ffff:10.0.0.1"), 9993)
	m := testutil.Serialize(t, &Addressed{Type: AddressIPv6, Addr: mapped}, gopacket.Payload("x"))
	var a Addressed
	if err := a.DecodeFromBytes(m, gopacket.NilDecodeFeedback); err != nil || a.Type != AddressIPv6 || a.Addr != mapped || len(m) != 20 {
		t.Errorf("mapped: %x %+v %v", m, a, err)
	}
}

// TestMalformed: short headers, records longer than the bytes left, short
// addresses, unknown types and addresses that do not fit their type are
// errors. (An empty record is a Record alone: gopacket stops at an empty
// payload.)
func TestMalformed(t *testing.T) {
	for _, b := range [][]byte{{0x17, 3}, {0x17, 3, 3, 0, 9, 1, 2}, {0x17, 3, 3, 0, 3, 4, 1, 2}, {0x17, 3, 3, 0, 2, 9, 9},
		{0x17, 3, 3, 0, 4, 1, 2}} {
		if p := gopacket.NewPacket(b, LayerTypeRecord, strict); p.ErrorLayer() == nil {
			t.Errorf("%x decoded as %v", b, p.Layers())
		}
	}
	var h Hello
	if h.DecodeFromBytes([]byte{1, 2, 3, 4, 5}, gopacket.NilDecodeFeedback) == nil {
		t.Error("5-byte hello decoded")
	}
	bad := &Addressed{Type: AddressIPv4, Addr: netip.MustParseAddrPort("[fd00::1]:1")}
	if err := bad.SerializeTo(gopacket.NewSerializeBuffer(), gopacket.SerializeOptions{}); err == nil {
		t.Error("IPv6 address serialized as type 4")
	}
	big := gopacket.NewSerializeBuffer()
	_, _ = big.AppendBytes(1 << 16)
	if err := (&Record{}).SerializeTo(big, gopacket.SerializeOptions{FixLengths: true}); err == nil {
		t.Error("64 KiB message framed")
	}
}

// FuzzDecode decodes a relay stream record by record with gopacket's panic
// recovery off: nothing may panic, and every record that decodes
// serializes back to its bytes. Seeds in testdata/fuzz/FuzzDecode are the
// spec's tunnel vector and records built by transport.
func FuzzDecode(f *testing.F) {
	f.Fuzz(func(t *testing.T, stream []byte) {
		for range 64 {
			p := gopacket.NewPacket(stream, LayerTypeRecord, strict)
			rec, _ := p.Layer(LayerTypeRecord).(*Record)
			if rec == nil {
				return
			}
			if p.ErrorLayer() == nil {
				reserialize(t, p, stream[:rec.RecordLength()])
			}
			stream = stream[rec.RecordLength():]
		}
	})
}
