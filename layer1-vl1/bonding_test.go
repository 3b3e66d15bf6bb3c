package vl1_test

import (
	"encoding/binary"
	"strconv"
	"testing"
	"time"

	transport "github.com/ztgo/ztgo/layer0-transport"
	vl1 "github.com/ztgo/ztgo/layer1-vl1"
	"github.com/ztgo/ztgo/layer1-vl1/bond"
	"github.com/ztgo/ztgo/layer1-vl1/vl1test"
	"github.com/ztgo/ztgo/layer1-vl1/wire"
)

// frameSize marks the test's frames among what a node sends: larger than
// any control packet between two leaves.
const frameSize = 1200

// udpFrame is a FRAME payload carrying an IPv4 UDP packet between ports
// sport and dport, padded to frameSize.
func udpFrame(sport, dport uint16) []byte {
	p := make([]byte, frameSize)
	binary.BigEndian.PutUint16(p[8:], 0x0800)
	ip := p[10:]
	ip[0], ip[9] = 0x45, 17
	binary.BigEndian.PutUint16(ip[20:], sport)
	binary.BigEndian.PutUint16(ip[22:], dport)
	return p
}

// bondedPair starts two nodes with two links each, bonded by settings
// (local.conf's settings object), each knowing the other on both links, and
// waits until each holds a path per link to the other.
func bondedPair(t testing.TB, settings string) (*vl1test.Harness, *vl1test.Node, *vl1test.Node) {
	t.Helper()
	return bondedPairUpper(t, settings, nil)
}

// bondedPairUpper is bondedPair with up as b's upper layer.
func bondedPairUpper(t testing.TB, settings string, up vl1.Upper) (*vl1test.Harness, *vl1test.Node, *vl1test.Node) {
	t.Helper()
	cfg, err := bond.ParseSettings([]byte(settings))
	if err != nil {
		t.Fatal(err)
	}
	h := vl1test.New(t, vl1test.Options{Seed: 15, Configure: func(name string, c *vl1.Config) {
		if name == "a" || name == "b" {
			c.Bonding = cfg
		}
		if name == "b" && up != nil {
			c.Upper = up
		}
	}})
	a, b := h.AddMultiLink("a", 2), h.AddMultiLink("b", 2)
	if !h.RunUntil(func() bool { return a.Status().Online && b.Status().Online }, time.Minute) {
		t.Fatalf("not online:\n%s", h.Describe())
	}
	if err := a.AddPeer(b.Identity().Public(), b.LinkEndpoints()); err != nil {
		t.Fatal(err)
	}
	if err := b.AddPeer(a.Identity().Public(), a.LinkEndpoints()); err != nil {
		t.Fatal(err)
	}
	twoPaths := func(x, y *vl1test.Node) bool {
		pi, ok := x.Peer(y.Address())
		return ok && pi.Bond != nil && pi.Bond.NumTotalLinks == 2 && len(pi.Paths) == 2
	}
	if !h.RunUntil(func() bool { return twoPaths(a, b) && twoPaths(b, a) }, 30*time.Second) {
		pa, _ := a.Peer(b.Address())
		t.Fatalf("no path per link: %+v\n%s", pa, h.Describe())
	}
	return h, a, b
}

// linkCounter counts the test's frames a node sends to peer, per link
// (socket), and per flow and link.
type linkCounter struct {
	perLink [2]int
	perFlow map[uint16]*[2]int
	flow    uint16 // the flow being sent now
}

func countFrames(n *vl1test.Node, peer *vl1test.Node) *linkCounter {
	c := &linkCounter{perFlow: map[uint16]*[2]int{}}
	eps := peer.LinkEndpoints()
	n.Bind.Tap(func(ep transport.Endpoint, d []byte) {
		if len(d) < frameSize || ep.Socket < 0 || ep.Socket > 1 || (ep.Addr != eps[0] && ep.Addr != eps[1]) {
			return
		}
		c.perLink[ep.Socket]++
		f := c.perFlow[c.flow]
		if f == nil {
			f = new([2]int)
			c.perFlow[c.flow] = f
		}
		f[ep.Socket]++
	})
	return c
}

// sendFlows sends count frames from a to b, one every 10 ms, cycling over
// flows (source ports).
func sendFlows(t *testing.T, h *vl1test.Harness, a, b *vl1test.Node, c *linkCounter, flows []uint16, count int) {
	t.Helper()
	for i := range count {
		c.flow = flows[i%len(flows)]
		if _, err := a.Send(b.Address(), wire.VerbFRAME, udpFrame(c.flow, 80), false); err != nil {
			t.Fatal(err)
		}
		h.RunFor(10 * time.Millisecond)
	}
}

