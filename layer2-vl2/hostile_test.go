package vl2_test

import (
	"bytes"
	"math/rand/v2"
	"net/netip"
	"runtime"
	"testing"
	"time"

	transport "github.com/ztgo/ztgo/layer0-transport"
	"github.com/ztgo/ztgo/layer1-vl1/identity"
	"github.com/ztgo/ztgo/layer1-vl1/wire"
	"github.com/ztgo/ztgo/layer2-vl2/vl2wire"
)

// TestHostileTraffic (issue 11): for ten simulated minutes an attacker
// with an identity of its own throws at the network every kind of traffic
// the issue lists — MULTICAST_LIKE floods at the root, config requests for
// networks that do not exist at the controller, WHOIS naming thousands of
// unknown addresses, genuine packets with flipped bits and cut short, and
// genuine packets replayed from thousands of forged addresses — while two
// members exchange frames. Every frame arrives, the attacked state stays
// within its bounds, and the heap and goroutines stay flat.
func TestHostileTraffic(t *testing.T) {
	l := newLab(t, 2, "", nil)
	a, b := l.members[0], l.members[1]
	x := l.h.Add("attacker", 0)
	root := l.h.Roots[0]
	rng := rand.New(rand.NewPCG(11, 11))
	exchangeEvery(t, l, a, b, 3*time.Second, time.Second)

	// Genuine traffic from b to a to mutate and replay.
	dgrams := b.Capture(func() {
		for i := range 64 {
			b.Send(l.nwid, icmpEcho(t, l.mac(b), l.mac(a), l.ip(b), l.ip(a), uint16(1000+i)))
			l.h.RunFor(10 * time.Millisecond)
		}
	})
	collect(l, time.Second)

	runtime.GC()
	var m0 runtime.MemStats
	runtime.ReadMemStats(&m0)
	goroutines := runtime.NumGoroutine()
	ctlPrefix := uint64(l.ctl.Address()) << 24
	for step := range 60 { // 60 × 10 s
		// MULTICAST_LIKE flood at the root.
		for k := range 5 {
			var like vl2wire.MulticastLike
			for i := range 400 {
				g := vl2wire.MulticastGroup{MAC: vl2wire.MAC(0x01005e000000 | uint64((step*5+k)*400+i)), ADI: uint32(step)}
				like.Records = append(like.Records, vl2wire.Like{NetworkID: l.nwid, Group: g})
			}
			x.Node.Send(root.Address(), wire.VerbMULTICAST_LIKE, like.AppendPayload(nil), true)
		}
		// Config requests for networks that do not exist.
		for i := range 200 {
			req := vl2wire.NetworkConfigRequest{NetworkID: ctlPrefix | uint64(0x800000+step*200+i)}
			x.Node.Send(l.ctl.Address(), wire.VerbNETWORK_CONFIG_REQUEST, req.AppendPayload(nil), false)
		}
		// A WHOIS naming a thousand unknown addresses.
		var w wire.Whois
		for i := range 1000 {
			w.Addresses = append(w.Addresses, identity.Address(0x0100000000+uint64(step*1000+i)))
		}
		x.Node.Send(a.Address(), wire.VerbWHOIS, w.AppendPayload(nil), false)
		// Mutated and replayed genuine packets, from forged addresses.
		for i := range 500 {
			d := append([]byte(nil), dgrams[rng.IntN(len(dgrams))]...)
			switch i % 3 {
			case 0:
				d[rng.IntN(len(d))] ^= byte(1 + rng.IntN(255))
			case 1:
				d = d[:rng.IntN(len(d))]
			}
			from := netip.AddrPortFrom(netip.AddrFrom4([4]byte{198, 19, byte(rng.IntN(256)), byte(rng.IntN(256))}), uint16(1024+rng.IntN(60000)))
			a.Receive(transport.Endpoint{Addr: from}, d)
		}
		// The members' own frames get through (a replay older than the
		// window may be delivered again beside them: see spec/vl1-peers-status.md).
		ab := icmpEcho(t, l.mac(a), l.mac(b), l.ip(a), l.ip(b), uint16(20000+step))
		ba := icmpEcho(t, l.mac(b), l.mac(a), l.ip(b), l.ip(a), uint16(20000+step))
		a.Send(l.nwid, ab)
		b.Send(l.nwid, ba)
		got := collect(l, 10*time.Second)
		if !containsFrame(got[b], ab) || !containsFrame(got[a], ba) {
			t.Fatalf("step %d: the members' frames did not arrive (a got %d, b got %d)", step, len(got[a]), len(got[b]))
		}
	}

	if st := a.Status(); st.PathCount > 1024+4*st.PeerCount {
		t.Fatalf("a holds %d paths", st.PathCount)
	}
	st := a.Stats()
	if st.Replayed == 0 || st.BadMAC+st.Malformed == 0 {
		t.Fatalf("attacks not counted: %+v", st)
	}
	if st.WhoisSent > 60*20 { // 60 questions naming 1000 unknowns each
		t.Fatalf("a sent %d WHOIS", st.WhoisSent)
	}
	runtime.GC()
	var m1 runtime.MemStats
	runtime.ReadMemStats(&m1)
	if grew := int64(m1.HeapAlloc) - int64(m0.HeapAlloc); grew > 16<<20 {
		t.Fatalf("heap grew %d MiB under attack", grew>>20)
	}
	if g := runtime.NumGoroutine(); g > goroutines+2 {
		t.Fatalf("goroutines %d -> %d", goroutines, g)
	}
}

func containsFrame(frames [][]byte, f []byte) bool {
	for _, g := range frames {
		if bytes.Equal(g, f) {
			return true
		}
	}
	return false
}
