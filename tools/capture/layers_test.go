package capture

import (
	"bytes"
	"testing"

	"github.com/gopacket/gopacket"

	"github.com/ztgo/ztgo/internal/testutil"
	"github.com/ztgo/ztgo/layer0-transport/relaylayers"
	"github.com/ztgo/ztgo/layer1-vl1/wire"
	"github.com/ztgo/ztgo/layer1-vl1/ztlayers"
)

// TestRelayLayersCarryZeroTier: the layers of the three levels compose. A
// datagram the TCP relay framing carries (the spec's tunnel vector, a HELLO)
// decodes on through ztlayers once relaylayers is told what its datagrams
// are, as a tool that reads relay streams would do.
func TestRelayLayersCarryZeroTier(t *testing.T) {
	var v struct {
		ClientToRelay string `json:"client_to_relay"`
		Datagram      string `json:"datagram"`
	}
	testutil.Vectors(t, "tcp_tunnel.json", &v)
	old := relaylayers.DatagramLayerType
	relaylayers.DatagramLayerType = ztlayers.LayerTypeZeroTier
	defer func() { relaylayers.DatagramLayerType = old }()

	p := gopacket.NewPacket(testutil.Hex(t, v.ClientToRelay), relaylayers.LayerTypeRecord, gopacket.DecodeOptions{SkipDecodeRecovery: true})
	want := []gopacket.LayerType{relaylayers.LayerTypeRecord, relaylayers.LayerTypeAddressed, ztlayers.LayerTypeZeroTierPacket, ztlayers.LayerTypeZeroTierVerb}
	ls := p.Layers()
	if len(ls) != len(want) {
		t.Fatalf("layers %v, want %v", ls, want)
	}
	for i, l := range ls {
		if l.LayerType() != want[i] {
			t.Fatalf("layer %d is %v, want %v", i, l.LayerType(), want[i])
		}
	}
	pkt := ls[2].(*ztlayers.Packet)
	verb := ls[3].(*ztlayers.Verb)
	if verb.Verb != wire.VerbHELLO || !bytes.Equal(append(bytes.Clone(pkt.Contents), pkt.Payload...), testutil.Hex(t, v.Datagram)) {
		t.Errorf("carried %v in %x", verb.Verb, pkt.Contents)
	}
}
