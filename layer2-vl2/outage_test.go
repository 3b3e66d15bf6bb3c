package vl2_test

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/ztgo/ztgo/layer2-vl2/vl2test"
)

// exchangeEvery sends a frame each way between a and b every interval for
// d and fails unless every one arrives.
func exchangeEvery(t *testing.T, l *lab, a, b *vl2test.Member, d, interval time.Duration) {
	t.Helper()
	for i := 0; time.Duration(i)*interval < d; i++ {
		a.Send(l.nwid, icmpEcho(t, l.mac(a), l.mac(b), l.ip(a), l.ip(b), uint16(i)))
		b.Send(l.nwid, icmpEcho(t, l.mac(b), l.mac(a), l.ip(b), l.ip(a), uint16(i)))
		got := collect(l, interval)
		if len(got[a]) != 1 || len(got[b]) != 1 {
			t.Fatalf("after %v: a got %d frames, b got %d", time.Duration(i)*interval, len(got[a]), len(got[b]))
		}
	}
}

// TestRootsOfflineMembersKeepTalking: "If all root servers went offline at
// once, devices that are already communicating would continue to do so"
// (ZeroTier's FAQ). Every root stops; two members with a direct path go on
// exchanging frames for ten simulated minutes, past every path, peer and
// config timer.
func TestRootsOfflineMembersKeepTalking(t *testing.T) {
	l := newLab(t, 2, "", nil)
	a, b := l.members[0], l.members[1]
	exchangeEvery(t, l, a, b, 5*time.Second, time.Second) // direct path first
	if !l.h.RunUntil(func() bool { return a.DirectPath(b.Address()) && b.DirectPath(a.Address()) }, 30*time.Second) {
		t.Fatalf("no direct path:\n%s", l.h.Describe())
	}
	for _, r := range l.h.Roots {
		l.h.Stop(r)
	}
	exchangeEvery(t, l, a, b, 10*time.Minute, 10*time.Second)
}

// The controller half of the FAQ is TestControllerOfflineMembersKeepTalkingNewCannotJoin.

// TestControllerReturns: the controller's process dies and comes back
// with its database; its members, which kept talking meanwhile, are
// served again with nothing lost: the same addresses, still authorized,
// and a change made on the returned controller reaches them.
func TestControllerReturns(t *testing.T) {
	dir := t.TempDir()
	l := newLab(t, 2, dir, nil)
	a, b := l.members[0], l.members[1]
	ips := []netip.Addr{l.ip(a), l.ip(b)}
	l.h.Stop(l.ctl.Node)
	exchangeEvery(t, l, a, b, 5*time.Minute, time.Minute)
	l.ctl = l.h.RestartController(l.ctl, dir)
	api(t, l.ctl, "POST", fmt.Sprintf("/controller/network/%016x", l.nwid), map[string]any{"name": "after"})
	if !l.h.RunUntil(func() bool {
		return a.Switch.Network(l.nwid).Info().Name == "after" && b.Switch.Network(l.nwid).Info().Name == "after"
	}, 3*time.Minute) {
		t.Fatalf("members not served by the returned controller:\n%s", l.h.Describe())
	}
	if l.ip(a) != ips[0] || l.ip(b) != ips[1] {
		t.Fatalf("addresses changed: %v %v, were %v", l.ip(a), l.ip(b), ips)
	}
	exchangeEvery(t, l, a, b, 3*time.Second, time.Second)
}
