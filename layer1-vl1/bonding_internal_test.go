package vl1

import (
	"encoding/binary"
	"testing"

	"github.com/ztgo/ztgo/layer1-vl1/bond"
	"github.com/ztgo/ztgo/layer1-vl1/wire"
)

// TestFrameFlow: the flow ID of a frame's inner packet, as
// Switch::onLocalEthernet computes it.
func TestFrameFlow(t *testing.T) {
	v4 := func(proto uint8, sport, dport uint16) []byte {
		ip := make([]byte, 28)
		ip[0], ip[9] = 0x45, proto
		binary.BigEndian.PutUint16(ip[20:], sport)
		binary.BigEndian.PutUint16(ip[22:], dport)
		return ip
	}
	v6 := func(ext bool, proto uint8, sport, dport uint16) []byte {
		ip := make([]byte, 40, 60)
		ip[6] = proto
		if ext { // a hop-by-hop header of 8 bytes in front
			ip[6] = 0
			ip = append(ip, proto, 0, 0, 0, 0, 0, 0, 0)
		}
		ports := make([]byte, 8)
		binary.BigEndian.PutUint16(ports, sport)
		binary.BigEndian.PutUint16(ports[2:], dport)
		return append(ip, ports...)
	}
	frame := func(et uint16, ip []byte) []byte {
		p := make([]byte, 10)
		binary.BigEndian.PutUint16(p[8:], et)
		return append(p, ip...)
	}
	ext := func(flags byte, et uint16, ip []byte) []byte {
		p := make([]byte, 23)
		p[8] = flags
		binary.BigEndian.PutUint16(p[21:], et)
		return append(p, ip...)
	}
	for _, c := range []struct {
		name    string
		verb    wire.Verb
		payload []byte
		want    bond.FlowID
	}{
		{"ipv4 tcp", wire.VerbFRAME, frame(0x0800, v4(6, 40000, 443)), bond.FlowIDFromPorts(40000, 443, 6)},
		{"ipv4 udp", wire.VerbFRAME, frame(0x0800, v4(17, 5000, 53)), bond.FlowIDFromPorts(5000, 53, 17)},
		{"ipv4 icmp", wire.VerbFRAME, frame(0x0800, v4(1, 0, 0)), bond.NoFlow},
		{"ipv6 udp", wire.VerbFRAME, frame(0x86dd, v6(false, 17, 1, 2)), bond.FlowIDFromPorts(1, 2, 17)},
		{"ipv6 hop-by-hop tcp", wire.VerbFRAME, frame(0x86dd, v6(true, 6, 3, 4)), bond.FlowIDFromPorts(3, 4, 6)},
		{"arp", wire.VerbFRAME, frame(0x0806, make([]byte, 28)), bond.NoFlow},
		{"ext frame", wire.VerbEXT_FRAME, ext(0, 0x0800, v4(6, 7, 8)), bond.FlowIDFromPorts(7, 8, 6)},
		{"ext frame with COM", wire.VerbEXT_FRAME, ext(1, 0x0800, v4(6, 7, 8)), bond.NoFlow},
		{"short", wire.VerbFRAME, frame(0x0800, v4(6, 7, 8)[:22]), bond.NoFlow},
		{"not a frame", wire.VerbECHO, frame(0x0800, v4(6, 7, 8)), bond.NoFlow},
	} {
		if got := frameFlow(c.verb, c.payload); got != c.want {
			t.Errorf("%s: flow %d, want %d", c.name, got, c.want)
		}
	}
}
