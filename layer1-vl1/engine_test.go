package vl1_test

import (
	"testing"
	"time"

	"github.com/ztgo/ztgo/layer1-vl1/vl1test"
)

// pingUntil has a ping b every second until cond holds.
func pingUntil(h *vl1test.Harness, a, b *vl1test.Node, cond func() bool, limit time.Duration) bool {
	deadline := h.Elapsed() + limit
	for h.Elapsed() < deadline {
		a.Ping(b.Address())
		if h.RunUntil(cond, time.Second) {
			return true
		}
	}
	return cond()
}

func TestFirstContactRelayedThenDirect(t *testing.T) {
	h := vl1test.New(t, vl1test.Options{})
	a := h.Add("a", 0)
	b := h.Add("b", 0)
	root := h.Roots[0]
	if !h.RunUntil(func() bool { return a.Status().Online && b.Status().Online }, 10*time.Second) {
		t.Fatalf("nodes not online:\n%s", h.Describe())
	}
	if !pingUntil(h, a, b, func() bool { return a.Stats().EchoReplies > 0 }, 10*time.Second) {
		t.Fatalf("no echo reply:\n%s", h.Describe())
	}
	if root.Stats().Relayed == 0 || root.Stats().WhoisAnswered == 0 {
		t.Fatalf("first contact not through the root: %+v", root.Stats())
	}
	if !pingUntil(h, a, b, func() bool { return a.DirectPath(b.Address()) && b.DirectPath(a.Address()) }, 10*time.Second) {
		t.Fatalf("no direct path:\n%s", h.Describe())
	}
	p, _ := a.Peer(b.Address())
	if !p.Identity.Equal(b.Identity().Public()) || p.Proto != 12 {
		t.Fatalf("peer info %+v", p)
	}
	relayed := root.Stats().Relayed
	for range 10 {
		a.Ping(b.Address())
		h.RunFor(time.Second)
	}
	if got := root.Stats().Relayed; got != relayed {
		t.Fatalf("root still relaying after the direct path formed: %d -> %d", relayed, got)
	}
}
