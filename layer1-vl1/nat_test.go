package vl1_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ztgo/ztgo/layer0-transport/memnet"
	"github.com/ztgo/ztgo/layer1-vl1/vl1test"
)

// kinds is the NAT matrix: 0 is a host with a public address.
var kinds = append([]memnet.NATType{0}, memnet.NATTypes...)

func kindName(k memnet.NATType) string {
	if k == 0 {
		return "public"
	}
	return k.String()
}

// directExpected is where 1.14.1's algorithm (RENDEZVOUS to both sides,
// each probing the address the root saw) can open a path: a symmetric NAT
// shows each destination a new port, so the other side must accept
// packets from a port it never sent to — a public host or an
// endpoint-independent or address-restricted filter. spec/nat-matrix.md
// has the table.
func directExpected(a, b memnet.NATType) bool {
	sym := func(x, y memnet.NATType) bool {
		return x == memnet.Symmetric && (y == memnet.PortRestricted || y == memnet.Symmetric)
	}
	return !sym(a, b) && !sym(b, a)
}

func TestNATMatrix(t *testing.T) {
	var table strings.Builder
	for _, ka := range kinds {
		for _, kb := range kinds {
			name := kindName(ka) + "/" + kindName(kb)
			t.Run(name, func(t *testing.T) {
				h := vl1test.New(t, vl1test.Options{})
				a := h.Add("a", ka)
				b := h.Add("b", kb)
				if !h.RunUntil(func() bool { return a.Status().Online && b.Status().Online }, 15*time.Second) {
					t.Fatalf("not online:\n%s", h.Describe())
				}
				direct := func() bool { return a.DirectPath(b.Address()) && b.DirectPath(a.Address()) }
				got := pingUntil(h, a, b, direct, 40*time.Second)
				want := directExpected(ka, kb)
				fmt.Fprintf(&table, "%s %v\n", name, got)
				if got != want {
					t.Fatalf("direct path %v, want %v:\n%s", got, want, h.Describe())
				}
				// Either way the two can talk: relayed or direct.
				before := a.Stats().EchoReplies
				for range 5 {
					a.Ping(b.Address())
					h.RunFor(time.Second)
				}
				if a.Stats().EchoReplies < before+4 {
					t.Fatalf("echo replies %d -> %d:\n%s", before, a.Stats().EchoReplies, h.Describe())
				}
				if !want && h.Roots[0].Stats().Relayed == 0 {
					t.Fatal("no direct path and nothing relayed")
				}
			})
		}
	}
	t.Logf("direct paths:\n%s", table.String())
}

// TestRootLossKeepsDirectPath: once two nodes talk directly, losing every
// root changes nothing for them.
func TestRootLossKeepsDirectPath(t *testing.T) {
	h := vl1test.New(t, vl1test.Options{})
	a := h.Add("a", memnet.PortRestricted)
	b := h.Add("b", memnet.FullCone)
	h.RunUntil(func() bool { return a.Status().Online && b.Status().Online }, 15*time.Second)
	if !pingUntil(h, a, b, func() bool { return a.DirectPath(b.Address()) && b.DirectPath(a.Address()) }, 40*time.Second) {
		t.Fatalf("no direct path:\n%s", h.Describe())
	}
	h.Stop(h.Roots[0])
	before := a.Stats().EchoReplies
	for range 600 { // ten minutes, past every path and peer timeout
		a.Ping(b.Address())
		h.RunFor(time.Second)
	}
	if got := a.Stats().EchoReplies - before; got < 590 {
		t.Fatalf("%d of 600 pings answered without a root:\n%s", got, h.Describe())
	}
	if !a.DirectPath(b.Address()) || a.Status().Online {
		t.Fatalf("direct %v online %v", a.DirectPath(b.Address()), a.Status().Online)
	}
}