func TestBondBalanceRRUsesBothLinks(t *testing.T) {
	h, a, b := bondedPair(t, `{"defaultBondingPolicy":"balance-rr"}`)
	h.RunFor(20 * time.Second) // past the trial period: eligibility needs the peer's QoS reports
	c := countFrames(a, b)
	sendFlows(t, h, a, b, c, []uint16{1000}, 1300)
	t.Logf("balance-rr: frames per link %v", c.perLink)
	// packetsPerLink 64: 65 packets on one link, then the next.
	if c.perLink[0] < 400 || c.perLink[1] < 400 {
		t.Fatalf("balance-rr: frames per link %v, want both links used evenly", c.perLink)
	}
	st, _ := a.Peer(b.Address())
	if st.Bond.PolicyStr != "balance-rr" || st.Bond.NumAliveLinks != 2 {
		t.Fatalf("bond status %+v", *st.Bond)
	}
	// Both sides report QOS_MEASUREMENT (suite 0) and measure each link's
	// latency from the other's reports: 5 ms out of a host, 5 ms into the
	// other, each way.
	if q := a.Stats().ByVerbSent[wire.VerbQOS_MEASUREMENT]; q == 0 {
		t.Fatalf("no QOS_MEASUREMENT sent")
	}
	for _, pa := range st.Paths {
		if pa.Bond == nil || pa.Bond.LatencyMean < 9 || pa.Bond.LatencyMean > 12 || !pa.Bond.Bonded {
			t.Errorf("path %v: bond view %+v, want bonded with latency ≈ 10 ms", pa.Endpoint, pa.Bond)
		}
	}
}

func TestBondBroadcastSendsOnBothLinks(t *testing.T) {
	h, a, b := bondedPair(t, `{"defaultBondingPolicy":"broadcast"}`)
	c := countFrames(a, b)
	sendFlows(t, h, a, b, c, []uint16{1000}, 100)
	if c.perLink != [2]int{100, 100} {
		t.Fatalf("broadcast: frames per link %v, want every frame on both", c.perLink)
	}
}

func testFlowsStay(t *testing.T, policy string, wantBoth bool) {
	h, a, b := bondedPair(t, `{"defaultBondingPolicy":"`+policy+`"}`)
	h.RunFor(20 * time.Second)
	c := countFrames(a, b)
	flows := []uint16{1000, 1001, 1002, 1003, 1004, 1005, 1006, 1007}
	sendFlows(t, h, a, b, c, flows, 800)
	for f, n := range c.perFlow {
		if n[0] > 0 && n[1] > 0 {
			t.Errorf("%s: flow %d split over links %v", policy, f, *n)
		}
	}
	t.Logf("%s: frames per link %v", policy, c.perLink)
	if wantBoth && (c.perLink[0] == 0 || c.perLink[1] == 0) {
		t.Errorf("%s: frames per link %v, want flows on both links", policy, c.perLink)
	}
}

func TestBondBalanceXORKeepsFlowsOnALink(t *testing.T) { testFlowsStay(t, "balance-xor", true) }

func TestBondBalanceAwareKeepsFlowsOnALink(t *testing.T) { testFlowsStay(t, "balance-aware", false) }

// TestBondActiveBackupFailover cuts the active link (both ends, as a
// pulled cable) while frames flow, and measures how long until they flow on
// the backup: within failoverInterval, plus the bond's 60 ms tick and a
// round trip.
func TestBondActiveBackupFailover(t *testing.T) {
	for _, interval := range []int{500, 1000, 5000} {
		t.Run(time.Duration(interval*int(time.Millisecond)).String(), func(t *testing.T) {
			h, a, b := bondedPair(t, `{"defaultBondingPolicy":"ab","policies":{"ab":{"basePolicy":"active-backup","failoverInterval":`+strconv.Itoa(interval)+`}}}`)
			h.RunFor(20 * time.Second) // past the trial period, in which a path counts as eligible regardless
			c := countFrames(a, b)
			sendFlows(t, h, a, b, c, []uint16{1000}, 50)
			active := 0
			if c.perLink[1] > c.perLink[0] {
				active = 1
			}
			if c.perLink[1-active] != 0 {
				t.Fatalf("active-backup: frames per link %v, want one link only", c.perLink)
			}
			a.SetLinkDown(active, true)
			b.SetLinkDown(active, true)
			cut := h.Elapsed()
			before := c.perLink[1-active]
			limit := time.Duration(interval)*time.Millisecond + 200*time.Millisecond
			for c.perLink[1-active] == before && h.Elapsed()-cut < 3*limit {
				sendFlows(t, h, a, b, c, []uint16{1000}, 1)
			}
			gap := h.Elapsed() - cut
			t.Logf("active-backup failoverInterval %d ms: frames on the backup %v after the cut", interval, gap)
			if gap > limit {
				t.Fatalf("failover took %v, want ≤ %v", gap, limit)
			}
			h.RunFor(time.Duration(interval) * time.Millisecond) // numAliveLinks lags a tick
			st, _ := a.Peer(b.Address())
			if st.Bond.NumAliveLinks != 1 {
				t.Errorf("numAliveLinks %d after the cut, want 1", st.Bond.NumAliveLinks)
			}
		})
	}
}

