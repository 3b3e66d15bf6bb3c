package vl1_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/ztgo/ztgo/layer0-transport/memnet"
	"github.com/ztgo/ztgo/layer1-vl1/vl1test"
)

// TestMeshOf50 starts 50 nodes behind a mix of NATs that allow hole
// punching, has every node ping every other, and requires every pair to
// hold a direct path within five simulated minutes.
func TestMeshOf50(t *testing.T) {
	if testing.Short() {
		t.Skip("50-node mesh skipped in -short mode")
	}
	h := vl1test.New(t, vl1test.Options{Seed: 50})
	mix := []memnet.NATType{0, memnet.FullCone, memnet.AddressRestricted, memnet.PortRestricted}
	var nodes []*vl1test.Node
	for i := range 50 {
		nodes = append(nodes, h.Add(fmt.Sprintf("n%02d", i), mix[i%len(mix)]))
	}
	online := func() bool {
		for _, n := range nodes {
			if !n.Status().Online {
				return false
			}
		}
		return true
	}
	if !h.RunUntil(online, time.Minute) {
		t.Fatalf("not all online after a minute")
	}
	missing := func() int {
		m := 0
		for i, a := range nodes {
			for _, b := range nodes[i+1:] {
				if !a.DirectPath(b.Address()) || !b.DirectPath(a.Address()) {
					m++
				}
			}
		}
		return m
	}
	start := h.Elapsed()
	for h.Elapsed()-start < 5*time.Minute && missing() > 0 {
		for _, a := range nodes {
			for _, b := range nodes {
				if a != b && !a.DirectPath(b.Address()) {
					a.Ping(b.Address())
				}
			}
		}
		h.RunFor(2 * time.Second)
	}
	if m := missing(); m > 0 {
		t.Fatalf("%d of %d pairs without a direct path after %v", m, 50*49/2, h.Elapsed()-start)
	}
	t.Logf("full mesh of 50 in %v simulated (root relayed %d packets, sent %d RENDEZVOUS pairs)",
		h.Elapsed()-start, h.Roots[0].Stats().Relayed, h.Roots[0].Stats().Rendezvous)
}
