package vl2_test

import (
	"bytes"
	"fmt"
	"net/netip"
	"testing"
	"time"

	vl2 "github.com/ztgo/ztgo/layer2-vl2"
	"github.com/ztgo/ztgo/layer2-vl2/vl2test"
	"github.com/ztgo/ztgo/layer2-vl2/vl2wire"
)

// collect runs the network for d and returns what each member received.
func collect(l *lab, d time.Duration) map[*vl2test.Member][][]byte {
	out := map[*vl2test.Member][][]byte{}
	l.h.RunUntil(func() bool {
		for _, m := range l.members {
			out[m] = append(out[m], m.Device(l.nwid).Delivered()...)
		}
		return false
	}, d)
	return out
}

func TestBroadcastAndMulticastReachExactlySubscribers(t *testing.T) {
	l := newLab(t, 4, "", nil)
	a, b, c, d := l.members[0], l.members[1], l.members[2], l.members[3]
	// Broadcast (not ARP): every member is in the broadcast group.
	a.Send(l.nwid, rawFrame(t, l.mac(a), vl2wire.BroadcastMAC, 0x88b5, "hello all"))
	got := collect(l, 5*time.Second)
	for _, m := range []*vl2test.Member{b, c, d} {
		if len(got[m]) != 1 || !bytes.Contains(got[m][0], []byte("hello all")) {
			t.Fatalf("%s got %d broadcast frames", m.Name, len(got[m]))
		}
	}
	if len(got[a]) != 0 {
		t.Fatal("sender got its own broadcast")
	}
	// A multicast group only c and d subscribed to.
	group := vl2wire.MulticastGroup{MAC: 0x01005e010203}
	c.Switch.Network(l.nwid).Subscribe(group)
	d.Switch.Network(l.nwid).Subscribe(group)
	collect(l, 2*time.Second)
	a.Send(l.nwid, rawFrame(t, l.mac(a), group.MAC, 0x0800, "to the group"))
	got = collect(l, 5*time.Second)
	if len(got[b]) != 0 || len(got[c]) != 1 || len(got[d]) != 1 {
		t.Fatalf("group frame reached b:%d c:%d d:%d", len(got[b]), len(got[c]), len(got[d]))
	}
}

func TestDropRuleBlocksOnlyWhatItShould(t *testing.T) {
	rules := []any{
		map[string]any{"type": "MATCH_IP_PROTOCOL", "ipProtocol": 6},
		map[string]any{"type": "MATCH_IP_DEST_PORT_RANGE", "start": 22, "end": 22},
		map[string]any{"type": "ACTION_DROP"},
		map[string]any{"type": "ACTION_ACCEPT"},
	}
	l := newLab(t, 2, "", map[string]any{"rules": rules})
	a, b := l.members[0], l.members[1]
	for _, c := range []struct {
		name  string
		frame []byte
		want  bool
	}{
		{"ssh", tcpSYN(t, l.mac(a), l.mac(b), l.ip(a), l.ip(b), 22), false},
		{"http", tcpSYN(t, l.mac(a), l.mac(b), l.ip(a), l.ip(b), 80), true},
		{"icmp", icmpEcho(t, l.mac(a), l.mac(b), l.ip(a), l.ip(b), 1), true},
		{"ssh again", tcpSYN(t, l.mac(a), l.mac(b), l.ip(a), l.ip(b), 22), false},
	} {
		a.Send(l.nwid, c.frame)
		got := collect(l, 2*time.Second)[b]
		if (len(got) == 1) != c.want {
			t.Errorf("%s: delivered %d, want delivered=%v", c.name, len(got), c.want)
		}
	}
}

