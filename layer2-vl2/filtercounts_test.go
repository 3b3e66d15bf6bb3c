package vl2_test

import (
	"testing"
	"time"

	vl2 "github.com/ztgo/ztgo/layer2-vl2"
)

// TestFilterCounts: a network counts the frames its rules accept and drop,
// each way (zt_network_packets).
func TestFilterCounts(t *testing.T) {
	l := newLab(t, 2, "", map[string]any{"rulesSource": "drop ipprotocol tcp and dport 22;\naccept;\n"})
	a, b := l.members[0], l.members[1]
	na, nb := a.Switch.Network(l.nwid), b.Switch.Network(l.nwid)
	a0, b0 := na.FilterCounts(), nb.FilterCounts()
	a.Send(l.nwid, tcpSYN(t, l.mac(a), l.mac(b), l.ip(a), l.ip(b), 22))
	a.Send(l.nwid, tcpSYN(t, l.mac(a), l.mac(b), l.ip(a), l.ip(b), 443))
	if got := collect(l, 2*time.Second)[b]; len(got) != 1 {
		t.Fatalf("delivered %d, want 1", len(got))
	}
	a1, b1 := na.FilterCounts(), nb.FilterCounts()
	if d := (vl2.FilterCounts{OutAccepted: a1.OutAccepted - a0.OutAccepted, OutDropped: a1.OutDropped - a0.OutDropped}); d != (vl2.FilterCounts{OutAccepted: 1, OutDropped: 1}) {
		t.Errorf("sender counted %+v", d)
	}
	if d := b1.InAccepted - b0.InAccepted; d != 1 || b1.InDropped != b0.InDropped {
		t.Errorf("receiver accepted %d more, dropped %d more", d, b1.InDropped-b0.InDropped)
	}
}