// TestRootReturns: with the only root down, two nodes keep their direct
// path (TestRootLossKeepsDirectPath); when the root comes back (a new
// process, same identity and address), the nodes find it again and a node
// that starts afterwards reaches them through it, as the FAQ promises.
func TestRootReturns(t *testing.T) {
	h := vl1test.New(t, vl1test.Options{})
	a := h.Add("a", memnet.PortRestricted)
	b := h.Add("b", 0)
	h.RunUntil(func() bool { return a.Status().Online && b.Status().Online }, 15*time.Second)
	pingUntil(h, a, b, func() bool { return a.DirectPath(b.Address()) }, 30*time.Second)
	root := h.Roots[0]
	h.Stop(root)
	for range 60 { // still communicating
		a.Ping(b.Address())
		h.RunFor(10 * time.Second)
	}
	if a.Status().Online || !a.DirectPath(b.Address()) {
		t.Fatalf("root down 10 min: online %v, direct %v", a.Status().Online, a.DirectPath(b.Address()))
	}
	h.Restart(root)
	if !h.RunUntil(func() bool { return a.Status().Online && b.Status().Online }, 5*time.Minute) {
		t.Fatalf("nodes did not find the returned root:\n%s", h.Describe())
	}
	c := h.Add("c", memnet.FullCone)
	h.RunUntil(func() bool { return c.Status().Online }, 30*time.Second)
	if !pingUntil(h, c, a, func() bool { return c.Stats().EchoReplies > 0 }, 30*time.Second) {
		t.Fatalf("a node that started after the root returned cannot reach a:\n%s", h.Describe())
	}
}

// TestNATTimeoutMemberReachableThroughRoot: a member behind a NAT that
// forgets UDP mappings after 30 s without outbound traffic stays reachable
// through its root while idle. 1.14.1 re-HELLOs roots only every 224 s,
// but its ping pass also WHOISes each root it skips, every 5 s, which keeps
// the mapping open; without that, a newcomer's first packets, relayed by
// the root, would die at the member's NAT.
func TestNATTimeoutMemberReachableThroughRoot(t *testing.T) {
	h := vl1test.New(t, vl1test.Options{})
	a := h.Add("a", memnet.PortRestricted)
	a.NAT.UDPTimeout = 30 * time.Second
	h.RunUntil(func() bool { return a.Status().Online }, 15*time.Second)
	h.RunFor(5 * time.Minute) // idle: nothing but what VL1 sends by itself

	b := h.Add("b", memnet.FullCone) // a newcomer that never talked to a
	h.RunUntil(func() bool { return b.Status().Online }, 15*time.Second)
	before := b.Stats().EchoReplies
	for range 10 {
		b.Ping(a.Address())
		h.RunFor(time.Second)
	}
	if got := b.Stats().EchoReplies - before; got < 8 {
		t.Fatalf("%d of 10 pings to an idle member behind a 30 s NAT answered:\n%s", got, h.Describe())
	}
}

// TestAddressTakenOverElsewhere: a node (a controller replica, say) dies
// and another process with the same identity, elsewhere, carries on. A
// peer that had a direct path to the dead one stops using that path once
// it has been silent for pathAliveTimeout and sends through the root,
// which knows where the address lives now: the survivor answers within
// half a minute, not after the four minutes the dead path takes to expire.
func TestAddressTakenOverElsewhere(t *testing.T) {
	h := vl1test.New(t, vl1test.Options{})
	a := h.Add("a", memnet.FullCone)
	x1 := h.Add("x1", memnet.FullCone)
	h.RunUntil(func() bool { return a.Status().Online && x1.Status().Online }, 15*time.Second)
	if !pingUntil(h, a, x1, func() bool { return a.DirectPath(x1.Address()) }, 30*time.Second) {
		t.Fatalf("no direct path:\n%s", h.Describe())
	}
	x2 := h.AddWithIdentity("x2", x1.Identity())
	h.RunUntil(func() bool { return x2.Status().Online }, 15*time.Second)
	h.Stop(x1)
	stopped := h.Elapsed()
	before := a.Stats().EchoReplies
	if !pingUntil(h, a, x2, func() bool { return a.Stats().EchoReplies > before }, 45*time.Second) {
		t.Fatalf("pings to the address never reached the process that took it over:\n%s", h.Describe())
	}
	t.Logf("the survivor answered %v after the first process stopped", h.Elapsed()-stopped)
}