// TestBondDropsPathOfClosedSocket takes one of a's links away as an
// interface that disappears: the bind closes its socket. 1.14's bond finds
// no link for a path whose socket the binder no longer has and drops the
// path at once (Bond::curateBond); the peer's own path list still holds
// it. a's bond must do the same, and not count the path among its links,
// while b, whose socket is still there, keeps its dead path until it has
// been ineligible for 600 s, as 1.14 does.
func TestBondDropsPathOfClosedSocket(t *testing.T) {
	h, a, b := bondedPair(t, `{"defaultBondingPolicy":"ab","policies":{"ab":{"basePolicy":"active-backup","failoverInterval":1000}}}`)
	h.RunFor(20 * time.Second)
	a.RemoveLink(1)
	b.SetLinkDown(1, true)
	h.RunFor(10 * time.Second) // two of the node's 5 s path checks
	sa, _ := a.Peer(b.Address())
	sb, _ := b.Peer(a.Address())
	if sa.Bond.NumTotalLinks != 1 || len(sa.Bond.Paths) != 1 {
		t.Errorf("a's bond after its link's socket closed: %d links, %d paths, want 1: %+v", sa.Bond.NumTotalLinks, len(sa.Bond.Paths), sa.Bond)
	}
	if sb.Bond.NumTotalLinks != 2 || sb.Bond.NumAliveLinks != 1 {
		t.Errorf("b's bond after the link went dead: links %d/%d, want 1/2", sb.Bond.NumAliveLinks, sb.Bond.NumTotalLinks)
	}
}

// TestBondClosedSocketAfterFailover takes a's link 1 away (its socket
// closed) while frames flow. Link 1 is the peer's route (the best path until
// it has been silent for long), whichever link the bond had active. The
// bond fails over if it must, then drops the path (syncBond), and is left
// with one path: not ready, so it answers as without a bond, and the route
// still names the closed socket. Frames must go on the live link all the
// same.
func TestBondClosedSocketAfterFailover(t *testing.T) {
	h, a, b := bondedPair(t, `{"defaultBondingPolicy":"ab","policies":{"ab":{"basePolicy":"active-backup","failoverInterval":1000}}}`)
	h.RunFor(20 * time.Second)
	a.RemoveLink(1)
	b.SetLinkDown(1, true)
	h.RunFor(10 * time.Second) // failed over, and the path left a's bond
	if st, _ := a.Peer(b.Address()); st.Bond.NumTotalLinks != 1 {
		t.Fatalf("a's bond: %d links, want 1", st.Bond.NumTotalLinks)
	}
	c := countFrames(a, b)
	sendFlows(t, h, a, b, c, []uint16{1000}, 50)
	if c.perLink[0] != 50 {
		t.Errorf("frames per link after link 1's socket closed: %v, want all 50 on link 0", c.perLink)
	}
}

// TestBondQoSIsSuite0 checks that QOS_MEASUREMENT goes out unencrypted
// with Poly1305 (suite 0), as 1.14.1 armors it, on each link.
func TestBondQoSIsSuite0(t *testing.T) {
	h, a, b := bondedPair(t, `{"defaultBondingPolicy":"balance-xor"}`)
	var qos [2]int
	a.Bind.Tap(func(ep transport.Endpoint, d []byte) {
		if wire.IsFragment(d) || len(d) < wire.MinPacketLength {
			return
		}
		if pkt := wire.Packet(d); pkt.Cipher() == wire.MultipathSuite && pkt.Verb() == wire.VerbQOS_MEASUREMENT && ep.Socket >= 0 && ep.Socket < 2 {
			qos[ep.Socket]++
		}
	})
	c := &linkCounter{perFlow: map[uint16]*[2]int{}}
	sendFlows(t, h, a, b, c, []uint16{1000, 1001, 1002, 1003}, 3000)
	a.Bind.Tap(nil)
	if qos[0] == 0 || qos[1] == 0 {
		t.Fatalf("QOS_MEASUREMENT in suite 0 per link: %v, want some on each", qos)
	}
}

