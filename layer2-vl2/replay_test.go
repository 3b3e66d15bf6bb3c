package vl2_test

import (
	"fmt"
	"net/netip"
	"sync"
	"testing"
	"time"

	transport "github.com/ztgo/ztgo/layer0-transport"
	"github.com/ztgo/ztgo/layer1-vl1/vl1test"
	"github.com/ztgo/ztgo/layer1-vl1/wire"
	vl2 "github.com/ztgo/ztgo/layer2-vl2"
	"github.com/ztgo/ztgo/layer2-vl2/vl2test"
	"github.com/ztgo/ztgo/layer2-vl2/vl2wire"
)

// TestReplayedRefusalIsIgnored: a member is refused while it waits for
// authorization; someone on the path keeps those packets and replays them
// after the member was authorized. A refusal counts once, as the answer to
// a request of the member's, so the member stays on its network.
func TestReplayedRefusalIsIgnored(t *testing.T) {
	h := vl2test.New(t, vl1test.Options{})
	ctl := h.AddController("ctl", "")
	out := api(t, ctl, "POST", "/controller/network/"+ctl.Address().String()+"______", map[string]any{"private": true,
		"v4AssignMode": map[string]any{"zt": true}, "ipAssignmentPools": []any{map[string]any{"ipRangeStart": "10.147.17.1", "ipRangeEnd": "10.147.17.254"}},
		"routes": []any{map[string]any{"target": "10.147.17.0/24", "via": nil}}})
	nwid, _ := vl2wire.ParseNetworkID(out["id"].(string))
	m := h.Add("m", 0)

	kept := keepPackets(ctl, m)
	m.Join(nwid)
	if !h.RunUntil(func() bool { return m.Switch.Network(nwid).Status() == vl2.StatusAccessDenied }, 30*time.Second) {
		t.Fatalf("member never refused:\n%s", h.Describe())
	}
	ctl.Bind.Tap(nil)
	api(t, ctl, "POST", fmt.Sprintf("/controller/network/%016x/member/%s", nwid, m.Address()), map[string]any{"authorized": true})
	if !h.RunUntil(func() bool {
		nw := m.Switch.Network(nwid)
		return nw.Status() == vl2.StatusOK && len(nw.Info().Addresses) > 0
	}, 30*time.Second) {
		t.Fatalf("member not authorized:\n%s", h.Describe())
	}
	if len(kept()) == 0 {
		t.Fatal("nothing captured to replay")
	}
	for range 3 {
		replay(ctl, m, kept())
		h.RunFor(500 * time.Millisecond)
		if st := m.Switch.Network(nwid).Status(); st != vl2.StatusOK {
			t.Fatalf("a replayed refusal took the member off its network: %v", st)
		}
	}
	if up, addrs, _ := m.Device(nwid).State(); !up || len(addrs) == 0 {
		t.Fatalf("member lost its addresses: up %v %v", up, addrs)
	}
}

// TestReplayedOldConfigIsIgnored: a config is signed but carries no
// sequence the wire checks, so a kept copy could be replayed after the
// controller changed the member's address. The member takes no config
// older than the one it holds, even when its config assembler has long
// forgotten the old update.
func TestReplayedOldConfigIsIgnored(t *testing.T) {
	l := newLab(t, 1, "", nil)
	m := l.members[0]
	kept := keepPackets(l.ctl, m)
	path := fmt.Sprintf("/controller/network/%016x/member/%s", l.nwid, m.Address())
	api(t, l.ctl, "POST", path, map[string]any{"ipAssignments": []any{"10.147.17.42"}})
	want := netip.MustParseAddr("10.147.17.42")
	if !l.h.RunUntil(func() bool { return l.ip(m) == want }, 30*time.Second) {
		t.Fatalf("first address change not applied: %v", l.ip(m))
	}
	l.ctl.Bind.Tap(nil)
	api(t, l.ctl, "POST", path, map[string]any{"ipAssignments": []any{"10.147.17.43"}})
	want = netip.MustParseAddr("10.147.17.43")
	if !l.h.RunUntil(func() bool { return l.ip(m) == want }, 30*time.Second) {
		t.Fatalf("second address change not applied: %v", l.ip(m))
	}
	// Enough later updates that the member's config assembler no longer
	// remembers the old one.
	for i := range 12 {
		api(t, l.ctl, "POST", fmt.Sprintf("/controller/network/%016x", l.nwid), map[string]any{"name": fmt.Sprintf("lab%d", i)})
		name := fmt.Sprintf("lab%d", i)
		if !l.h.RunUntil(func() bool { return m.Switch.Network(l.nwid).Info().Name == name }, 30*time.Second) {
			t.Fatalf("update %d not applied", i)
		}
	}
	replay(l.ctl, m, kept())
	l.h.RunFor(time.Second)
	if got := l.ip(m); got != want {
		t.Fatalf("a replayed old config moved the member back to %v", got)
	}
}

// TestDeauthorizationAfterControllerRestart: a member deauthorized by a
// restarted controller is off the network within a second, and a copy of
// what told it so, replayed after it was authorized again (with a newer
// COM), changes nothing. (In the harness the member asks again quickly
// enough that the ERROR path alone passes too; the case where only the
// revocation of its own COM tells it is TestE2ENetworkWithTaps, which
// failed before that change.)
func TestDeauthorizationAfterControllerRestart(t *testing.T) {
	dir := t.TempDir()
	l := newLab(t, 1, dir, nil)
	m := l.members[0]
	l.h.StartController(l.ctl, dir)
	kept := keepPackets(l.ctl, m)
	path := fmt.Sprintf("/controller/network/%016x/member/%s", l.nwid, m.Address())
	api(t, l.ctl, "POST", path, map[string]any{"authorized": false})
	if !l.h.RunUntil(func() bool { return m.Switch.Network(l.nwid).Status() == vl2.StatusAccessDenied }, time.Second) {
		t.Fatalf("member still %v a second after its deauthorization by a restarted controller", m.Switch.Network(l.nwid).Status())
	}
	l.ctl.Bind.Tap(nil)
	api(t, l.ctl, "POST", path, map[string]any{"authorized": true})
	if !l.h.RunUntil(func() bool { return m.Switch.Network(l.nwid).Status() == vl2.StatusOK }, 30*time.Second) {
		t.Fatal("member not back after re-authorization")
	}
	replay(l.ctl, m, kept())
	l.h.RunFor(time.Second)
	if st := m.Switch.Network(l.nwid).Status(); st != vl2.StatusOK {
		t.Fatalf("a replayed deauthorization took the member off again: %v", st)
	}
}

// keepPackets keeps copies of what from sends to m (and every fragment),
// until from's tap is replaced; the result lists them.
func keepPackets(from, m *vl2test.Member) func() [][]byte {
	var mu sync.Mutex
	var kept [][]byte
	from.Bind.Tap(func(_ transport.Endpoint, d []byte) {
		if len(d) >= wire.MinFragmentLength && (wire.IsFragment(d) || wire.Packet(d).Destination() == m.Address()) {
			mu.Lock()
			kept = append(kept, append([]byte(nil), d...))
			mu.Unlock()
		}
	})
	return func() [][]byte {
		mu.Lock()
		defer mu.Unlock()
		return kept
	}
}

// replay delivers kept packets to m again, as if from arrived with them.
func replay(from, m *vl2test.Member, kept [][]byte) {
	ep := transport.Endpoint{Addr: from.Endpoint()}
	for _, d := range kept {
		m.Receive(ep, append([]byte(nil), d...))
	}
}
