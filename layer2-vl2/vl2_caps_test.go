package vl2_test

import (
	"fmt"
	"testing"
	"time"
)

// TestCapabilityGrantsWhatBaseRulesDeny: the base rules accept only ARP;
// member a holds a capability allowing TCP to port 22. a reaches b's SSH
// (b checks a's signed capability on the way in); b cannot reach a's.
func TestCapabilityGrantsWhatBaseRulesDeny(t *testing.T) {
	l := newLab(t, 2, "", map[string]any{
		"rules": []any{
			map[string]any{"type": "MATCH_ETHERTYPE", "etherType": 0x0806},
			map[string]any{"type": "ACTION_ACCEPT"},
		},
		"capabilities": []any{map[string]any{"id": 1, "default": false, "rules": []any{
			map[string]any{"type": "MATCH_IP_PROTOCOL", "ipProtocol": 6},
			map[string]any{"type": "MATCH_IP_DEST_PORT_RANGE", "start": 22, "end": 22},
			map[string]any{"type": "ACTION_ACCEPT"},
		}}},
	})
	a, b := l.members[0], l.members[1]
	api(t, l.ctl, "POST", fmt.Sprintf("/controller/network/%016x/member/%s", l.nwid, a.Address()), map[string]any{"capabilities": []any{1}})
	if !l.h.RunUntil(func() bool { c := a.Switch.Network(l.nwid).Config(); return c != nil && len(c.Capabilities) == 1 }, 10*time.Second) {
		t.Fatal("capability not issued")
	}
	a.Send(l.nwid, tcpSYN(t, l.mac(a), l.mac(b), l.ip(a), l.ip(b), 22))
	if got := collect(l, 2*time.Second); len(got[b]) != 1 {
		t.Fatalf("a's SSH with a capability: b got %d", len(got[b]))
	}
	a.Send(l.nwid, tcpSYN(t, l.mac(a), l.mac(b), l.ip(a), l.ip(b), 80))
	if got := collect(l, 2*time.Second); len(got[b]) != 0 {
		t.Fatal("port 80 passed without a capability for it")
	}
	b.Send(l.nwid, tcpSYN(t, l.mac(b), l.mac(a), l.ip(b), l.ip(a), 22))
	if got := collect(l, 2*time.Second); len(got[a]) != 0 {
		t.Fatal("b's SSH passed without a capability")
	}
	a.Send(l.nwid, arpRequest(t, l.mac(a), l.ip(a), l.ip(b)))
	if got := collect(l, 2*time.Second); len(got[b]) != 1 {
		t.Fatal("ARP blocked")
	}
}

// TestMulticastLimit: a broadcast goes to at most multicastLimit members.
func TestMulticastLimit(t *testing.T) {
	l := newLab(t, 5, "", map[string]any{"multicastLimit": 2})
	a := l.members[0]
	collect(l, 65*time.Second) // everyone's LIKEs are known
	a.Send(l.nwid, rawFrame(t, l.mac(a), 0xffffffffffff, 0x88b5, "limited"))
	got := collect(l, 5*time.Second)
	total := 0
	for _, m := range l.members[1:] {
		total += len(got[m])
	}
	if total != 2 {
		t.Fatalf("broadcast reached %d members with multicastLimit 2", total)
	}
}