// TestBondedSendAllocatesNothing: a bonded peer's packets, through Send and
// through a TxBatch, cost no allocation once their flow is known.
func TestBondedSendAllocatesNothing(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector makes sync.Pool drop buffers at random: allocations are counted without it")
	}
	h, a, b := bondedPair(t, `{"defaultBondingPolicy":"balance-xor"}`)
	h.RunFor(time.Second)
	a.Bind.Mute.Store(true)
	allocsPerSend(t, a, b, udpFrame(1000, 80), "to a bonded peer")
}

// allocsPerSend fails t unless sending p from a to b, through Send and
// through a TxBatch, costs no allocation (what names the case).
func allocsPerSend(t *testing.T, a, b *vl1test.Node, p []byte, what string) {
	t.Helper()
	if n := testing.AllocsPerRun(200, func() {
		if _, err := a.Send(b.Address(), wire.VerbFRAME, p, false); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("Send %s: %v allocations per packet", what, n)
	}
	tx := a.NewTxBatch()
	buf := make([]byte, vl1.HeaderRoom+len(p))
	if n := testing.AllocsPerRun(200, func() {
		copy(buf[vl1.HeaderRoom:], p)
		if !tx.Add(b.Address(), wire.VerbFRAME, buf, vl1.HeaderRoom, len(buf)) {
			t.Fatal("TxBatch.Add refused a bonded peer")
		}
		tx.Flush()
	}); n != 0 {
		t.Errorf("TxBatch %s: %v allocations per packet", what, n)
	}
}

// TestBondedTxBatchKeepsFlows: the batch path asks the bond too.
func TestBondedTxBatchKeepsFlows(t *testing.T) {
	h, a, b := bondedPair(t, `{"defaultBondingPolicy":"balance-xor"}`)
	h.RunFor(20 * time.Second)
	c := countFrames(a, b)
	tx := a.NewTxBatch()
	flows := []uint16{1000, 1001, 1002, 1003, 1004, 1005, 1006, 1007}
	for range 50 {
		for _, f := range flows {
			c.flow = f
			p := udpFrame(f, 80)
			buf := append(make([]byte, vl1.HeaderRoom), p...)
			if !tx.Add(b.Address(), wire.VerbFRAME, buf, vl1.HeaderRoom, len(buf)) {
				t.Fatal("TxBatch.Add refused a bonded peer")
			}
			tx.Flush() // one at a time, so the tap knows the flow
		}
		h.RunFor(10 * time.Millisecond)
	}
	for f, n := range c.perFlow {
		if n[0] > 0 && n[1] > 0 {
			t.Errorf("flow %d split over links %v", f, *n)
		}
	}
	if c.perLink[0] == 0 || c.perLink[1] == 0 {
		t.Errorf("frames per link %v, want flows on both links", c.perLink)
	}
}

// TestBondBroadcastThroughTxBatch: a batch leaves a broadcast bond's frames
// to Send, which puts them on every link.
func TestBondBroadcastThroughTxBatch(t *testing.T) {
	_, a, b := bondedPair(t, `{"defaultBondingPolicy":"broadcast"}`)
	buf := append(make([]byte, vl1.HeaderRoom), udpFrame(1, 2)...)
	if a.NewTxBatch().Add(b.Address(), wire.VerbFRAME, buf, vl1.HeaderRoom, len(buf)) {
		t.Fatal("TxBatch.Add took a frame broadcast needs on both links")
	}
}

// BenchmarkSendBonded is a 1200-byte FRAME sent to a peer bonded over two
// links, per policy (broadcast sends it twice); compare BenchmarkSend/1400
// for an unbonded peer.
func BenchmarkSendBonded(b *testing.B) {
	for _, policy := range []string{"active-backup", "balance-rr", "balance-xor", "balance-aware", "broadcast"} {
		b.Run(policy, func(b *testing.B) {
			h, a, peer := bondedPair(b, `{"defaultBondingPolicy":"`+policy+`"}`)
			h.RunFor(time.Second)
			a.Bind.Mute.Store(true)
			p := udpFrame(1000, 80)
			b.SetBytes(int64(len(p)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := a.Send(peer.Address(), wire.VerbFRAME, p, false); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
