package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ztgo/ztgo/internal/netlab"
)

// bondView is what both implementations say of a bonded peer
// (/bond/show/<addr>, 1.14.1's _peerToJson).
type bondView struct {
	IsBonded      bool   `json:"isBonded"`
	Policy        string `json:"bondingPolicyStr"`
	NumAliveLinks int    `json:"numAliveLinks"`
	NumTotalLinks int    `json:"numTotalLinks"`
	Paths         []struct {
		Address     string  `json:"address"`
		Ifname      string  `json:"ifname"`
		LatencyMean float64 `json:"latencyMean"`
		Eligible    any     `json:"eligible"`
		Bonded      any     `json:"bonded"`
		LastInAge   int64   `json:"lastInAge"`
	} `json:"paths"`
}

// links are the interfaces of the peer's eligible paths on ZeroTier's
// port whose remote address is on that interface's link, with their
// latencyMean.
func (v bondView) links() map[string]float64 {
	m := map[string]float64{}
	for _, p := range v.Paths {
		if p.Eligible != true && p.Eligible != 1.0 { // ztgo says true, 1.14.1 1
			continue
		}
		for _, link := range []string{"1", "2"} {
			if strings.HasPrefix(p.Address, "198.18."+link+".") && strings.HasSuffix(p.Address, "/9993") && p.Ifname == "eth"+link {
				m[p.Ifname] = p.LatencyMean
			}
		}
	}
	return m
}

func (v bondView) String() string {
	var ps []string
	for _, p := range v.Paths {
		ps = append(ps, fmt.Sprintf("%s on %s latencyMean %.2f eligible %v bonded %v lastInAge %d", p.Address, p.Ifname, p.LatencyMean, p.Eligible, p.Bonded, p.LastInAge))
	}
	return fmt.Sprintf("bonded %v %s links %d/%d: %s", v.IsBonded, v.Policy, v.NumAliveLinks, v.NumTotalLinks, strings.Join(ps, "; "))
}

// bond is what h says of its bond to peer: ztgo's /bond/show/<addr>, or
// zerotier-cli -j bond <addr> show on a reference node.
func (l *linkLab) bond(h, peer *site) (bondView, string) {
	var out string
	if h == l.b && l.ref {
		out = l.cli(h, "-j", "bond", addrOf(peer), "show")
	} else {
		out = l.cli(h, "api", "/bond/show/"+addrOf(peer))
	}
	var v bondView
	json.Unmarshal([]byte(out), &v)
	return v, out
}

// referenceBin is the zerotier-one binary of ZTGO_REFERENCE_BIN, as an
// absolute path; the test is skipped without one.
func referenceBin(t *testing.T) string {
	t.Helper()
	ref := os.Getenv("ZTGO_REFERENCE_BIN")
	if ref == "" {
		t.Skip("ZTGO_REFERENCE_BIN is not set: no ZeroTierOne to bond with")
	}
	if abs, err := filepath.Abs(ref); err == nil {
		ref = abs
	}
	return ref
}