// TestDeauthorizationIsFast: within 100 ms of the API call nobody
// exchanges a frame with the member, and within 1 s it has dropped the
// network's addresses and routes.
func TestDeauthorizationIsFast(t *testing.T) {
	l := newLab(t, 3, "", nil)
	a, b, c := l.members[0], l.members[1], l.members[2]
	// Everyone has talked to c, so everyone holds its COM.
	for _, m := range []*vl2test.Member{a, b} {
		m.Send(l.nwid, icmpEcho(t, l.mac(m), l.mac(c), l.ip(m), l.ip(c), 1))
		c.Send(l.nwid, icmpEcho(t, l.mac(c), l.mac(m), l.ip(c), l.ip(m), 1))
	}
	collect(l, 2*time.Second)
	ipC := l.ip(c)
	start := l.h.Elapsed()
	api(t, l.ctl, "POST", fmt.Sprintf("/controller/network/%016x/member/%s", l.nwid, c.Address()), map[string]any{"authorized": false})
	l.h.RunFor(100 * time.Millisecond)
	for _, m := range []*vl2test.Member{a, b} {
		if m.Switch.Network(l.nwid).Allowed(c.Address()) {
			t.Fatalf("%s still admits the revoked member after %v", m.Name, l.h.Elapsed()-start)
		}
	}
	// Frames both ways are refused.
	a.Send(l.nwid, icmpEcho(t, l.mac(a), l.mac(c), l.ip(a), ipC, 2))
	c.Send(l.nwid, icmpEcho(t, l.mac(c), l.mac(a), ipC, l.ip(a), 2))
	got := collect(l, 900*time.Millisecond)
	if len(got[a]) != 0 || len(got[c]) != 0 {
		t.Fatalf("frames still flow: a got %d, c got %d", len(got[a]), len(got[c]))
	}
	if st := c.Switch.Network(l.nwid).Status(); st != vl2.StatusAccessDenied {
		t.Fatalf("deauthorized member's status %v", st)
	}
	if up, addrs, routes := c.Device(l.nwid).State(); up || len(addrs) != 0 || len(routes) != 0 {
		t.Fatalf("deauthorized member keeps %v %v (up %v) after %v", addrs, routes, up, l.h.Elapsed()-start)
	}
	// a and b still talk.
	a.Send(l.nwid, icmpEcho(t, l.mac(a), l.mac(b), l.ip(a), l.ip(b), 3))
	if got := collect(l, time.Second); len(got[b]) != 1 {
		t.Fatal("remaining members stopped talking")
	}
	// Re-authorized, c comes back.
	api(t, l.ctl, "POST", fmt.Sprintf("/controller/network/%016x/member/%s", l.nwid, c.Address()), map[string]any{"authorized": true})
	if !l.h.RunUntil(func() bool { return c.Switch.Network(l.nwid).Status() == vl2.StatusOK }, 10*time.Second) {
		t.Fatal("re-authorized member not back")
	}
}

func TestControllerRestartKeepsNetworksAndMembers(t *testing.T) {
	dir := t.TempDir()
	l := newLab(t, 2, dir, nil)
	before := api(t, l.ctl, "GET", fmt.Sprintf("/controller/network/%016x", l.nwid), nil)
	l.h.StartController(l.ctl, dir) // a new controller from the same directory
	after := api(t, l.ctl, "GET", fmt.Sprintf("/controller/network/%016x", l.nwid), nil)
	if after["name"] != "lab" || after["revision"] != before["revision"] {
		t.Fatalf("network after restart: %v", after)
	}
	members := api(t, l.ctl, "GET", fmt.Sprintf("/controller/network/%016x/member", l.nwid), nil)
	if len(members) != 2 {
		t.Fatalf("members after restart: %v", members)
	}
	for _, m := range l.members {
		rec := api(t, l.ctl, "GET", fmt.Sprintf("/controller/network/%016x/member/%s", l.nwid, m.Address()), nil)
		if rec["authorized"] != true || len(rec["ipAssignments"].([]any)) != 1 {
			t.Fatalf("member after restart: %v", rec)
		}
	}
	// Members keep their addresses at the next refresh.
	ips := []netip.Addr{l.ip(l.members[0]), l.ip(l.members[1])}
	l.h.RunFor(70 * time.Second)
	if l.ip(l.members[0]) != ips[0] || l.ip(l.members[1]) != ips[1] {
		t.Fatal("addresses changed after a controller restart")
	}
}

func TestControllerOfflineMembersKeepTalkingNewCannotJoin(t *testing.T) {
	l := newLab(t, 2, "", nil)
	a, b := l.members[0], l.members[1]
	l.h.Stop(l.ctl.Node)
	for i := range 10 { // ten minutes in steps, across many refresh periods
		a.Send(l.nwid, icmpEcho(t, l.mac(a), l.mac(b), l.ip(a), l.ip(b), uint16(i)))
		if got := collect(l, time.Minute); len(got[b]) != 1 {
			t.Fatalf("minute %d: b got %d frames", i, len(got[b]))
		}
	}
	n := l.h.Add("late", 0)
	n.Join(l.nwid)
	l.h.RunFor(time.Minute)
	if st := n.Switch.Network(l.nwid).Status(); st != vl2.StatusRequestingConfiguration {
		t.Fatalf("new member status %v with the controller offline", st)
	}
}
