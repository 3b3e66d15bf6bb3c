package vl2_test

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/ztgo/ztgo/layer0-transport/memnet"
	"github.com/ztgo/ztgo/layer1-vl1/vl1test"
	vl2 "github.com/ztgo/ztgo/layer2-vl2"
	"github.com/ztgo/ztgo/layer2-vl2/vl2test"
	"github.com/ztgo/ztgo/layer2-vl2/vl2wire"
)

// TestMembersBehindNATs: members behind symmetric NATs (no hole can be
// punched) still exchange frames, relayed by the root; members behind
// port-restricted NATs get a direct path once they talk.
func TestMembersBehindNATs(t *testing.T) {
	h := vl2test.New(t, vl1test.Options{})
	ctl := h.AddController("ctl", "")
	out := api(t, ctl, "POST", "/controller/network", map[string]any{"private": false, "v4AssignMode": map[string]any{"zt": true},
		"ipAssignmentPools": []any{map[string]any{"ipRangeStart": "10.9.0.1", "ipRangeEnd": "10.9.0.200"}},
		"routes":            []any{map[string]any{"target": "10.9.0.0/24"}}})
	nwid, _ := vl2wire.ParseNetworkID(out["id"].(string))
	l := &lab{h: h, ctl: ctl, nwid: nwid}
	for i, kind := range []memnet.NATType{memnet.Symmetric, memnet.Symmetric, memnet.PortRestricted, memnet.PortRestricted} {
		m := h.Add(fmt.Sprintf("n%d", i), kind)
		m.Join(nwid)
		l.members = append(l.members, m)
	}
	if !h.RunUntil(func() bool {
		for _, m := range l.members {
			if m.Switch.Network(nwid).Status() != vl2.StatusOK {
				return false
			}
		}
		return true
	}, time.Minute) {
		t.Fatalf("public network not joined:\n%s", h.Describe())
	}
	pairs := [][2]*vl2test.Member{{l.members[0], l.members[1]}, {l.members[2], l.members[3]}}
	for _, p := range pairs {
		a, b := p[0], p[1]
		for seq := range uint16(10) {
			frame := icmpEcho(t, l.mac(a), l.mac(b), l.ip(a), l.ip(b), seq)
			a.Send(nwid, frame)
			got := collect(l, time.Second)[b]
			if len(got) != 1 || !bytes.Equal(got[0], frame) {
				t.Fatalf("%s -> %s seq %d: %d frames", a.Name, b.Name, seq, len(got))
			}
		}
	}
	if l.members[0].DirectPath(l.members[1].Address()) {
		t.Fatal("direct path between two symmetric NATs")
	}
	// Traffic on a shared network is trust-established: members push the
	// addresses they know they have (vl1-peers.md §7.2).
	pushes := uint64(0)
	for _, m := range l.members {
		pushes += m.Stats().PushesSent
	}
	if pushes == 0 {
		t.Fatal("no PUSH_DIRECT_PATHS after trusted traffic")
	}
	if !l.members[2].DirectPath(l.members[3].Address()) {
		t.Fatalf("no direct path between port-restricted NATs:\n%s", h.Describe())
	}
}