// TestE2EBondInterop is the two-link lab with b running ZeroTierOne 1.14.1
// (ZTGO_REFERENCE_BIN) and a running ztgo, both with the same
// active-backup bond (failoverInterval 1 s, eth1 the primary link, eth2 a
// spare). Both sides must bond the other over both links; measure the
// active path's latency from the other's QOS_MEASUREMENT reports while a
// TCP transfer fills a's queue (tc tbf, 20 Mbit/s: the links are
// otherwise faster than the millisecond both implementations count in);
// drop nothing as malformed; and fail over when the primary link goes
// down, first on a's side (a loses the interface, b hears nothing more),
// then, once both are back on the primary, on b's side: the pings each
// way resume within the failover interval plus slack.
//
// The cut is always of the active link. Cutting 1.14.1's backup leaves
// its bond with no bonded path (the active one is not marked bonded), so
// it falls back to the best-path choice, which keeps the dead path for
// about 18 s (spec/multipath.md §14.5).
func TestE2EBondInterop(t *testing.T) {
	ref := referenceBin(t)
	const failover = time.Second
	l := newLinkLab(t, `"defaultBondingPolicy":"ab","policies":{"ab":{"basePolicy":"active-backup","failoverInterval":1000,"links":{"eth1":{"mode":"primary"},"eth2":{"mode":"spare"}}}},`,
		ref, "sysctl", "ping", "curl", "tc", "iperf3")
	lab, a, b := l.Lab, l.a, l.b
	for _, h := range []*site{a, b} {
		for _, ifname := range []string{"eth1", "eth2"} {
			lab.Must(h.ns, "tc", "qdisc", "add", "dev", ifname, "root", "tbf", "rate", "20mbit", "burst", "32kb", "latency", "50ms")
		}
	}

	// Pings both ways all along.
	pings := map[string]*netlab.Proc{
		"a→b": lab.Start(a.ns, "ping a→b", "ping", "-D", "-n", "-i", "0.05", "-W", "1", l.ztIP["b"]),
		"b→a": lab.Start(b.ns, "ping b→a", "ping", "-D", "-n", "-i", "0.05", "-W", "1", l.ztIP["a"]),
	}
	show := func(h, peer *site) (bondView, string) { return l.bond(h, peer) }
	start := time.Now()
	var va, vb bondView
	both := func(alive int) bool {
		va, _ = show(a, b)
		vb, _ = show(b, a)
		return va.IsBonded && vb.IsBonded && va.Policy == "active-backup" && vb.Policy == "active-backup" &&
			va.NumAliveLinks >= alive && vb.NumAliveLinks >= alive && len(va.links()) == 2 && len(vb.links()) == 2
	}
	if !netlab.Eventually(40*time.Second, 500*time.Millisecond, func() bool { return both(2) && va.NumTotalLinks == 2 && vb.NumTotalLinks == 2 }) {
		_, ra := show(a, b)
		_, rb := show(b, a)
		t.Fatalf("not bonded over both links on both sides\nztgo a: %s\n%s\nZeroTierOne b: %s\n%s", va, ra, vb, rb)
	}
	bondedAt := time.Now()
	t.Logf("bonded over both links after %v\nztgo a: %s\nZeroTierOne b: %s", time.Since(start).Round(time.Millisecond), va, vb)

	// Latency from QoS: a TCP transfer from a to b queues in a's tbf, so
	// a packet's round trip (either way: out through a's queue, or its
	// QoS report back through it) is several ms.
	lab.Start(b.ns, "iperf3-server", "iperf3", "-s", "-1", "-B", l.ztIP["b"])
	time.Sleep(200 * time.Millisecond)
	iperf := lab.Start(a.ns, "iperf3", "iperf3", "-c", l.ztIP["b"], "-t", "8", "-f", "m")
	peak := map[string]float64{}
	netlab.Eventually(12*time.Second, 500*time.Millisecond, func() bool {
		va, _ = show(a, b)
		vb, _ = show(b, a)
		peak["a"] = max(peak["a"], va.links()["eth1"])
		peak["b"] = max(peak["b"], vb.links()["eth1"])
		return strings.Contains(iperf.Output(), "iperf Done")
	})
	t.Logf("TCP transfer a→b:\n%s", lastLines(iperf.Output(), 3))
	t.Logf("highest latencyMean on eth1 (the primary) during the transfer: ztgo a %.2f ms, ZeroTierOne b %.2f ms", peak["a"], peak["b"])
	for h, m := range peak {
		if m < 1 {
			t.Errorf("%s measured no latency on eth1 from QoS reports (%.2f ms)\nztgo a: %s\nZeroTierOne b: %s", h, m, va, vb)
		}
	}
	t.Logf("ztgo a:\n%s\nZeroTierOne b:\n%s", l.cli(a, "bond", addrOf(b), "show"), l.cli(b, "bond", addrOf(a), "show"))

	// QoS went both ways and nothing was dropped as malformed.
	metrics := func() (string, map[string]float64) {
		tok, _ := os.ReadFile(filepath.Join(b.home, "metricstoken.secret"))
		zt1, _ := lab.Run(b.ns, "curl", "-s", "-H", "Authorization: Bearer "+strings.TrimSpace(string(tok)), "http://127.0.0.1:9993/metrics")
		out := map[string]string{"a": l.cli(a, "api", "/metrics"), "b": zt1}
		re := regexp.MustCompile(`(?m)^(zt_packet\{direction="(rx|tx)",packet_type="(qos|ack|path_negotiation_request)"\}|ztgo_dropped_total\{reason="malformed"\}) (\S+)$`)
		m := map[string]float64{}
		var lines []string
		for _, h := range []string{"a", "b"} {
			for _, g := range re.FindAllStringSubmatch(out[h], -1) {
				var v float64
				fmt.Sscan(g[4], &v)
				m[h+" "+g[1]] = v
				lines = append(lines, h+" "+g[1]+" "+g[4])
			}
		}
		sort.Strings(lines)
		return strings.Join(lines, "\n"), m
	}
	qos := func(m map[string]float64) {
		text := fmt.Sprintf("%v", m)
		if m[`a zt_packet{direction="rx",packet_type="qos"}`] == 0 || m[`b zt_packet{direction="rx",packet_type="qos"}`] == 0 {
			t.Errorf("QOS_MEASUREMENT not received on both sides: %s", text)
		}
		if m[`a ztgo_dropped_total{reason="malformed"}`] != 0 {
			t.Errorf("ztgo dropped packets as malformed: %s", text)
		}
	}
	text, m := metrics()
	qos(m)
	t.Logf("counters (a ztgo, b ZeroTierOne):\n%s", text)

	// Past the trial period (15 s from a path's nomination, before the
	// bond was seen whole), in which a path is eligible whatever it hears.
	time.Sleep(time.Until(bondedAt.Add(15500 * time.Millisecond)))

	// cut takes a link of one host down and checks, for each direction of
	// ping, the longest silence between replies across the cut.
	cut := func(h *site, ifname string) {
		down := time.Now()
		lab.Must(h.ns, "ip", "link", "set", ifname, "down")
		for dir, p := range pings {
			if !netlab.Eventually(30*time.Second, 200*time.Millisecond, func() bool {
				last := replies(p.Output())
				return len(last) > 0 && last[len(last)-1].Sub(down) > 2*time.Second
			}) {
				va, _ = show(a, b)
				vb, _ = show(b, a)
				t.Fatalf("ping %s: no replies 2 s after %s's %s went down\nztgo a: %s\nZeroTierOne b: %s\n%s", dir, h.name, ifname, va, vb, lastLines(p.Output(), 5))
			}
		}
		for _, dir := range []string{"a→b", "b→a"} {
			gap := silence(replies(pings[dir].Output()), down)
			t.Logf("%s's %s down: ping %s, no reply for %v", h.name, ifname, dir, gap.Round(time.Millisecond))
			if limit := failover + 750*time.Millisecond; gap > limit {
				t.Errorf("%s's %s down: ping %s, no reply for %v, want ≤ %v", h.name, ifname, dir, gap.Round(time.Millisecond), limit)
			}
		}
		va, _ = show(a, b)
		vb, _ = show(b, a)
		t.Logf("after %s's %s went down\nztgo a: %s\nZeroTierOne b: %s", h.name, ifname, va, vb)
	}
	// a's primary link goes down: a sees its socket there go, b hears
	// nothing more on it; both move to the spare.
	cut(a, "eth1")
	// It comes back: a binds to it again at its next interface scan, on a
	// new socket, so a new path (the old socket's path left a's bond when
	// the socket closed, as it leaves 1.14.1's), and both return to the
	// primary. Both sides list the same two links again.
	lab.Must(a.ns, "ip", "link", "set", "eth1", "up")
	if !netlab.Eventually(30*time.Second, 500*time.Millisecond, func() bool { return both(2) && va.NumTotalLinks == 2 && vb.NumTotalLinks == 2 }) {
		t.Fatalf("a's eth1 back up: not bonded over both links again\nztgo a: %s\nZeroTierOne b: %s", va, vb)
	}
	back := time.Now()
	t.Logf("a's eth1 back up: bonded over both links again\nztgo a: %s\nZeroTierOne b: %s", va, vb)
	// Then b's primary link goes down, once a's new path is out of its
	// trial period.
	time.Sleep(time.Until(back.Add(15500 * time.Millisecond)))
	cut(b, "eth1")
	text, m = metrics()
	qos(m)
	t.Logf("counters (a ztgo, b ZeroTierOne):\n%s", text)
}

