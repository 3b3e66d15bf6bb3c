package vl2_test

import (
	"testing"
	"time"

	"github.com/ztgo/ztgo/layer2-vl2/vl2wire"
)

// TestRulesLanguageThroughTheAPI: the controller takes Central's rules
// language (rulesSource) and members enforce it.
func TestRulesLanguageThroughTheAPI(t *testing.T) {
	src := `
# Allow only IPv4, ARP and IPv6.
drop
  not ethertype ipv4
  and not ethertype arp
  and not ethertype ipv6
;
# No SSH.
drop ipprotocol tcp and dport 22;
accept;
`
	l := newLab(t, 2, "", map[string]any{"rulesSource": src})
	a, b := l.members[0], l.members[1]
	n := api(t, l.ctl, "GET", "/controller/network/"+vl2wire.NetworkIDString(l.nwid), nil)
	if rs := n["rules"].([]any); len(rs) < 6 || n["rulesSource"] != src {
		t.Fatalf("compiled rules not stored: %v", n["rules"])
	}
	for _, c := range []struct {
		name  string
		frame []byte
		want  int
	}{
		{"ssh", tcpSYN(t, l.mac(a), l.mac(b), l.ip(a), l.ip(b), 22), 0},
		{"https", tcpSYN(t, l.mac(a), l.mac(b), l.ip(a), l.ip(b), 443), 1},
		{"other ethertype", rawFrame(t, l.mac(a), l.mac(b), 0x88b5, "nope"), 0},
		{"icmp", icmpEcho(t, l.mac(a), l.mac(b), l.ip(a), l.ip(b), 9), 1},
	} {
		a.Send(l.nwid, c.frame)
		if got := collect(l, 2*time.Second)[b]; len(got) != c.want {
			t.Errorf("%s: delivered %d, want %d", c.name, len(got), c.want)
		}
	}
}
