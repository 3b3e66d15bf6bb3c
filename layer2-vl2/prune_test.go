package vl2

import (
	"testing"
	"time"

	"github.com/ztgo/ztgo/layer1-vl1/identity"
	"github.com/ztgo/ztgo/layer1-vl1/vl1test"
)

// TestStrangersRecordsArePruned (issue 11, low): the per-sender rate of
// NETWORK_CREDENTIALS and the member records strangers make by asking for
// our credentials are forgotten once idle; members holding credentials
// or revocations are kept.
func TestStrangersRecordsArePruned(t *testing.T) {
	h := vl1test.New(t, vl1test.Options{})
	node := h.Add("n", 0)
	s := New(Config{Link: node.Node})
	node.SetUpper(s)
	nwid := uint64(0x1122334455000001)
	nw, err := s.Join(nwid, nil)
	if err != nil {
		t.Fatal(err)
	}
	now := node.Now().UnixMilli()
	for i := range 5000 {
		a := identity.Address(0x2000000000 + uint64(i))
		s.handleCredentials(now, a, []byte{0})
		nw.peerRequestedCredentials(now, a)
	}
	kept := identity.Address(0x3000000001)
	nw.mu.Lock()
	nw.memberLocked(kept).comRevoked = now // a revocation: must stay
	strangers := len(nw.members)
	nw.mu.Unlock()
	s.mu.Lock()
	rates := len(s.credRate)
	s.mu.Unlock()
	if strangers < 5000 || rates < 5000 {
		t.Fatalf("setup: %d members, %d rates", strangers, rates)
	}
	later := time.UnixMilli(now + memberIdle + memberPruneInterval)
	s.Tick(later)
	s.Tick(later.Add(time.Second))
	nw.mu.Lock()
	left, keptOK := len(nw.members), nw.members[kept] != nil
	nw.mu.Unlock()
	s.mu.Lock()
	rates = len(s.credRate)
	s.mu.Unlock()
	if left != 1 || !keptOK || rates != 0 {
		t.Fatalf("after idling: %d members (revoked one kept: %v), %d rates", left, keptOK, rates)
	}
}