// TestE2EBondPoliciesInterop: the interop lab with the same bond on both
// sides, one subtest per policy other than active-backup. Outside
// active-backup, 1.14.1 keeps a path eligible after its 15 s trial only
// if the peer's QOS_MEASUREMENT reports arrive on it (within 600 s), and
// ztgo does the same: both links staying alive on both sides past the
// trial, with a ping stream a→b never silent for a second, shows each
// accepts the other's reports. Each policy's traffic, each way (during
// the trial, but for broadcast's, which cuts the links):
// balance-rr stripes one TCP transfer over both links (the sender's
// interface counters grow on both); balance-xor and balance-aware keep
// each TCP flow on one link (runs of one flow each, ≥90% of the sender's
// bytes on one link, and ztgo's bond assigns the flow to that link's
// path), ztgo's balance-xor flows of odd and even flow ID on different
// links;
// broadcast sends every frame on both links and loses at most a ping to
// a link being cut (broadcastPings).
func TestE2EBondPoliciesInterop(t *testing.T) {
	ref := referenceBin(t)
	// The subtests run side by side, each in a lab of its own: most of
	// each is the wait for the bond and its trial period. Transfers are
	// held to 100 Mbit/s, enough to tell the links apart, not to load the
	// machine.
	const rate = "100M"
	for _, c := range []struct {
		policy string
		// traffic runs once the bond has formed, in its trial period
		// (time enough for it) unless afterTrial.
		traffic    func(t *testing.T, l *linkLab)
		afterTrial bool
	}{
		{"balance-rr", func(t *testing.T, l *linkLab) {
			for _, sender := range []*site{l.a, l.b} {
				r := l.flowRun(sender, "-t", "2", "-b", rate)
				if d1, d2 := r.sent["eth1"], r.sent["eth2"]; min(d1, d2) < max(d1, d2)/4 {
					t.Errorf("balance-rr: one TCP flow from %s: %d bytes on eth1 and %d on eth2, want both links used", sender.name, d1, d2)
				}
			}
		}, false},
		{"balance-xor", func(t *testing.T, l *linkLab) {
			// Flow IDs are ports XOR protocol: four client ports in a row
			// give flows of both parities each way, new ones for b (a's
			// flows were b's too, for the ACKs).
			for i, sender := range []*site{l.a, l.b} {
				var links []string
				first := 40000 + 1000*i
				for port := first; port < first+4; port++ {
					links = append(links, l.oneFlowOneLink(t, sender, "balance-xor", 1, "-b", rate, "--cport", strconv.Itoa(port)))
				}
				t.Logf("balance-xor: %s sent the flows from client ports %d–%d on %v", sender.name, first, first+3, links)
				for j := 0; j+1 < len(links); j++ {
					// 1.14.1 put flows of both parities on one link
					// in some runs, for want of a reason found
					// (spec/multipath.md §14.6): its parity is
					// logged, not asserted.
					if links[j] == links[j+1] && sender == l.a {
						t.Errorf("balance-xor: %s sent flows of odd and even flow ID on one link: %v", sender.name, links)
					}
				}
			}
		}, false},
		{"balance-aware", func(t *testing.T, l *linkLab) {
			// Each new flow draws a link at random (equal capacities):
			// draw until both links have carried one, up to six flows.
			for _, sender := range []*site{l.a, l.b} {
				seen := map[string]bool{}
				var links []string
				for len(links) < 3 || len(seen) < 2 && len(links) < 6 {
					link := l.oneFlowOneLink(t, sender, "balance-aware", 1, "-b", rate)
					seen[link] = true
					links = append(links, link)
				}
				t.Logf("balance-aware: %s sent %d flows on %v", sender.name, len(links), links)
				if len(seen) < 2 {
					t.Errorf("balance-aware: %s sent %d new flows all on %v", sender.name, len(links), links)
				}
			}
		}, false},
		{"broadcast", func(t *testing.T, l *linkLab) { l.broadcastPings(t) }, true}, // it cuts the links
	} {
		t.Run(c.policy, func(t *testing.T) {
			t.Parallel()
			l := newLinkLab(t, `"defaultBondingPolicy":"`+c.policy+`",`, ref, "sysctl", "ping", "iperf3", "nft")
			lab, a, b := l.Lab, l.a, l.b
			pinger := lab.Start(a.ns, "ping a→b", "ping", "-D", "-n", "-i", "0.05", "-W", "1", l.ztIP["b"])
			var va, vb bondView
			both := func() bool {
				va, _ = l.bond(a, b)
				vb, _ = l.bond(b, a)
				return va.IsBonded && vb.IsBonded && va.Policy == c.policy && vb.Policy == c.policy &&
					va.NumAliveLinks == 2 && vb.NumAliveLinks == 2 && va.NumTotalLinks == 2 && vb.NumTotalLinks == 2 &&
					len(va.links()) == 2 && len(vb.links()) == 2
			}
			if !netlab.Eventually(40*time.Second, 500*time.Millisecond, both) {
				t.Fatalf("not bonded over both links on both sides\nztgo a: %s\nZeroTierOne b: %s", va, vb)
			}
			bondedAt := time.Now()
			t.Logf("bonded\nztgo a: %s\nZeroTierOne b: %s", va, vb)
			if !c.afterTrial {
				c.traffic(t, l)
			}

			// Past the trial period, the paths stay eligible on QoS
			// reports alone.
			time.Sleep(time.Until(bondedAt.Add(16500 * time.Millisecond)))
			for i := 0; i < 4; i++ {
				if !both() {
					t.Fatalf("%v after the bond formed, a link is no longer alive\nztgo a: %s\nZeroTierOne b: %s", time.Since(bondedAt).Round(time.Second), va, vb)
				}
				time.Sleep(500 * time.Millisecond)
			}
			t.Logf("%v after the bond formed, past the trial period\nztgo a: %s\nZeroTierOne b: %s", time.Since(bondedAt).Round(time.Second), va, vb)
			pinger.Stop()
			rs := replies(pinger.Output())
			if len(rs) == 0 {
				t.Fatal("no ping replies")
			}
			gap := silence(rs, rs[0])
			t.Logf("pings a→b: %d replies, longest silence %v", len(rs), gap.Round(time.Millisecond))
			if gap > time.Second {
				t.Errorf("pings a→b: no reply for %v", gap)
			}
			if c.afterTrial {
				c.traffic(t, l)
			}
		})
	}
}
