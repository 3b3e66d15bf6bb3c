package vl2_test

import (
	"fmt"
	"net/netip"
	"runtime"
	"testing"
	"time"

	"github.com/ztgo/ztgo/layer0-transport/memnet"
	"github.com/ztgo/ztgo/layer1-vl1/vl1test"
	vl2 "github.com/ztgo/ztgo/layer2-vl2"
	"github.com/ztgo/ztgo/layer2-vl2/vl2test"
	"github.com/ztgo/ztgo/layer2-vl2/vl2wire"
)

// TestSoak (issue 11): three simulated hours of a network whose members sit
// behind NATs that reboot (every mapping gone), with a member process
// restarting and the controller changing the config now and then. Every
// ten minutes each member reaches every other; addresses never change;
// the heap stays flat.
func TestSoak(t *testing.T) {
	if testing.Short() {
		t.Skip("soak")
	}
	h := vl2test.New(t, vl1test.Options{Seed: 7})
	ctl := h.AddController("ctl", t.TempDir())
	out := api(t, ctl, "POST", "/controller/network/"+ctl.Address().String()+"______", map[string]any{"private": true,
		"v4AssignMode":      map[string]any{"zt": true},
		"ipAssignmentPools": []any{map[string]any{"ipRangeStart": "10.147.17.1", "ipRangeEnd": "10.147.17.254"}},
		"routes":            []any{map[string]any{"target": "10.147.17.0/24", "via": nil}}})
	nwid, _ := vl2wire.ParseNetworkID(out["id"].(string))
	l := &lab{h: h, ctl: ctl, nwid: nwid}
	for i, nat := range []memnet.NATType{memnet.FullCone, memnet.PortRestricted, 0} {
		m := h.Add(fmt.Sprintf("m%d", i), nat)
		m.Join(nwid)
		l.members = append(l.members, m)
	}
	for _, m := range l.members {
		for !h.RunUntil(func() bool { return m.Switch.Network(nwid).Status() == vl2.StatusAccessDenied }, 30*time.Second) {
			t.Fatalf("%s not refused while pending", m.Name)
		}
		api(t, ctl, "POST", fmt.Sprintf("/controller/network/%016x/member/%s", nwid, m.Address()), map[string]any{"authorized": true})
	}
	if !h.RunUntil(func() bool {
		for _, m := range l.members {
			if !l.ip(m).IsValid() {
				return false
			}
		}
		return true
	}, time.Minute) {
		t.Fatal("members not configured")
	}
	ips := map[string]netip.Addr{}
	for _, m := range l.members {
		ips[m.Name] = l.ip(m)
	}
	reach := func(epoch int, from, to *vl2test.Member) {
		t.Helper()
		// After a NAT reboot the old direct path is used until it expires
		// (ZT_PEER_PATH_EXPIRATION, 243 s, as in 1.14.1) and a new one is
		// punched: tries for up to six minutes, as an application would.
		for try := range 36 {
			f := icmpEcho(t, l.mac(from), l.mac(to), l.ip(from), l.ip(to), uint16(epoch*100+try))
			from.Send(nwid, f)
			if containsFrame(collect(l, 10*time.Second)[to], f) {
				if try > 0 {
					t.Logf("epoch %d: %s reached %s after %d s", epoch, from.Name, to.Name, 10*try)
				}
				return
			}
		}
		t.Fatalf("epoch %d: %s cannot reach %s:\n%s", epoch, from.Name, to.Name, h.Describe())
	}
	var m0 runtime.MemStats
	for epoch := range 18 { // 18 × 10 min = 3 h
		switch {
		case epoch%3 == 0:
			l.members[0].NAT.Reset()
			l.members[1].NAT.Reset()
		case epoch%4 == 1:
			h.Stop(l.members[2].Node)
			h.RunFor(30 * time.Second)
			l.members[2] = h.Restart(l.members[2], nwid)
			if !h.RunUntil(func() bool { return l.ip(l.members[2]).IsValid() }, time.Minute) {
				t.Fatalf("epoch %d: restarted member not back", epoch)
			}
		case epoch%5 == 2:
			name := fmt.Sprintf("soak%d", epoch)
			api(t, ctl, "POST", fmt.Sprintf("/controller/network/%016x", nwid), map[string]any{"name": name})
			if !h.RunUntil(func() bool {
				for _, m := range l.members {
					if m.Switch.Network(nwid).Info().Name != name {
						return false
					}
				}
				return true
			}, 3*time.Minute) {
				t.Fatalf("epoch %d: config change not everywhere", epoch)
			}
		}
		for _, a := range l.members {
			for _, b := range l.members {
				if a != b {
					reach(epoch, a, b)
				}
			}
		}
		for _, m := range l.members {
			if l.ip(m) != ips[m.Name] {
				t.Fatalf("epoch %d: %s moved from %v to %v", epoch, m.Name, ips[m.Name], l.ip(m))
			}
		}
		h.RunFor(10 * time.Minute)
		if epoch == 2 {
			runtime.GC()
			runtime.ReadMemStats(&m0)
		}
	}
	runtime.GC()
	var m1 runtime.MemStats
	runtime.ReadMemStats(&m1)
	if grew := int64(m1.HeapAlloc) - int64(m0.HeapAlloc); grew > 8<<20 {
		t.Fatalf("heap grew %d MiB over the soak", grew>>20)
	}
}
